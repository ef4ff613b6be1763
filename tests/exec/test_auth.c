/* test_auth.c - CURVE key files: what keygen writes, and the loaders' refusals (naming the
 * file and line). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec/auth.h"

static void fresh_dir(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "/tmp/sw-auth-test-%d-%s", (int)getpid(), name);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", buf);
    cr_assert_eq(system(cmd), 0);
}

Test(keys, generate_writes_a_private_secret_and_a_public_key)
{
    char dir[512], path[700];
    fresh_dir(dir, sizeof dir, "gen");
    sw_keypair kp, back;
    sw_error err;
    cr_assert_eq(sw_keys_generate(dir, "agent", &kp, &err), SW_OK, "%s", err.msg);
    struct stat st;
    snprintf(path, sizeof path, "%s/agent.key", dir);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(sw_keys_load_pair(path, &back, &err), SW_OK, "%s", err.msg);
    cr_assert_str_eq(back.pub, kp.pub);
    cr_assert_str_eq(back.sec, kp.sec);
    char pub[SW_KEY_Z85];
    snprintf(path, sizeof path, "%s/agent.pub", dir);
    cr_assert_eq(sw_keys_load_pub(path, pub, &err), SW_OK, "%s", err.msg);
    cr_assert_str_eq(pub, kp.pub);
    cr_assert_eq(stat(dir, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700);
}

Test(keys, loaders_refuse_bad_files_naming_them)
{
    char dir[512], path[700];
    fresh_dir(dir, sizeof dir, "bad");
    sw_keypair kp;
    sw_error err;
    cr_assert_eq(sw_keys_generate(dir, "c", &kp, &err), SW_OK, "%s", err.msg);
    snprintf(path, sizeof path, "%s/c.key", dir);
    chmod(path, 0644); /* a secret readable by others */
    cr_assert_eq(sw_keys_load_pair(path, &kp, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, path) && strstr(err.msg, "readable by others"), "%s", err.msg);
    /* a malformed key line: named with its line number */
    FILE *f = fopen(path, "w");
    fprintf(f, "# comment\npublic = short\n");
    fclose(f);
    chmod(path, 0600);
    cr_assert_eq(sw_keys_load_pair(path, &kp, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, ":2:"), "%s", err.msg);
    snprintf(path, sizeof path, "%s/c.pub", dir);
    f = fopen(path, "w");
    fprintf(f, "not a key\n");
    fclose(f);
    char pub[SW_KEY_Z85];
    cr_assert_eq(sw_keys_load_pub(path, pub, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "c.pub:1:"), "%s", err.msg);
    /* the allow list folder must exist */
    char(*keys)[SW_KEY_Z85];
    size_t n;
    cr_assert_eq(sw_keys_load_authorized(dir, &keys, &n, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "authorized"), "%s", err.msg);
}

Test(keys, allow_list_reads_every_pub_file)
{
    char dir[512], auth[700];
    fresh_dir(dir, sizeof dir, "allow");
    snprintf(auth, sizeof auth, "%s/authorized", dir);
    sw_keypair a, b;
    sw_error err;
    cr_assert_eq(sw_keys_generate(auth, "a", &a, &err), SW_OK);
    cr_assert_eq(sw_keys_generate(auth, "b", &b, &err), SW_OK);
    char(*keys)[SW_KEY_Z85];
    size_t n;
    cr_assert_eq(sw_keys_load_authorized(dir, &keys, &n, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(n, 2); /* the .key files are not public keys and are skipped */
    bool got_a = false, got_b = false;
    for (size_t i = 0; i < n; i++) {
        got_a |= !strcmp(keys[i], a.pub);
        got_b |= !strcmp(keys[i], b.pub);
    }
    free(keys);
    cr_assert(got_a && got_b);
}
