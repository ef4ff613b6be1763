/* test_auth.c - CURVE key files: what keygen writes, and the loaders' refusals (naming the
 * file and line). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

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
    /* a secret owned by another user (checkable as root only: others cannot chown) */
    chmod(path, 0600);
    if (geteuid() == 0 && chown(path, 4321, (gid_t)-1) == 0) {
        cr_assert_eq(sw_keys_load_pair(path, &kp, &err), SW_EINPUT);
        cr_assert(strstr(err.msg, "owned by uid 4321"), "%s", err.msg);
        cr_assert_eq(chown(path, 0, (gid_t)-1), 0);
    }
    /* two public lines, and the in-memory parser */
    const char *two = "public = rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\n"
                      "public = rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\n";
    cr_assert_eq(sw_keys_parse_pair(two, strlen(two), "t.key", &kp, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "t.key:2: a second 'public' line"), "%s", err.msg);
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
    sw_allow *allow = (sw_allow *)1;
    cr_assert_eq(sw_allow_load_dir(dir, &allow, &err), SW_EINPUT);
    cr_assert_null(allow);
    cr_assert(strstr(err.msg, "authorized"), "%s", err.msg);
}

Test(keys, write_refuses_to_overwrite_unless_asked)
{
    char dir[512], path[700];
    fresh_dir(dir, sizeof dir, "over");
    sw_keypair first, again;
    sw_error err;
    cr_assert_eq(sw_keys_write(dir, "agent", false, &first, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(sw_keys_write(dir, "agent", false, &again, &err), SW_EINPUT);
    snprintf(path, sizeof path, "%s/agent.key", dir);
    cr_assert(strstr(err.msg, path) && strstr(err.msg, "refusing to overwrite"), "%s", err.msg);
    sw_keypair back;
    cr_assert_eq(sw_keys_load_pair(path, &back, &err), SW_OK, "%s", err.msg);
    cr_assert_str_eq(back.sec, first.sec, "the secret key is untouched");
    /* a lone .pub also blocks, so a pair is never half replaced */
    unlink(path);
    cr_assert_eq(sw_keys_write(dir, "agent", false, &again, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "agent.pub"), "%s", err.msg);
    cr_assert_eq(sw_keys_write(dir, "agent", true, &again, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(sw_keys_load_pair(path, &back, &err), SW_OK, "%s", err.msg);
    cr_assert_str_eq(back.sec, again.sec);
    cr_assert_str_neq(again.sec, first.sec);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

Test(allow, file_name_or_sites_line_gives_the_sites_of_a_key)
{
    char dir[512], auth[700], path[800], text[400];
    fresh_dir(dir, sizeof dir, "allow");
    snprintf(auth, sizeof auth, "%s/authorized", dir);
    sw_keypair a, b, c;
    sw_error err;
    cr_assert_eq(sw_keys_generate(auth, "texas", &a, &err), SW_OK); /* texas.pub: site texas */
    cr_assert_eq(sw_keys_generate(auth, "ops", &b, &err), SW_OK);
    snprintf(path, sizeof path, "%s/ops.pub", auth);
    snprintf(text, sizeof text, "# the operations team\n%s\nsites = ohio, iowa\n", b.pub);
    write_text(path, text);
    c = a; /* a's key again in a second file: it may act as both */
    snprintf(path, sizeof path, "%s/spare.pub", auth);
    snprintf(text, sizeof text, "%s\r\n  sites=spare  \r\n", c.pub);
    write_text(path, text);
    sw_allow *al = NULL;
    cr_assert_eq(sw_allow_load_dir(dir, &al, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(sw_allow_count(al), 2, "the .key files are skipped; a repeated key merges");
    cr_assert(sw_allow_permits(al, a.pub, "texas"));
    cr_assert(sw_allow_permits(al, a.pub, "spare"));
    cr_assert_not(sw_allow_permits(al, a.pub, "ohio"));
    cr_assert(sw_allow_permits(al, b.pub, "ohio") && sw_allow_permits(al, b.pub, "iowa"));
    cr_assert_not(sw_allow_permits(al, b.pub, "ops"), "a sites line replaces the file name");
    cr_assert_not(sw_allow_permits(al, b.pub, "texas"));
    char sites[64];
    sw_allow_sites_of(al, b.pub, sites, sizeof sites);
    cr_assert_str_eq(sites, "ohio, iowa");
    sw_allow_destroy(al);
}

/* Parses text as NAME.pub, expecting SW_EINPUT with `what` in the message. */
static void parse_bad(const char *text, const char *stem, const char *what)
{
    sw_allow *al = sw_allow_create();
    sw_error err;
    cr_assert_eq(sw_allow_parse(al, text, strlen(text), "x.pub", stem, &err), SW_EINPUT, "%s",
                 text);
    cr_assert(strstr(err.msg, what), "'%s' should contain '%s'", err.msg, what);
    cr_assert_eq(sw_allow_count(al), 0, "nothing added from a bad file");
    sw_allow_destroy(al);
}

Test(allow, bad_files_are_refused_naming_file_and_line)
{
    const char *k = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    char text[300];
    parse_bad("", "a", "x.pub: no key");
    parse_bad("# only a comment\n", "a", "no key");
    parse_bad("short\n", "a", "x.pub:1: 'short' is neither a key");
    snprintf(text, sizeof text, "%s\n%s\n", k, k);
    parse_bad(text, "a", "x.pub:2: a second key");
    snprintf(text, sizeof text, "%s\nsites = a\nsites = b\n", k);
    parse_bad(text, "a", "x.pub:3: a second 'sites' line");
    snprintf(text, sizeof text, "%s\nsites = a, , b\n", k);
    parse_bad(text, "a", "x.pub:2: sites: '' is not a site name");
    snprintf(text, sizeof text, "%s\nsites = a b\n", k);
    parse_bad(text, "a", "'a b' is not a site name");
    snprintf(text, sizeof text, "%s\nsites =\n", k);
    parse_bad(text, "a", "x.pub:2: sites:");
    snprintf(text, sizeof text, "%s\n", k);
    parse_bad(text, "bad name", "the file name is not a site name");
    char nul[48];
    memcpy(nul, k, 40);
    nul[40] = '\0';
    sw_allow *al = sw_allow_create();
    sw_error err;
    cr_assert_eq(sw_allow_parse(al, nul, 41, "x.pub", "a", &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "NUL"), "%s", err.msg);
    cr_assert_eq(sw_allow_add(al, "nope", "a", &err), SW_EINPUT);
    cr_assert_eq(sw_allow_add(al, k, "", &err), SW_EINPUT);
    cr_assert_eq(sw_allow_add(al, k, "a", &err), SW_OK, "%s", err.msg);
    cr_assert(sw_allow_permits(al, k, "a"));
    cr_assert_not(sw_allow_permits(al, k, NULL));
    cr_assert_not(sw_allow_permits(al, NULL, "a"));
    sw_allow_destroy(al);
}

Test(allow, an_empty_folder_is_an_error)
{
    char dir[512], auth[700], cmd[1600];
    fresh_dir(dir, sizeof dir, "empty");
    snprintf(auth, sizeof auth, "%s/authorized", dir);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", auth);
    cr_assert_eq(system(cmd), 0);
    sw_allow *al;
    sw_error err;
    cr_assert_eq(sw_allow_load_dir(dir, &al, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "no NAME.pub files"), "%s", err.msg);
}

Test(transport, loopback_endpoints_are_local)
{
    const char *local[] = {NULL,
                           "tcp://127.0.0.1:5555",
                           "tcp://127.0.0.1:*",
                           "tcp://127.1.2.3:1",
                           "tcp://localhost:5555",
                           "tcp://[::1]:5555",
                           "ipc:///tmp/x.sock",
                           "inproc://x"};
    const char *remote[] = {"tcp://0.0.0.0:5555",
                            "tcp://*:5555",
                            "tcp://eth0:5555",
                            "tcp://10.0.0.1:5555",
                            "tcp://127.0.0.1.example.org:1",
                            "tcp://[::]:5555",
                            "tcp://127.0.0.1;10.0.0.1:5",
                            "tcp://1270.0.0.1:5",
                            "pgm://eth0;239.1.1.1:5555",
                            "tcp://127.0.0:5"};
    for (size_t i = 0; i < sizeof local / sizeof *local; i++)
        cr_assert(sw_endpoint_is_local(local[i]), "%s", local[i] ? local[i] : "NULL");
    for (size_t i = 0; i < sizeof remote / sizeof *remote; i++)
        cr_assert_not(sw_endpoint_is_local(remote[i]), "%s", remote[i]);
}

Test(transport, plaintext_on_a_public_address_needs_insecure_and_warns)
{
    sw_error err;
    char buf[1024] = "";
    FILE *log = fmemopen(buf, sizeof buf, "w");
    cr_assert_eq(sw_transport_check("tcp://0.0.0.0:5555", false, false, log, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "--listen tcp://0.0.0.0:5555") && strstr(err.msg, "--insecure"), "%s",
              err.msg);
    cr_assert_eq(sw_transport_check("tcp://0.0.0.0:5555", true, false, log, &err), SW_OK);
    cr_assert_eq(sw_transport_check("tcp://127.0.0.1:5555", false, false, log, &err), SW_OK);
    fflush(log);
    cr_assert_str_eq(buf, "", "no warning with CURVE or on loopback");
    cr_assert_eq(sw_transport_check("tcp://0.0.0.0:5555", false, true, log, &err), SW_OK);
    fclose(log);
    cr_assert(strstr(buf, "WARNING: --insecure") && strstr(buf, "tcp://0.0.0.0:5555"), "%s", buf);
}

Test(zap, may_act_only_as_the_sites_of_the_key)
{
    void *ctx = zmq_ctx_new();
    const char *k = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    sw_allow *al = sw_allow_create();
    sw_error err;
    cr_assert_eq(sw_allow_add(al, k, "a", &err), SW_OK);
    sw_zap *z = NULL;
    cr_assert_eq(sw_zap_start(ctx, al, NULL, &z, &err), SW_OK, "%s", err.msg);
    char why[300];
    cr_assert(sw_zap_may_act(z, k, "a", why, sizeof why));
    cr_assert_not(sw_zap_may_act(z, k, "b", why, sizeof why));
    cr_assert(strstr(why, "may act as a, not as 'b'"), "%s", why);
    cr_assert_not(sw_zap_may_act(z, NULL, "a", why, sizeof why));
    cr_assert(strstr(why, "no authenticated key"), "%s", why);
    cr_assert(sw_zap_may_act(NULL, NULL, "b", why, sizeof why), "no CURVE: nothing to check");
    sw_zap_stop(z);
    zmq_ctx_term(ctx);
}
