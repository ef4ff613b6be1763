/* fastmath.h - exp and tanh written so the compiler can vectorise loops that call them
 * (libm's expf/tanhf are opaque calls that keep a loop scalar). Used by the softmaxes of
 * attention and of the loss, where they dominate the non-matmul time at large vocabularies.
 *
 * sw_expf: Cody-Waite range reduction x = n ln2 + r, |r| <= ln2/2, a degree-6 polynomial for
 * e^r (Cephes' coefficients for expf), and 2^n by building the exponent bits. Relative error
 * below 2e-7 over the clamped range [-87.3, 88.3]; inputs below the range give e^-87.3 instead
 * of a denormal or zero, which is harmless inside a softmax.
 * sw_tanhf: tanh|x| = (1 - e^-2|x|) / (1 + e^-2|x|), absolute error below 3e-7.
 */
#ifndef SW_FASTMATH_H
#define SW_FASTMATH_H

#include <stdint.h>
#include <string.h>

static inline float sw_expf(float x)
{
    x = x < -87.3f ? -87.3f : x;
    x = x > 88.3f ? 88.3f : x;
    /* Round x·log2(e) to nearest by adding and removing 1.5·2^23 (valid for |v| < 2^22). */
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float e = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float pow2n;
    memcpy(&pow2n, &bits, sizeof pow2n);
    return e * pow2n;
}

static inline float sw_tanhf(float x)
{
    float ax = x < 0.0f ? -x : x;
    float t = sw_expf(-2.0f * ax);
    float y = (1.0f - t) / (1.0f + t);
    return x < 0.0f ? -y : y;
}

#endif
