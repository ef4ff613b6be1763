/* manifest_jsonl.h - reading one line of a JSON-lines corpus (`spillway data prepare`): the
 * string field "text" of the object on the line, decoded to UTF-8 (escapes, surrogate pairs; a
 * lone surrogate becomes U+FFFD). Other fields may hold any JSON value and are skipped.
 */
#ifndef SW_MANIFEST_JSONL_H
#define SW_MANIFEST_JSONL_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kerror.h"

/* Decodes the "text" of the line s[0..e) (no newline) into text (room for e - s bytes, never
 * exceeded: decoding only shrinks), its length into *len. 1 for a blank line (no record).
 * SW_K_EINPUT naming path, lineno and what is wrong: not an object, malformed value, missing
 * "text" or one that is not a string, text after the object. */
int sw_jsonl_text(const char *path, size_t lineno, const uint8_t *s, const uint8_t *e,
                  uint8_t *text, size_t *len, sw_kerror *err);

#endif
