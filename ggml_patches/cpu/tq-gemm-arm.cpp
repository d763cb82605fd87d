// GEMM / GEMV on the 16-row interleaved TQ layout (tq-gemm.h) for AArch64 NEON with the dot-product
// extension. Without it tq-gemm.h defines no kernel and weights are not repacked (vec_dot path).
//
// One 64-byte packed vector P_p is four 16-byte registers R_r (rows 4r .. 4r+3). For field s,
// V = (R_r >> 2s) & 3 holds in its 32-bit lane j the codes of row 4r+j at columns 16p+4s .. +3,
// and sdot-by-lane (vdotq_laneq_s32) multiplies them with lane s of the 16 activation bytes
// y[16p .. 16p+15]: one load of y serves all four fields. Codes 0..2 are valid signed bytes.
#include "tq-gemm.h"

#if defined(TQ_GEMM_ARM)

#include <arm_neon.h>
#include <stdlib.h>
#include <string.h>

#define TQ_NC_MAX 4  // columns per tile: 16 int32x4 accumulators of 32 q registers

namespace {

inline int32_t tq_q8K_block_sum(const block_q8_K * b) {
    const int16x8_t s = vaddq_s16(vld1q_s16(b->bsums), vld1q_s16(b->bsums + 8));  // |.| <= 2*16*128
    return vaddvq_s32(vpaddlq_s16(s));
}

template <int NC>
void tq_gemm_tile(int64_t nb, const block_tqx16 * w, const char * y, size_t y_stride, float ** dst) {
    const uint8x16_t m3 = vdupq_n_u8(3);
    float32x4_t accf[NC][4];
    for (int c = 0; c < NC; ++c) for (int r = 0; r < 4; ++r) accf[c][r] = vdupq_n_f32(0.0f);

    for (int64_t i = 0; i < nb; ++i) {
        const block_q8_K * yb[NC];
        for (int c = 0; c < NC; ++c) yb[c] = (const block_q8_K *) (y + c*y_stride) + i;
        int32x4_t acc[NC][4];
        for (int c = 0; c < NC; ++c) for (int r = 0; r < 4; ++r) acc[c][r] = vdupq_n_s32(0);
        for (int p = 0; p < 16; ++p) {
            const uint8_t * q = w[i].qs + 64*p;
            int8x16_t yv[NC];
            for (int c = 0; c < NC; ++c) yv[c] = vld1q_s8(yb[c]->qs + 16*p);
            for (int r = 0; r < 4; ++r) {
                const uint8x16_t R = vld1q_u8(q + 16*r);
                const int8x16_t V0 = vreinterpretq_s8_u8(vandq_u8(R, m3));
                const int8x16_t V1 = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(R, 2), m3));
                const int8x16_t V2 = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(R, 4), m3));
                const int8x16_t V3 = vreinterpretq_s8_u8(vshrq_n_u8(R, 6));
                for (int c = 0; c < NC; ++c) {
                    acc[c][r] = vdotq_laneq_s32(acc[c][r], V0, yv[c], 0);
                    acc[c][r] = vdotq_laneq_s32(acc[c][r], V1, yv[c], 1);
                    acc[c][r] = vdotq_laneq_s32(acc[c][r], V2, yv[c], 2);
                    acc[c][r] = vdotq_laneq_s32(acc[c][r], V3, yv[c], 3);
                }
            }
        }
        float32x4_t dx[4];
        for (int r = 0; r < 4; ++r) {
            float16x4_t h;
            memcpy(&h, w[i].d + 4*r, sizeof(h));
            dx[r] = vcvt_f32_f16(h);
        }
        for (int c = 0; c < NC; ++c) {
            const int32x4_t sy = vdupq_n_s32(tq_q8K_block_sum(yb[c]));
            for (int r = 0; r < 4; ++r) {
                const float32x4_t d = vmulq_n_f32(dx[r], yb[c]->d);
                accf[c][r] = vfmaq_f32(accf[c][r], vcvtq_f32_s32(vsubq_s32(acc[c][r], sy)), d);
            }
        }
    }
    for (int c = 0; c < NC; ++c) for (int r = 0; r < 4; ++r) vst1q_f32(dst[c] + 4*r, accf[c][r]);
}

} // namespace

void tq_gemm_group(int64_t nb, const block_tqx16 * w, const char * y, size_t y_stride, int64_t ncols, float ** dst) {
    int64_t c = 0;
    for (; c + TQ_NC_MAX <= ncols; c += TQ_NC_MAX) {
        tq_gemm_tile<TQ_NC_MAX>(nb, w, y + c*y_stride, y_stride, dst + c);
    }
    switch (ncols - c) {
        case 0: break;
        case 1: tq_gemm_tile<1>(nb, w, y + c*y_stride, y_stride, dst + c); break;
        case 2: tq_gemm_tile<2>(nb, w, y + c*y_stride, y_stride, dst + c); break;
        case 3: tq_gemm_tile<3>(nb, w, y + c*y_stride, y_stride, dst + c); break;
        default: abort();
    }
}

int tq_gemm_tile_width(void) {
    return TQ_NC_MAX;
}

const char * tq_gemm_variant(void) {
    return "arm-neon-dotprod";
}

#endif // TQ_GEMM_ARM
