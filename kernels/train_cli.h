/* train_cli.h - `spillway train`: command-line front end of sw_train_run, kept in kernels/ so
 * the CLI only dispatches to it. */
#ifndef SW_TRAIN_CLI_H
#define SW_TRAIN_CLI_H

/* Runs `spillway train` with argv[0] the command name. Parses its own flags (--help lists
 * them), prints progress to stdout and errors to stderr. Returns the exit status: 0 success,
 * 1 runtime failure, 2 usage or input error (the message names the flag or file). */
int sw_train_main(int argc, char **argv);

#endif
