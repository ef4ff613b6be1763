/* main.c - the `spillway` command: dispatches to one subcommand per file (cmd_*.c). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "kernels/train_cli.h"

static const sw_command commands[] = {
    {"agent", "run a site agent that joins a coordinator", sw_cmd_agent},
    {"calibrate", "fit the convergence model to loss logs", sw_cmd_calibrate},
    {"coordinator", "run the coordinator of a real deployment", sw_cmd_coordinator},
    {"exec", "run a scenario for real: coordinator and local site agents", sw_cmd_exec},
    {"keygen", "write a CURVE key pair for coordinator or agent", sw_cmd_keygen},
    {"optimum", "the least-carbon schedule of a scenario and each policy's gap to it",
     sw_cmd_optimum},
    {"sim", "simulate a scenario on SimGrid and write an HDF5 report", sw_cmd_sim},
    {"summary", "print the figures of reports side by side", sw_cmd_summary},
    {"sweep", "run a parameter sweep locally or on Slurm, one table", sw_cmd_sweep},
    {"train", "train a model on one site (CPU), with checkpoints", sw_train_main},
    {"windows", "print the curtailment windows of a trace", sw_cmd_windows},
    {"tokenizer", "train, apply or inspect a BPE tokenizer", sw_cmd_tokenizer},
    {"data", "tokenize text into shard files with a manifest", sw_cmd_data},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: spillway [--help] [--version] COMMAND [ARGS...]\n\n"
                 "Pretrain language models inside renewable-curtailment windows.\n\n"
                 "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`spillway COMMAND --help` describes a command. Exit status: 0 success,\n"
                 "1 runtime failure, 2 usage or input error.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return SW_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("spillway %s\n", SW_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "spillway: unknown command '%s' (try spillway --help)\n", argv[1]);
    return SW_EXIT_USAGE;
}
