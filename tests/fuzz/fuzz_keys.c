/* fuzz_keys.c - libFuzzer harness for the CURVE key file parsers (exec/auth.c): the input is
 * read both as a NAME.key (public and secret lines) and as a NAME.pub. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exec/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    sw_keypair kp;
    char pub[SW_KEY_Z85];
    sw_error err;
    if (sw_keys_parse_pair(text, size, "fuzz.key", &kp, &err) == SW_OK &&
        (strlen(kp.pub) != 40 || strlen(kp.sec) != 40))
        abort();
    if (sw_keys_parse_pub(text, size, "fuzz.pub", pub, &err) == SW_OK && strlen(pub) != 40)
        abort();
    free(text);
    return 0;
}
