/* cli.h - subcommands of the `spillway` executable. Each takes (argc, argv) with argv[0] the
 * command name and returns the process exit status: 0 ok, 1 runtime failure, 2 usage/input. */
#ifndef SW_CLI_H
#define SW_CLI_H

enum { SW_EXIT_OK = 0, SW_EXIT_RUNTIME = 1, SW_EXIT_USAGE = 2 };

typedef struct sw_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} sw_command;

int sw_cmd_windows(int argc, char **argv);
int sw_cmd_sim(int argc, char **argv);
int sw_cmd_summary(int argc, char **argv);
int sw_cmd_calibrate(int argc, char **argv);
int sw_cmd_exec(int argc, char **argv);
int sw_cmd_coordinator(int argc, char **argv);
int sw_cmd_agent(int argc, char **argv);
int sw_cmd_keygen(int argc, char **argv);
int sw_cmd_sweep(int argc, char **argv);
int sw_cmd_tokenizer(int argc, char **argv);
int sw_cmd_data(int argc, char **argv);
int sw_cmd_optimum(int argc, char **argv);

#endif
