/* cmd_coordinator.c - `spillway coordinator SCENARIO --listen ADDR`: the coordinator of a real
 * deployment, with agents joining over the network. Option parsing is shared with
 * `spillway exec` (cmd_exec.c). */
#include <stdbool.h>

#include "cli/cli.h"

/* Defined in cmd_exec.c. */
int sw_exec_cli(int argc, char **argv, bool coordinator);

int sw_cmd_coordinator(int argc, char **argv)
{
    return sw_exec_cli(argc, argv, true);
}
