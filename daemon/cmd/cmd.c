#include "cmd.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The subcommand table. Add a row when adding a cmd_<name>.c. */
const vane_command_t vane_commands[] = {
    {"run", cmd_run, "run the detection daemon (Kafka -> engine + Redis state -> alerts)",
     cmd_run_usage},
    {NULL, NULL, NULL, NULL},
};

const vane_command_t *vane_command_find(const char *name)
{
    for (const vane_command_t *c = vane_commands; c->name; c++) {
        if (strcmp(c->name, name) == 0)
            return c;
    }
    return NULL;
}

int vane_command_usage_error(const char *name, const char *fmt, ...)
{
    const vane_command_t *c = vane_command_find(name);
    if (fmt) {
        fprintf(stderr, "vane %s: ", name);
        va_list ap;
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }
    if (c)
        fputs(c->usage, stderr);
    return 2;
}
