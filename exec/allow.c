/* allow.c - the allow list of agent keys and the sites each may act as (see allow.h). A list
 * holds a handful of keys, so lookups are linear scans. */
#include "exec/allow.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "exec/fmt.h"

typedef struct entry {
    char key[41];
    char **sites;
    size_t n_sites, cap_sites;
} entry;

struct sw_allow {
    entry *e;
    size_t n, cap;
};

sw_allow *sw_allow_create(void)
{
    return calloc(1, sizeof(sw_allow));
}

void sw_allow_destroy(sw_allow *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++) {
        for (size_t k = 0; k < a->e[i].n_sites; k++)
            free(a->e[i].sites[k]);
        free(a->e[i].sites);
    }
    free(a->e);
    free(a);
}

static bool z85_key(const char *s, size_t len)
{
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   ".-:+=^!/*?&<>()[]{}@%$#";
    if (len != 40)
        return false;
    for (size_t i = 0; i < 40; i++)
        if (!s[i] || !strchr(alphabet, s[i]))
            return false;
    return true;
}

bool sw_allow_site_name_ok(const char *s, size_t len)
{
    if (!s || len == 0 || len > SW_ALLOW_SITE_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] <= ' ' || s[i] > '~' || s[i] == ',')
            return false;
    return true;
}

static entry *find(const sw_allow *a, const char *key)
{
    for (size_t i = 0; a && key && i < a->n; i++)
        if (!strcmp(a->e[i].key, key))
            return &a->e[i];
    return NULL;
}

static bool has_site(const entry *e, const char *site, size_t len)
{
    for (size_t k = 0; k < e->n_sites; k++)
        if (strlen(e->sites[k]) == len && !memcmp(e->sites[k], site, len))
            return true;
    return false;
}

/* Adds site[0..len) to key's entry (creating it); both already validated. -1 when out of
 * memory. */
static int add(sw_allow *a, const char *key, const char *site, size_t len)
{
    entry *e = find(a, key);
    if (!e) {
        if (a->n == a->cap) {
            size_t cap = a->cap ? 2 * a->cap : 8;
            entry *ne = realloc(a->e, cap * sizeof *ne);
            if (!ne)
                return -1;
            a->e = ne;
            a->cap = cap;
        }
        e = &a->e[a->n++];
        memset(e, 0, sizeof *e);
        memcpy(e->key, key, 40);
        e->key[40] = '\0';
    }
    if (has_site(e, site, len))
        return 0;
    if (e->n_sites == e->cap_sites) {
        size_t cap = e->cap_sites ? 2 * e->cap_sites : 4;
        char **ns = realloc(e->sites, cap * sizeof *ns);
        if (!ns)
            return -1;
        e->sites = ns;
        e->cap_sites = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, site, len);
    copy[len] = '\0';
    e->sites[e->n_sites++] = copy;
    return 0;
}

int sw_allow_add(sw_allow *a, const char *key, const char *site, sw_error *err)
{
    if (!a || !key || !z85_key(key, strlen(key)))
        return sw_errorf(err, SW_EINPUT, "allow list: key '%.48s', expected 40 Z85 characters",
                         key ? key : "(null)");
    if (!site || !sw_allow_site_name_ok(site, strlen(site)))
        return sw_errorf(err, SW_EINPUT,
                         "allow list: site '%.80s', expected 1 to %d printable characters "
                         "without spaces or commas",
                         site ? site : "(null)", SW_ALLOW_SITE_MAX);
    return add(a, key, site, strlen(site)) == 0
               ? SW_OK
               : sw_errorf(err, SW_ERUNTIME, "allow list: out of memory");
}

static bool blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return false;
    return true;
}

/* [s, s+len) without surrounding spaces and tabs. */
static void trim(const char **s, size_t *len)
{
    while (*len && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*len)--;
    }
    while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
        (*len)--;
}

/* Site names of a `sites =` value, validated; *n_out of them at names/lens (at most cap). */
static int split_sites(const char *v, size_t len, const char *path, size_t line, const char **names,
                       size_t *lens, size_t cap, size_t *n_out, sw_error *err)
{
    size_t n = 0;
    const char *p = v, *end = v + len;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *s = p;
        size_t sl = (size_t)((comma ? comma : end) - p);
        trim(&s, &sl);
        if (!sw_allow_site_name_ok(s, sl))
            return sw_errorf(err, SW_EINPUT,
                             "%s:%zu: sites: '%.*s' is not a site name, expected names of 1 to "
                             "%d printable characters without spaces, separated by commas",
                             path, line, (int)(sl > 64 ? 64 : sl), s, SW_ALLOW_SITE_MAX);
        if (n == cap)
            return sw_errorf(err, SW_EINPUT, "%s:%zu: sites: more than %zu names, expected fewer",
                             path, line, cap);
        names[n] = s;
        lens[n] = sl;
        n++;
        if (!comma)
            break;
        p = comma + 1;
    }
    *n_out = n;
    return SW_OK;
}

#define SITES_PER_FILE 256

int sw_allow_parse(sw_allow *a, const char *text, size_t len, const char *path, const char *stem,
                   sw_error *err)
{
    if (!a || (!text && len))
        return sw_errorf(err, SW_EINPUT, "allow list: no list or no text");
    path = path ? path : "<allow list>";
    if (len > SW_ALLOW_FILE_MAX)
        return sw_errorf(err, SW_EINPUT, "%s: %zu bytes, expected at most %d", path, len,
                         SW_ALLOW_FILE_MAX);
    if (memchr(text, '\0', len))
        return sw_errorf(err, SW_EINPUT, "%s: a NUL byte, expected a text file", path);
    char key[41] = "";
    size_t key_line = 0, sites_line = 0, n_sites = 0;
    const char *names[SITES_PER_FILE];
    size_t lens[SITES_PER_FILE];
    const char *p = text, *end = text + len;
    for (size_t line = 1; p < end; line++) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *s = p;
        size_t sl = (size_t)((eol ? eol : end) - p);
        p = eol ? eol + 1 : end;
        if (sl && s[sl - 1] == '\r')
            sl--;
        trim(&s, &sl);
        if (blank(s, sl) || s[0] == '#')
            continue;
        const char *v = s + 5;
        size_t vl = sl > 5 ? sl - 5 : 0;
        trim(&v, &vl);
        if (sl > 5 && !memcmp(s, "sites", 5) && vl && v[0] == '=') {
            v++;
            vl--;
            trim(&v, &vl);
            if (sites_line)
                return sw_errorf(err, SW_EINPUT,
                                 "%s:%zu: a second 'sites' line (first on line %zu), expected one",
                                 path, line, sites_line);
            int rc = split_sites(v, vl, path, line, names, lens, SITES_PER_FILE, &n_sites, err);
            if (rc != SW_OK)
                return rc;
            sites_line = line;
            continue;
        }
        if (z85_key(s, sl)) {
            if (key_line)
                return sw_errorf(err, SW_EINPUT,
                                 "%s:%zu: a second key (first on line %zu), expected one key per "
                                 "file",
                                 path, line, key_line);
            memcpy(key, s, 40);
            key_line = line;
            continue;
        }
        return sw_errorf(err, SW_EINPUT,
                         "%s:%zu: '%.*s' is neither a key nor a 'sites =' line, expected a "
                         "40-character Z85 public key and optionally 'sites = NAME[, NAME...]'",
                         path, line, (int)(sl > 48 ? 48 : sl), s);
    }
    if (!key_line)
        return sw_errorf(err, SW_EINPUT, "%s: no key, expected a 40-character Z85 public key",
                         path);
    if (!sites_line) {
        size_t stem_len = stem ? strlen(stem) : 0;
        if (!sw_allow_site_name_ok(stem, stem_len))
            return sw_errorf(err, SW_EINPUT,
                             "%s: no 'sites =' line and the file name is not a site name, "
                             "expected 'sites = NAME[, NAME...]' or a file named SITE.pub",
                             path);
        names[0] = stem;
        lens[0] = stem_len;
        n_sites = 1;
    }
    for (size_t k = 0; k < n_sites; k++)
        if (add(a, key, names[k], lens[k]) != 0)
            return sw_errorf(err, SW_ERUNTIME, "%s: out of memory", path);
    return SW_OK;
}

/* Reads a whole small file; SW_EINPUT naming it. */
static int read_small(const char *path, char **text, size_t *len, sw_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return sw_errorf(err, SW_EINPUT, "%s: cannot read: %s", path, strerror(errno));
    char *buf = malloc(SW_ALLOW_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, SW_ALLOW_FILE_MAX + 1, f) : 0;
    bool bad = ferror(f);
    fclose(f);
    if (!buf)
        return sw_errorf(err, SW_ERUNTIME, "%s: out of memory", path);
    if (bad) {
        free(buf);
        return sw_errorf(err, SW_EINPUT, "%s: cannot read", path);
    }
    *text = buf;
    *len = n;
    return SW_OK;
}

int sw_allow_load_dir(const char *dir, sw_allow **out, sw_error *err)
{
    *out = NULL;
    char path[4096];
    sw_pathf(path, sizeof path, "%s/authorized", dir);
    DIR *d = opendir(path);
    if (!d)
        return sw_errorf(err, SW_EINPUT, "%s: cannot open the allow list folder: %s", path,
                         strerror(errno));
    sw_allow *a = sw_allow_create();
    int rc = a ? SW_OK : sw_errorf(err, SW_ERUNTIME, "allow list: out of memory");
    struct dirent *e;
    while (rc == SW_OK && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".pub"))
            continue;
        char file[4400], stem[256];
        sw_pathf(file, sizeof file, "%s/%s", path, e->d_name);
        snprintf(stem, sizeof stem, "%.*s", (int)(len - 4), e->d_name);
        char *text = NULL;
        size_t n = 0;
        rc = read_small(file, &text, &n, err);
        if (rc == SW_OK)
            rc = sw_allow_parse(a, text, n, file, stem, err);
        free(text);
    }
    closedir(d);
    if (rc == SW_OK && a->n == 0)
        rc = sw_errorf(err, SW_EINPUT,
                       "%s: no NAME.pub files, expected one per agent key (docs/exec.md)", path);
    if (rc != SW_OK) {
        sw_allow_destroy(a);
        return rc;
    }
    *out = a;
    return SW_OK;
}

size_t sw_allow_count(const sw_allow *a)
{
    return a ? a->n : 0;
}

bool sw_allow_has_key(const sw_allow *a, const char *key)
{
    return find(a, key) != NULL;
}

bool sw_allow_permits(const sw_allow *a, const char *key, const char *site)
{
    const entry *e = find(a, key);
    return e && site && has_site(e, site, strlen(site));
}

void sw_allow_sites_of(const sw_allow *a, const char *key, char *buf, size_t cap)
{
    if (!buf || !cap)
        return;
    buf[0] = '\0';
    const entry *e = find(a, key);
    size_t used = 0;
    for (size_t k = 0; e && k < e->n_sites; k++) {
        size_t need = strlen(e->sites[k]) + (k ? 2 : 0);
        if (used + need + 4 > cap) {
            if (used + 4 <= cap)
                memcpy(buf + used, "...", 4);
            return;
        }
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", k ? ", " : "", e->sites[k]);
    }
}
