/* cmd_data.c - `spillway data prepare`: placeholder until the shard writer lands. */
#include <stdio.h>

#include "cli/cli.h"

int sw_cmd_data(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "spillway data: not yet\n");
    return SW_EXIT_USAGE;
}
