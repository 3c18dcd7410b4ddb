#include "cmd.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The subcommand table. Add a row when adding a cmd_<name>.c. */
const vane_command_t vane_commands[] = {
    {"run", cmd_run, "run the detection daemon (Kafka -> engine + Redis state -> alerts)",
     cmd_run_usage},
    {"broker", cmd_broker, "run a development Kafka broker (librdkafka mock; not for production)",
     cmd_broker_usage},
    {"gen", cmd_gen,
     "generate seeded synthetic bank events (with planted behaviours) to Kafka/file",
     cmd_gen_usage},
    {"tail", cmd_tail, "follow the alert topic, one readable line per alert", cmd_tail_usage},
    {"replay", cmd_replay, "run recorded events through the engine, alerts to stdout (backtest)",
     cmd_replay_usage},
    {"rules", cmd_rules, "check rules files, or test them against fixture directories",
     cmd_rules_usage},
    {"state", cmd_state, "print a customer's stored state (for investigating an alert)",
     cmd_state_usage},
    {"import", cmd_import, "convert a real public dataset (berka, bpic2012) to vane events",
     cmd_import_usage},
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
