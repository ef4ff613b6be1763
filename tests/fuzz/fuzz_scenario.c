/* fuzz_scenario.c - libFuzzer harness for the scenario YAML loader (core/scenario.c, on
 * core/yamltree.c): the input is the document; nothing is read from disk. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    sw_scenario sc;
    sw_error err;
    if (sw_scenario_parse_text(text, "fuzz.yaml", NULL, 0, &sc, &err) == SW_OK)
        (void)sw_scenario_site_index(&sc, "a");
    sw_scenario_free(&sc);
    free(text);
    return 0;
}
