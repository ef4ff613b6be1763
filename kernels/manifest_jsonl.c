/* manifest_jsonl.c - the "text" field of a JSON-lines record (see manifest_jsonl.h): a small
 * JSON reader that decodes one string field and skips every other value (numbers are checked
 * for their characters only). */
#include "kernels/manifest_jsonl.h"

#include <stdbool.h>
#include <string.h>

typedef struct jp {
    const uint8_t *s, *e;
} jp;

static void ws(jp *j)
{
    while (j->s < j->e && (*j->s == ' ' || *j->s == '\t' || *j->s == '\r' || *j->s == '\n'))
        j->s++;
}

static int hex4(const uint8_t *s, const uint8_t *e, uint32_t *v)
{
    if (e - s < 4)
        return -1;
    *v = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        *v = *v << 4 | (uint32_t)d;
    }
    return 0;
}

static size_t put_utf8(uint8_t *o, uint32_t c)
{
    if (c < 0x80) {
        o[0] = (uint8_t)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (uint8_t)(0xc0 | c >> 6);
        o[1] = (uint8_t)(0x80 | (c & 63));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (uint8_t)(0xe0 | c >> 12);
        o[1] = (uint8_t)(0x80 | ((c >> 6) & 63));
        o[2] = (uint8_t)(0x80 | (c & 63));
        return 3;
    }
    o[0] = (uint8_t)(0xf0 | c >> 18);
    o[1] = (uint8_t)(0x80 | ((c >> 12) & 63));
    o[2] = (uint8_t)(0x80 | ((c >> 6) & 63));
    o[3] = (uint8_t)(0x80 | (c & 63));
    return 4;
}

/* Parses a string at j->s (at its opening quote); decoded into out (room for the raw length)
 * when out is non-NULL. A lone surrogate becomes U+FFFD. -1 when malformed. */
static int jstring(jp *j, uint8_t *out, size_t *len)
{
    if (j->s >= j->e || *j->s != '"')
        return -1;
    j->s++;
    size_t n = 0;
    while (j->s < j->e && *j->s != '"') {
        uint8_t c = *j->s++;
        if (c < 0x20)
            return -1;
        if (c != '\\') {
            if (out)
                out[n] = c;
            n++;
            continue;
        }
        if (j->s >= j->e)
            return -1;
        uint8_t x = *j->s++;
        uint32_t cp;
        const char *simple = strchr("\"\\/bfnrt", x);
        if (x && simple) {
            static const uint8_t map[] = {'"', '\\', '/', '\b', '\f', '\n', '\r', '\t'};
            if (out)
                out[n] = map[simple - "\"\\/bfnrt"];
            n++;
            continue;
        }
        if (x != 'u' || hex4(j->s, j->e, &cp))
            return -1;
        j->s += 4;
        if (cp >= 0xd800 && cp < 0xdc00) {
            uint32_t lo;
            if (j->e - j->s >= 6 && j->s[0] == '\\' && j->s[1] == 'u' &&
                !hex4(j->s + 2, j->e, &lo) && lo >= 0xdc00 && lo < 0xe000) {
                j->s += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else
                cp = 0xfffd;
        } else if (cp >= 0xdc00 && cp < 0xe000)
            cp = 0xfffd;
        uint8_t tmp[4];
        size_t k = put_utf8(tmp, cp); /* never longer than the 6-byte escape */
        if (out)
            memcpy(out + n, tmp, k);
        n += k;
    }
    if (j->s >= j->e)
        return -1;
    j->s++;
    if (len)
        *len = n;
    return 0;
}

static int jvalue(jp *j, int depth);

static int jcontainer(jp *j, int depth, uint8_t close)
{
    j->s++;
    ws(j);
    if (j->s < j->e && *j->s == close) {
        j->s++;
        return 0;
    }
    for (;;) {
        ws(j);
        if (close == '}') {
            if (jstring(j, NULL, NULL))
                return -1;
            ws(j);
            if (j->s >= j->e || *j->s != ':')
                return -1;
            j->s++;
        }
        if (jvalue(j, depth + 1))
            return -1;
        ws(j);
        if (j->s < j->e && *j->s == ',') {
            j->s++;
            continue;
        }
        if (j->s < j->e && *j->s == close) {
            j->s++;
            return 0;
        }
        return -1;
    }
}

/* Skips one value. */
static int jvalue(jp *j, int depth)
{
    ws(j);
    if (j->s >= j->e || depth > 64)
        return -1;
    uint8_t c = *j->s;
    if (c == '"')
        return jstring(j, NULL, NULL);
    if (c == '{')
        return jcontainer(j, depth, '}');
    if (c == '[')
        return jcontainer(j, depth, ']');
    static const char *lits[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t l = strlen(lits[i]);
        if ((size_t)(j->e - j->s) >= l && !memcmp(j->s, lits[i], l)) {
            j->s += l;
            return 0;
        }
    }
    const uint8_t *s0 = j->s;
    while (j->s < j->e && strchr("+-0123456789.eE", *j->s) && *j->s)
        j->s++;
    return j->s > s0 ? 0 : -1;
}

int sw_jsonl_text(const char *path, size_t lineno, const uint8_t *s, const uint8_t *e,
                  uint8_t *text, size_t *len, sw_kerror *err)
{
    jp j = {s, e};
    ws(&j);
    if (j.s == j.e)
        return 1;
    if (*j.s != '{')
        return sw_kerrorf(err, SW_K_EINPUT, "%s: line %zu: expected a JSON object", path, lineno);
    int found = 0;
    j.s++;
    ws(&j);
    if (j.s < j.e && *j.s == '}')
        j.s++;
    else
        for (;;) {
            ws(&j);
            const uint8_t *ks = j.s;
            if (jstring(&j, NULL, NULL))
                return sw_kerrorf(err, SW_K_EINPUT, "%s: line %zu: byte %zu: expected a key", path,
                                  lineno, (size_t)(ks - s) + 1);
            bool is_text = j.s - ks == 6 && !memcmp(ks, "\"text\"", 6);
            ws(&j);
            if (j.s >= j.e || *j.s != ':')
                return sw_kerrorf(err, SW_K_EINPUT, "%s: line %zu: byte %zu: expected ':'", path,
                                  lineno, (size_t)(j.s - s) + 1);
            j.s++;
            ws(&j);
            if (is_text) {
                if (j.s >= j.e || *j.s != '"' || jstring(&j, text, len))
                    return sw_kerrorf(err, SW_K_EINPUT,
                                      "%s: line %zu: field 'text': expected a JSON string", path,
                                      lineno);
                found = 1;
            } else if (jvalue(&j, 1))
                return sw_kerrorf(err, SW_K_EINPUT, "%s: line %zu: byte %zu: malformed JSON value",
                                  path, lineno, (size_t)(j.s - s) + 1);
            ws(&j);
            if (j.s < j.e && *j.s == ',') {
                j.s++;
                continue;
            }
            if (j.s < j.e && *j.s == '}') {
                j.s++;
                break;
            }
            return sw_kerrorf(err, SW_K_EINPUT, "%s: line %zu: byte %zu: expected ',' or '}'", path,
                              lineno, (size_t)(j.s - s) + 1);
        }
    ws(&j);
    if (j.s != j.e)
        return sw_kerrorf(err, SW_K_EINPUT,
                          "%s: line %zu: byte %zu: text after the object (one object per line)",
                          path, lineno, (size_t)(j.s - s) + 1);
    if (!found)
        return sw_kerrorf(err, SW_K_EINPUT, "%s: line %zu: field 'text': missing", path, lineno);
    return 0;
}
