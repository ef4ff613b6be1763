/* cmd_windows.c - `spillway windows TRACE`: curtailment windows of each region. */
#include <stdio.h>

#include "cli/cli.h"

int sw_cmd_windows(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "spillway windows: not built yet\n");
    return SW_EXIT_RUNTIME;
}
