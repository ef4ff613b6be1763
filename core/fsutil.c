/* fsutil.c - mkdir -p, the umask's file mode and safe file names (see fsutil.h). */
#include "core/fsutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int sw_mkdir_p(const char *dir, mode_t mode, sw_error *err)
{
    if (!dir || !dir[0])
        return sw_errorf(err, SW_ERUNTIME, "mkdir: empty folder name");
    size_t n = strlen(dir);
    char *d = malloc(n + 1);
    if (!d)
        return sw_errorf(err, SW_ERUNTIME, "%s: out of memory", dir);
    memcpy(d, dir, n + 1);
    while (n > 1 && d[n - 1] == '/')
        d[--n] = '\0';
    int rc = SW_OK;
    /* each parent in turn: an existing one (or a race with another creator) is fine */
    for (char *p = d + 1; rc == SW_OK && *p; p++) {
        if (*p != '/' || p[-1] == '/')
            continue;
        *p = '\0';
        if (mkdir(d, 0777) != 0 && errno != EEXIST)
            rc = sw_errorf(err, SW_ERUNTIME, "%s: cannot create folder: %s", d, strerror(errno));
        else if (!is_dir(d))
            rc = sw_errorf(err, SW_ERUNTIME, "%s: exists and is not a folder", d);
        *p = '/';
    }
    if (rc == SW_OK && mkdir(d, mode) != 0) {
        if (errno != EEXIST)
            rc = sw_errorf(err, SW_ERUNTIME, "%s: cannot create folder: %s", d, strerror(errno));
        else if (!is_dir(d))
            rc = sw_errorf(err, SW_ERUNTIME, "%s: exists and is not a folder", d);
    }
    free(d);
    return rc;
}

int sw_mkdir_parent(const char *path, sw_error *err)
{
    const char *slash = path ? strrchr(path, '/') : NULL;
    if (!slash)
        return SW_OK;
    if (slash == path)
        return SW_OK; /* "/file": the root exists */
    size_t n = (size_t)(slash - path);
    char *dir = malloc(n + 1);
    if (!dir)
        return sw_errorf(err, SW_ERUNTIME, "%s: out of memory", path);
    memcpy(dir, path, n);
    dir[n] = '\0';
    int rc = sw_mkdir_p(dir, 0777, err);
    free(dir);
    return rc;
}

mode_t sw_umask_file_mode(void)
{
    /* Linux shows the umask without changing it; elsewhere set and restore it (not
     * thread-safe, but only a fallback). */
    mode_t mask = 022;
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    bool found = false;
    while (f && fgets(line, sizeof line, f)) {
        unsigned m;
        if (sscanf(line, "Umask: %o", &m) == 1) {
            mask = (mode_t)m;
            found = true;
            break;
        }
    }
    if (f)
        fclose(f);
    if (!found) {
        mask = umask(022);
        umask(mask);
    }
    return 0666 & ~mask;
}

bool sw_safe_file_name(const char *name)
{
    if (!name)
        return false;
    size_t n = strlen(name);
    if (n == 0 || n > 200 || name[0] == '.' || name[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.' || c == '+';
        if (!ok)
            return false;
    }
    return true;
}

int sw_read_text_file(const char *path, const char *what, char **out, sw_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return sw_errorf(err, SW_EINPUT, "%s: cannot open %s: %s", path, what, strerror(errno));
    size_t len = 0, cap = 4096;
    char *text = malloc(cap);
    while (text) {
        len += fread(text + len, 1, cap - len - 1, f);
        if (len < cap - 1)
            break;
        char *t = realloc(text, cap * 2);
        if (!t) {
            free(text);
            text = NULL;
            break;
        }
        text = t;
        cap *= 2;
    }
    int read_error = ferror(f);
    fclose(f);
    if (!text)
        return sw_errorf(err, SW_ERUNTIME, "%s: out of memory", path);
    if (read_error) {
        free(text);
        return sw_errorf(err, SW_EINPUT, "%s: cannot read %s", path, what);
    }
    text[len] = '\0';
    if (strlen(text) != len) {
        free(text);
        return sw_errorf(err, SW_EINPUT, "%s: contains a NUL byte, expected %s text", path, what);
    }
    *out = text;
    return SW_OK;
}
