/* fuzz_trace.c - libFuzzer harness for the trace CSV parser (core/trace.c). The first byte
 * picks the options (unit, gap limit, fill_gaps, a region filter); the rest is the file. A
 * trace that loads is derived (trace.derive, the path of the step_s = 0 defect) and queried. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "core/trace.h"
#include "core/trace_derive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    static const char *const filter[] = {"A", "B"};
    sw_trace_options opt = {
        .unit = flags & 1 ? SW_UNIT_LBS_PER_MWH : SW_UNIT_G_PER_KWH,
        .max_gap_s = flags & 2 ? 900 : 0,
        .fill_gaps = flags & 4,
        .region = flags & 8 ? "R" : NULL,
        .regions = flags & 16 ? filter : NULL,
        .n_regions = flags & 16 ? 2 : 0,
    };
    sw_trace *t = NULL;
    sw_error err;
    if (sw_trace_parse((const char *)data + 1, size - 1, "fuzz.csv", &opt, &t, &err) != SW_OK)
        return 0;
    size_t n = sw_trace_region_count(t);
    for (size_t r = 0; r < n; r++) {
        double a = sw_trace_start(t, r), b = sw_trace_end(t, r), v;
        (void)sw_trace_value(t, r, 0.5 * (a + b));
        (void)sw_trace_next_change(t, r, a);
        (void)sw_trace_integral(t, r, a, b, &v, &err);
    }
    sw_trace *d = NULL;
    if (sw_trace_derive(t, 1 + (flags >> 5), 600, &d, &err) == SW_OK)
        sw_trace_destroy(d);
    sw_trace_destroy(t);
    return 0;
}
