/* cmd_agent.c - `spillway agent --coordinator ADDR --site NAME`: one site of a deployment
 * (also what `spillway exec` starts for each local site). */
#include <stdio.h>

#include "cli/cli.h"
#include "exec/agent.h"

int sw_cmd_agent(int argc, char **argv)
{
    sw_agent_options o;
    sw_error err;
    int help;
    if (sw_agent_parse_args(argc, argv, &o, &help, &err) != SW_OK) {
        fprintf(stderr, "spillway agent: %s\n", err.msg);
        return SW_EXIT_USAGE;
    }
    if (help) {
        sw_agent_usage(stdout);
        return SW_EXIT_OK;
    }
    int rc = sw_agent_run(&o, &err);
    if (rc != SW_OK) {
        fprintf(stderr, "spillway agent: %s\n", err.msg);
        return rc == SW_EINPUT ? SW_EXIT_USAGE : SW_EXIT_RUNTIME;
    }
    return SW_EXIT_OK;
}
