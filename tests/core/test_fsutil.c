/* test_fsutil.c - the one mkdir -p (core/fsutil.h), the umask's file mode and safe file names.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsutil.h"

static void fresh(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "/tmp/sw-fsutil-test-%d-%s", (int)getpid(), name);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", buf);
    cr_assert_eq(system(cmd), 0);
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

Test(fsutil, mkdir_p_makes_parents_and_accepts_existing_folders)
{
    char root[300], deep[600], quote[700];
    fresh(root, sizeof root, "mk");
    snprintf(deep, sizeof deep, "%s/a//b/c/", root);
    sw_error err;
    mode_t old = umask(022);
    cr_assert_eq(sw_mkdir_p(deep, 0700, &err), SW_OK, "%s", err.msg);
    umask(old);
    snprintf(deep, sizeof deep, "%s/a/b/c", root);
    cr_assert(is_dir(deep));
    struct stat st;
    cr_assert_eq(stat(deep, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700, "the folder itself gets the mode asked for");
    snprintf(quote, sizeof quote, "%s/a", root);
    cr_assert_eq(stat(quote, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0755, "parents: 0777 under umask 022");
    cr_assert_eq(sw_mkdir_p(deep, 0700, &err), SW_OK, "an existing folder is fine");
    /* a quote in the path (system("mkdir -p '...'") broke on it) */
    snprintf(quote, sizeof quote, "%s/it's here", root);
    cr_assert_eq(sw_mkdir_p(quote, 0755, &err), SW_OK, "%s", err.msg);
    cr_assert(is_dir(quote));
    /* a file in the way */
    char file[700], below[800];
    snprintf(file, sizeof file, "%s/file", root);
    FILE *f = fopen(file, "w");
    fclose(f);
    snprintf(below, sizeof below, "%s/x", file);
    cr_assert_eq(sw_mkdir_p(file, 0755, &err), SW_ERUNTIME);
    cr_assert(strstr(err.msg, "not a folder"), "%s", err.msg);
    cr_assert_eq(sw_mkdir_p(below, 0755, &err), SW_ERUNTIME);
    cr_assert(strstr(err.msg, file), "%s", err.msg);
    /* the parent of a path */
    snprintf(below, sizeof below, "%s/p/q/report.h5", root);
    cr_assert_eq(sw_mkdir_parent(below, &err), SW_OK, "%s", err.msg);
    snprintf(below, sizeof below, "%s/p/q", root);
    cr_assert(is_dir(below));
    cr_assert_eq(sw_mkdir_parent("bare.h5", &err), SW_OK);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    cr_assert_eq(system(cmd), 0);
}

Test(fsutil, file_mode_follows_the_umask)
{
    mode_t old = umask(022);
    cr_assert_eq(sw_umask_file_mode(), 0644);
    umask(077);
    cr_assert_eq(sw_umask_file_mode(), 0600);
    umask(002);
    cr_assert_eq(sw_umask_file_mode(), 0664);
    umask(old);
}

Test(fsutil, safe_file_names)
{
    const char *ok[] = {"paper", "scale-100x1year", "a.b+c_d", "1e3", "x-"};
    const char *bad[] = {NULL,      "",    ".",   "..",   "../x",  "a/b",
                         ".hidden", "-rf", "a b", "a\\b", "tab\t", "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        cr_assert(sw_safe_file_name(ok[i]), "%s", ok[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_not(sw_safe_file_name(bad[i]), "%s", bad[i] ? bad[i] : "NULL");
    char longest[202];
    memset(longest, 'a', 201);
    longest[201] = '\0';
    cr_assert_not(sw_safe_file_name(longest));
    longest[200] = '\0';
    cr_assert(sw_safe_file_name(longest));
}
