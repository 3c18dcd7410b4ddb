/* cmd.h - vane's subcommands.
 *
 * Each subcommand is one cmd_<name>.c exporting `int cmd_<name>(int argc, char **argv)`
 * (argv[0] is the subcommand name) and a usage text. Exit codes: 0 success, 1 failure at
 * run time, 2 bad usage (the command prints its usage to stderr). The table that maps names
 * to functions is vane_commands[] in cmd.c; `vane help NAME` prints the usage.
 */
#ifndef VANE_CMD_H
#define VANE_CMD_H

typedef struct vane_command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary; /* one line for `vane help` */
    const char *usage;   /* full usage text for `vane help NAME` and bad arguments */
} vane_command_t;

extern const vane_command_t vane_commands[]; /* terminated by a {NULL} row */

/* Find a command by name; NULL when unknown. */
const vane_command_t *vane_command_find(const char *name);
/* Print cmd's usage to stderr and return 2 (the bad-usage exit code). */
int vane_command_usage_error(const char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define VANE_CMD_DECLARE(name)                                                                     \
    int cmd_##name(int argc, char **argv);                                                         \
    extern const char cmd_##name##_usage[]

VANE_CMD_DECLARE(run);
VANE_CMD_DECLARE(broker);
VANE_CMD_DECLARE(gen);
VANE_CMD_DECLARE(tail);
VANE_CMD_DECLARE(replay);
VANE_CMD_DECLARE(rules);
VANE_CMD_DECLARE(import);
VANE_CMD_DECLARE(state);

#endif
