#include "cmd.h"

#include <stdio.h>

const char cmd_run_usage[] =
    "usage: vane run [--brokers B] [--redis URL] [--group G] [--config FILE]\n";

int cmd_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "vane run: not built yet\n");
    return 1;
}
