/* main.c - the `vane` binary: a table of subcommands (daemon/cmd/cmd.c). Bad arguments print
 * usage and exit 2. */
#include "cmd/cmd.h"

#include <stdio.h>
#include <string.h>

static void print_overview(FILE *out)
{
    fprintf(out, "usage: vane COMMAND [OPTIONS]\n"
                 "       vane help COMMAND | vane --version\n\n"
                 "vane: streaming behaviour detection for retail banks.\n\ncommands:\n");
    for (const vane_command_t *c = vane_commands; c->name; c++)
        fprintf(out, "  %-8s %s\n", c->name, c->summary);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_overview(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("vane %s (commit %s)\n", VANE_VERSION, VANE_GIT_COMMIT);
        return 0;
    }
    if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        if (argc < 3) {
            print_overview(stdout);
            return 0;
        }
        const vane_command_t *c = vane_command_find(argv[2]);
        if (!c) {
            fprintf(stderr, "vane: unknown command '%s'\n", argv[2]);
            print_overview(stderr);
            return 2;
        }
        fputs(c->usage, stdout);
        return 0;
    }
    const vane_command_t *c = vane_command_find(name);
    if (!c) {
        fprintf(stderr, "vane: unknown command '%s'\n", name);
        print_overview(stderr);
        return 2;
    }
    return c->fn(argc - 1, argv + 1);
}
