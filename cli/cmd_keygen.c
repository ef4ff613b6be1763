/* cmd_keygen.c - `spillway keygen -o DIR [--name NAME] [--force]`: a CURVE keypair for a
 * coordinator or an agent (NAME.key, mode 0600, and NAME.pub). Existing keys are kept unless
 * --force: agents on an allow list would lose access. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/fsutil.h"
#include "exec/auth.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: spillway keygen -o DIR [--name NAME] [--force]\n\n"
                 "Writes a CURVE keypair: DIR/NAME.key (both keys, mode 0600) and DIR/NAME.pub.\n"
                 "NAME is `coordinator` for the coordinator and `agent` for an agent (default\n"
                 "agent). Copy agents' .pub files into the coordinator's DIR/authorized/ and the\n"
                 "coordinator's coordinator.pub beside each agent's agent.key (docs/exec.md).\n\n"
                 "  -o DIR       folder for the key files (created, mode 0700)\n"
                 "  --name NAME  file name stem (default agent)\n"
                 "  --force      replace an existing NAME.key / NAME.pub (refused otherwise)\n");
}

int sw_cmd_keygen(int argc, char **argv)
{
    const char *dir = NULL, *name = "agent";
    bool force = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return SW_EXIT_OK;
        }
        if (!strcmp(argv[i], "--force")) {
            force = true;
            continue;
        }
        if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--name")) {
            if (i + 1 >= argc || !argv[i + 1][0]) {
                fprintf(stderr, "spillway keygen: %s: expected a value\n", argv[i]);
                return SW_EXIT_USAGE;
            }
            if (!strcmp(argv[i], "-o"))
                dir = argv[++i];
            else
                name = argv[++i];
            continue;
        }
        fprintf(stderr, "spillway keygen: %s: unknown argument (try --help)\n", argv[i]);
        return SW_EXIT_USAGE;
    }
    if (!dir) {
        fprintf(stderr, "spillway keygen: -o: required\n");
        return SW_EXIT_USAGE;
    }
    if (!sw_safe_file_name(name)) {
        fprintf(stderr,
                "spillway keygen: --name: '%s', expected a file name stem (letters, digits, "
                "'_', '-', '.', '+'; no '/')\n",
                name);
        return SW_EXIT_USAGE;
    }
    sw_keypair kp;
    sw_error err;
    int rc = sw_keys_write(dir, name, force, &kp, &err);
    if (rc != SW_OK) {
        fprintf(stderr, "spillway keygen: %s\n", err.msg);
        return rc == SW_EINPUT ? SW_EXIT_USAGE : SW_EXIT_RUNTIME;
    }
    printf("%s/%s.key (secret, 0600)\n%s/%s.pub: %s\n", dir, name, dir, name, kp.pub);
    return SW_EXIT_OK;
}
