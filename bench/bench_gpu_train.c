/* bench_gpu_train.c - `spillway train` without the rest of spillway: the kernels library's
 * sw_train_main, for bench/gpu_check.sh's kernels-only build on the GPU machine (which lacks
 * the libraries the full `spillway` executable links). Usage: spillway_train train ARGS. */
#include <stdio.h>
#include <string.h>

#include "kernels/train_cli.h"

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "train") != 0) {
        fprintf(stderr, "usage: %s train [spillway train options]\n", argv[0]);
        return 2;
    }
    return sw_train_main(argc - 1, argv + 1);
}
