// TQ1_0 / TQ2_0 x Q8_K row dot products for AArch64 NEON, with and without the dot-product
// extension (__ARM_FEATURE_DOTPROD: sdot; otherwise smull/smlal + sadalp).
//
// Codes c = trit + 1 in {0,1,2} fit signed bytes, so both paths are s8 x s8; the block's sum of
// q8 (Q8_K bsums) is subtracted at the end, as in tq-vec-dot-x86.c (see tq-kernels.h).
//
// TQ2_0: 16-byte register R_k = qs[16k : 16k+16], shift 2j pairs with
//        y[128*(k/2) + 32*j + 16*(k%2) : +16].
// TQ1_0: trit l of byte q is ((q*3^l mod 256) * 3) >> 8 = (m > 85) + (m > 170) with m = q*3^l mod 256
//        (vmulq_u8 wraps mod 256). The two compares give 0 / -1 each, so their sum is -code and the
//        dot product is negated once per block.
#include "tq-kernels.h"

#if defined(TQ_VEC_DOT_ARM)

#define GGML_COMMON_DECL_C
#include "ggml-common.h"
#include "ggml-impl.h"

#include <arm_neon.h>
#include <assert.h>
#include <string.h>

static inline float tq_fp16_to_fp32(ggml_half h) {
    __fp16 f;
    memcpy(&f, &h, sizeof(f));
    return (float) f;
}

#if defined(__ARM_FEATURE_DOTPROD)
#    define TQ_DOT(acc, a, b) (acc) = vdotq_s32((acc), (a), (b))
#else
static inline int32x4_t tq_dot_nodp(int32x4_t acc, int8x16_t a, int8x16_t b) {
    int16x8_t p = vmull_s8(vget_low_s8(a), vget_low_s8(b));
    p = vmlal_s8(p, vget_high_s8(a), vget_high_s8(b));  // |sum| <= 2 * 2*128: no overflow
    return vpadalq_s16(acc, p);
}
#    define TQ_DOT(acc, a, b) (acc) = tq_dot_nodp((acc), (a), (b))
#endif

static inline int32_t tq_block_sum_q8(const block_q8_K * y) {
    const int16x8_t b0 = vld1q_s16(y->bsums);
    const int16x8_t b1 = vld1q_s16(y->bsums + 8);
    return vaddvq_s32(vpaddlq_s16(vaddq_s16(b0, b1)));  // |bsum| <= 16*128, 2 of them fit int16
}

void tq_vec_dot_tq2_0_q8_K(int n, float * s, size_t bs, const void * vx, size_t bx, const void * vy, size_t by, int nrc) {
    assert(nrc == 1);
    (void) bs; (void) bx; (void) by; (void) nrc;
    const block_tq2_0 * x = (const block_tq2_0 *) vx;
    const block_q8_K  * y = (const block_q8_K  *) vy;
    const int nb = n / QK_K;
    const uint8x16_t m3 = vdupq_n_u8(3);

    float sumf = 0.0f;
    for (int i = 0; i < nb; ++i) {
        int32x4_t acc0 = vdupq_n_s32(0);
        int32x4_t acc1 = vdupq_n_s32(0);
        for (int k = 0; k < 4; ++k) {
            const uint8x16_t q = vld1q_u8(x[i].qs + 16*k);
            const int8_t * yk = y[i].qs + 128*(k/2) + 16*(k%2);
            TQ_DOT(acc0, vreinterpretq_s8_u8(vandq_u8(q, m3)),                vld1q_s8(yk +  0));
            TQ_DOT(acc1, vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(q, 2), m3)), vld1q_s8(yk + 32));
            TQ_DOT(acc0, vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(q, 4), m3)), vld1q_s8(yk + 64));
            TQ_DOT(acc1, vreinterpretq_s8_u8(vshrq_n_u8(q, 6)),               vld1q_s8(yk + 96));
        }
        const int32_t sumi = vaddvq_s32(vaddq_s32(acc0, acc1)) - tq_block_sum_q8(&y[i]);
        const float d = y[i].d * tq_fp16_to_fp32(x[i].d);
        sumf += (float) sumi * d;
    }
    *s = sumf;
}

// -code of every byte of m (0, -1 or -2)
static inline int8x16_t tq_neg_trit(uint8x16_t m) {
    return vreinterpretq_s8_u8(vaddq_u8(vcgtq_u8(m, vdupq_n_u8(85)), vcgtq_u8(m, vdupq_n_u8(170))));
}

void tq_vec_dot_tq1_0_q8_K(int n, float * s, size_t bs, const void * vx, size_t bx, const void * vy, size_t by, int nrc) {
    assert(nrc == 1);
    (void) bs; (void) bx; (void) by; (void) nrc;
    const block_tq1_0 * x = (const block_tq1_0 *) vx;
    const block_q8_K  * y = (const block_q8_K  *) vy;
    const int nb = n / QK_K;
    // qh: byte 4*l + j = qh[j] * 3^l, elements 240 + 4*l + j
    static const uint8_t pow3_qh[16] = {1, 1, 1, 1, 3, 3, 3, 3, 9, 9, 9, 9, 27, 27, 27, 27};
    const uint8x16_t p3qh = vld1q_u8(pow3_qh);
    const uint8x16_t three = vdupq_n_u8(3);

    float sumf = 0.0f;
    for (int i = 0; i < nb; ++i) {
        int32x4_t acc0 = vdupq_n_s32(0);  // sum of -code * q8
        int32x4_t acc1 = vdupq_n_s32(0);
        uint8x16_t a0 = vld1q_u8(x[i].qs);       // elements 32*l + m, m < 16
        uint8x16_t a1 = vld1q_u8(x[i].qs + 16);  // elements 32*l + m, m >= 16
        uint8x16_t b  = vld1q_u8(x[i].qs + 32);  // elements 160 + 16*l + m
        for (int l = 0; l < 5; ++l) {
            TQ_DOT(acc0, tq_neg_trit(a0), vld1q_s8(y[i].qs + 32*l));
            TQ_DOT(acc1, tq_neg_trit(a1), vld1q_s8(y[i].qs + 32*l + 16));
            TQ_DOT(acc0, tq_neg_trit(b),  vld1q_s8(y[i].qs + 160 + 16*l));
            a0 = vmulq_u8(a0, three);
            a1 = vmulq_u8(a1, three);
            b  = vmulq_u8(b,  three);
        }
        uint32_t qh32;
        memcpy(&qh32, x[i].qh, 4);
        const uint8x16_t h = vmulq_u8(vreinterpretq_u8_u32(vdupq_n_u32(qh32)), p3qh);
        TQ_DOT(acc1, tq_neg_trit(h), vld1q_s8(y[i].qs + 240));

        const int32_t sumi = -vaddvq_s32(vaddq_s32(acc0, acc1)) - tq_block_sum_q8(&y[i]);
        const float d = tq_fp16_to_fp32(x[i].d) * y[i].d;
        sumf += (float) sumi * d;
    }
    *s = sumf;
}

const char * tq_gguf_cpu_vec_dot_variant(void) {
#if defined(__ARM_FEATURE_DOTPROD)
    return "arm-neon-dotprod";
#else
    return "arm-neon";
#endif
}

#endif // TQ_VEC_DOT_ARM
