/* fuzz_losslog.c - libFuzzer harness for the loss-log CSV parser (core/losslog.c). */
#include <stddef.h>
#include <stdint.h>

#include "core/losslog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sw_losslog log = {0};
    sw_error err;
    if (sw_losslog_parse((const char *)data, size, "fuzz.csv", &log, &err) == SW_OK)
        sw_losslog_free(&log);
    return 0;
}
