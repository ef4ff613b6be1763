/* ref_gpt.h - an independent double-precision forward pass of the kernels/ model, written
 * as plainly as possible (naive loops, no shared code with kernels/cpu_*.c) to serve as the
 * oracle of the gradient check: its loss is compared with the float model's, and central
 * differences of it are compared with the float backward pass.
 *
 * Same architecture and parameter layout as kernels/model.h; params are doubles in that
 * layout. Header-only because tests/ compiles one file per test.
 */
#ifndef SW_TEST_REF_GPT_H
#define SW_TEST_REF_GPT_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/model.h"

#define REF_EPS 1e-6 /* the RMSNorm epsilon of kernels/cpu_ops.h */

static void ref_rmsnorm(double *x, int n)
{
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += x[i] * x[i];
    double r = 1.0 / sqrt(ss / n + REF_EPS);
    for (int i = 0; i < n; i++)
        x[i] *= r;
}

/* y[O] = W[O,K] x[K] */
static void ref_linear(double *y, const double *W, const double *x, int O, int K)
{
    for (int o = 0; o < O; o++) {
        double s = 0;
        for (int k = 0; k < K; k++)
            s += W[(size_t)o * K + k] * x[k];
        y[o] = s;
    }
}

static void ref_rope(double *x, int t, int hd, double base)
{
    int half = hd / 2;
    for (int i = 0; i < half; i++) {
        double ang = t * pow(base, -2.0 * i / hd);
        double c = cos(ang), s = sin(ang), x1 = x[i], x2 = x[i + half];
        x[i] = x1 * c + x2 * s;
        x[i + half] = -x1 * s + x2 * c;
    }
}

/* Mean cross-entropy (nats) of the model with double params p on B sequences of T tokens. */
static double ref_loss(const sw_model_config *cfg, const double *p, const int32_t *in,
                       const int32_t *tg, int B, int T)
{
    int C = cfg->n_embd, H = cfg->n_head, hd = C / H, V = cfg->vocab_size, L = cfg->n_layer;
    size_t lay = (size_t)12 * C * C;
    const double *wte = p;
    const double *lm = cfg->tie_embeddings ? p : p + (size_t)V * C + L * lay;
    double *x = calloc((size_t)T * C, sizeof(double)), *n = calloc((size_t)C, sizeof(double));
    double *q = calloc((size_t)T * C, sizeof(double)), *k = calloc((size_t)T * C, sizeof(double));
    double *v = calloc((size_t)T * C, sizeof(double)), *y = calloc((size_t)T * C, sizeof(double));
    double *qkv = calloc((size_t)3 * C, sizeof(double)),
           *hbuf = calloc((size_t)4 * C, sizeof(double));
    double *o = calloc((size_t)C, sizeof(double)), *lg = calloc((size_t)V, sizeof(double));
    double *sc = calloc((size_t)T, sizeof(double));
    double total = 0;
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            memcpy(x + (size_t)t * C, wte + (size_t)in[b * T + t] * C, C * sizeof(double));
            ref_rmsnorm(x + (size_t)t * C, C);
        }
        for (int l = 0; l < L; l++) {
            const double *wqkv = p + (size_t)V * C + l * lay, *wo = wqkv + 3 * C * C;
            const double *wfc = wo + C * C, *wproj = wfc + 4 * C * C;
            for (int t = 0; t < T; t++) {
                memcpy(n, x + (size_t)t * C, C * sizeof(double));
                ref_rmsnorm(n, C);
                ref_linear(qkv, wqkv, n, 3 * C, C);
                for (int h = 0; h < H; h++) {
                    double *qh = q + (size_t)t * C + h * hd, *kh = k + (size_t)t * C + h * hd;
                    memcpy(qh, qkv + h * hd, hd * sizeof(double));
                    memcpy(kh, qkv + C + h * hd, hd * sizeof(double));
                    ref_rope(qh, t, hd, cfg->rope_base);
                    ref_rope(kh, t, hd, cfg->rope_base);
                    ref_rmsnorm(qh, hd);
                    ref_rmsnorm(kh, hd);
                }
                memcpy(v + (size_t)t * C, qkv + 2 * C, C * sizeof(double));
            }
            for (int h = 0; h < H; h++)
                for (int i = 0; i < T; i++) {
                    double mx = -INFINITY, sum = 0;
                    for (int j = 0; j <= i; j++) {
                        double s = 0;
                        for (int d = 0; d < hd; d++)
                            s += q[(size_t)i * C + h * hd + d] * k[(size_t)j * C + h * hd + d];
                        sc[j] = s / sqrt((double)hd);
                        mx = sc[j] > mx ? sc[j] : mx;
                    }
                    for (int j = 0; j <= i; j++)
                        sum += (sc[j] = exp(sc[j] - mx));
                    for (int d = 0; d < hd; d++) {
                        double acc = 0;
                        for (int j = 0; j <= i; j++)
                            acc += sc[j] / sum * v[(size_t)j * C + h * hd + d];
                        y[(size_t)i * C + h * hd + d] = acc;
                    }
                }
            for (int t = 0; t < T; t++) {
                double *xt = x + (size_t)t * C;
                ref_linear(o, wo, y + (size_t)t * C, C, C);
                for (int c = 0; c < C; c++)
                    xt[c] += o[c];
                memcpy(n, xt, C * sizeof(double));
                ref_rmsnorm(n, C);
                ref_linear(hbuf, wfc, n, 4 * C, C);
                for (int f = 0; f < 4 * C; f++)
                    hbuf[f] = hbuf[f] > 0 ? hbuf[f] * hbuf[f] : 0;
                ref_linear(o, wproj, hbuf, C, 4 * C);
                for (int c = 0; c < C; c++)
                    xt[c] += o[c];
            }
        }
        for (int t = 0; t < T; t++) {
            memcpy(n, x + (size_t)t * C, C * sizeof(double));
            ref_rmsnorm(n, C);
            ref_linear(lg, lm, n, V, C);
            double mx = -INFINITY, sum = 0;
            for (int j = 0; j < V; j++) {
                if (cfg->softcap > 0)
                    lg[j] = cfg->softcap * tanh(lg[j] / cfg->softcap);
                mx = lg[j] > mx ? lg[j] : mx;
            }
            for (int j = 0; j < V; j++)
                sum += exp(lg[j] - mx);
            total += mx + log(sum) - lg[tg[b * T + t]];
        }
    }
    free(x), free(n), free(q), free(k), free(v), free(y), free(qkv), free(hbuf), free(o);
    free(lg), free(sc);
    return total / ((double)B * T);
}

#endif
