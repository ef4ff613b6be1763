/* fuzz_allow.c - libFuzzer harness for the allow-list file parser (exec/allow.c): the input is
 * one authorized/STEM.pub; a file that parses must grant its key only sites it names (or the
 * stem), never the empty name. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exec/allow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    sw_allow *a = sw_allow_create();
    if (!text || !a) {
        free(text);
        sw_allow_destroy(a);
        return 0;
    }
    memcpy(text, data, size);
    sw_error err;
    if (sw_allow_parse(a, text, size, "fuzz.pub", "stem", &err) == SW_OK) {
        if (sw_allow_count(a) != 1)
            abort();
        char sites[128];
        sw_allow_sites_of(a, "", sites, sizeof sites);
        if (sites[0])
            abort(); /* the empty key is never in the list */
    }
    sw_allow_destroy(a);
    free(text);
    return 0;
}
