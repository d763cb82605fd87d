// Standalone check of one ISA variant of tq_gguf's TQ1_0/TQ2_0 x Q8_K row dot products, built
// together with ggml_patches/cpu/tq-vec-dot-{x86,arm}.c under that variant's compiler flags
// (native, or cross-compiled for aarch64 and run under qemu-user). No ggml library needed.
//
// Reference: a scalar restatement of upstream's arithmetic (quants.c *_generic): per 256-block,
// exact integer sum of (code - 1) * q8 with upstream's base-3 / 2-bit decoding, then
// sumf += (float) sumi * (d_x * d_y). Random valid TQ data (every TQ1_0 base-3 byte value),
// full-range Q8_K values (-128 included) with consistent bsums, random scales, 1..40 blocks,
// plus saturation-bound inputs.
//
// usage: tq_vec_dot_check [iterations]     prints "<variant> ok <cases>" or the first mismatches
#define GGML_COMMON_DECL_C
#include "ggml-common.h"
#include "ggml-impl.h"
#include "tq-kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// upstream symbols referenced by tq-dispatch.c are not linked here; nothing calls them
static uint64_t st = 88172645463325252ULL;
static uint32_t rnd(void) { st ^= st << 13; st ^= st >> 7; st ^= st << 17; return (uint32_t) st; }

static float ref_tq1(int n, const block_tq1_0 * x, const block_q8_K * y) {
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    float sumf = 0;
    for (int i = 0; i < n/QK_K; ++i) {
        int sum = 0;
        for (int l = 0; l < 5; ++l) for (int m = 0; m < 32; ++m) {
            const uint8_t q = (uint8_t) (x[i].qs[m] * pow3[l]);
            sum += ((((uint16_t) q * 3) >> 8) - 1) * y[i].qs[32*l + m];
        }
        for (int l = 0; l < 5; ++l) for (int m = 0; m < 16; ++m) {
            const uint8_t q = (uint8_t) (x[i].qs[32 + m] * pow3[l]);
            sum += ((((uint16_t) q * 3) >> 8) - 1) * y[i].qs[160 + 16*l + m];
        }
        for (int l = 0; l < 4; ++l) for (int j = 0; j < 4; ++j) {
            const uint8_t q = (uint8_t) (x[i].qh[j] * pow3[l]);
            sum += ((((uint16_t) q * 3) >> 8) - 1) * y[i].qs[240 + 4*l + j];
        }
        sumf += (float) sum * (GGML_FP16_TO_FP32(x[i].d) * y[i].d);
    }
    return sumf;
}

static float ref_tq2(int n, const block_tq2_0 * x, const block_q8_K * y) {
    float sumf = 0;
    for (int i = 0; i < n/QK_K; ++i) {
        int sumi = 0;
        for (int e = 0; e < QK_K; ++e) {
            const int code = (x[i].qs[32*(e/128) + e%32] >> (2*((e%128)/32))) & 3;
            sumi += (code - 1) * y[i].qs[e];
        }
        sumf += (float) sumi * (y[i].d * GGML_FP16_TO_FP32(x[i].d));
    }
    return sumf;
}

static double mag_bound(int n, const block_q8_K * y, const ggml_half * dx, size_t dstride) {
    double m = 0;
    for (int i = 0; i < n/QK_K; ++i) {
        double s = 0;
        for (int e = 0; e < QK_K; ++e) s += fabs((double) y[i].qs[e]);
        m += s * fabs(GGML_FP16_TO_FP32(*(const ggml_half *) ((const char *) dx + i*dstride)) * y[i].d);
    }
    return m;
}

int main(int argc, char ** argv) {
    const int iters = argc > 1 ? atoi(argv[1]) : 300;
    int bad = 0, cases = 0;
    const int maxnb = 40;
    block_tq1_0 * x1 = malloc(maxnb * sizeof(*x1));
    block_tq2_0 * x2 = malloc(maxnb * sizeof(*x2));
    block_q8_K  * y  = malloc(maxnb * sizeof(*y));
    for (int t = 0; t < iters; ++t) {
        const int nb = 1 + t % maxnb, n = nb * QK_K;
        const int mode = t % 10;  // 8: all codes 2 with q8 = -128; 9: all codes 2 with q8 = 127
        for (int i = 0; i < nb; ++i) {
            for (int k = 0; k < 48; ++k) {
                const int v = (int) ((t*48*nb + i*48 + k) % 243 + rnd() % 2) % 243;  // sweeps all 243
                x1[i].qs[k] = (uint8_t) ((v*256 + 242) / 243);
            }
            for (int k = 0; k < 4; ++k) x1[i].qh[k] = (uint8_t) (((rnd() % 81) * 3 * 256 + 242) / 243);
            for (int k = 0; k < 64; ++k) x2[i].qs[k] = (uint8_t) ((rnd()%3) | (rnd()%3) << 2 | (rnd()%3) << 4 | (rnd()%3) << 6);
            if (mode >= 8) {
                memset(x1[i].qs, 255, 48); memset(x1[i].qh, 255, 4); memset(x2[i].qs, 0xAA, 64);
            }
            x1[i].d = x2[i].d = GGML_FP32_TO_FP16(((int) (rnd() % 3001) - 1500) / 1000.0f);
            y[i].d = (float) (rnd() % 1000 + 1) / 20000.0f;
            for (int k = 0; k < QK_K; ++k) {
                y[i].qs[k] = mode == 8 ? -128 : mode == 9 ? 127 : (int8_t) (rnd() % 256 - 128);
            }
            for (int b = 0; b < 16; ++b) {
                int s = 0;
                for (int k = 0; k < 16; ++k) s += y[i].qs[16*b + k];
                y[i].bsums[b] = (int16_t) s;
            }
        }
        float a, r;
        tq_vec_dot_tq1_0_q8_K(n, &a, 0, x1, 0, y, 0, 1);
        r = ref_tq1(n, x1, y);
        double tol = 1e-5 * mag_bound(n, y, &x1[0].d, sizeof(*x1)) + 1e-30;
        if (!(fabs(a - r) <= tol)) { if (bad++ < 5) printf("tq1_0 n=%d ours=%.9g ref=%.9g\n", n, a, r); }
        tq_vec_dot_tq2_0_q8_K(n, &a, 0, x2, 0, y, 0, 1);
        r = ref_tq2(n, x2, y);
        tol = 1e-5 * mag_bound(n, y, &x2[0].d, sizeof(*x2)) + 1e-30;
        if (!(fabs(a - r) <= tol)) { if (bad++ < 5) printf("tq2_0 n=%d ours=%.9g ref=%.9g\n", n, a, r); }
        cases += 2;
    }
    printf("%s %s %d\n", tq_gguf_cpu_vec_dot_variant(), bad ? "FAIL" : "ok", bad ? bad : cases);
    return bad != 0;
}
