// GEMM / GEMV on the 16-row interleaved TQ layout (tq-gemm.h) for AArch64 NEON with the dot-product
// extension. Without it tq-gemm.h defines no kernel and weights are not repacked (vec_dot path).
//
// One 64-byte packed vector P_p is four 16-byte registers R_r (rows 4r .. 4r+3). For field s,
// V = (R_r >> 2s) & 3 holds in its 32-bit lane j the codes of row 4r+j at columns 16p+4s .. +3,
// and sdot-by-lane (vdotq_laneq_s32) multiplies them with lane s of the 16 activation bytes
// y[16p .. 16p+15]: one load of y serves all four fields. Codes 0..2 are valid signed bytes.
#include "tq-gemm.h"
#include "tq-gemm-tiles.h"

#if defined(TQ_GEMM_ARM)

#include <arm_neon.h>
#include <string.h>

namespace {

struct tq_tile_kernel {
    static constexpr int width = 4;  // columns per panel: 16 int32x4 accumulators of 32 q registers

    // Activation panel of NC columns (tq-gemm.h): per block d[NC], neg_sum[NC], qs[16][NC][16];
    // each column's integer sums start at neg_sum (the code = trit + 1 offset).
    template <int NC>
    static void tile(int64_t nb, const block_tqx16 * w, const char * panel, float ** dst) {
        const uint8x16_t m3 = vdupq_n_u8(3);
        float32x4_t accf[NC][4];
        for (int c = 0; c < NC; ++c) for (int r = 0; r < 4; ++r) accf[c][r] = vdupq_n_f32(0.0f);

        for (int64_t i = 0; i < nb; ++i) {
            const char * pb = panel + (size_t) i * tq_panel_block_size(NC);
            const float   * yd  = (const float *) pb;
            const int32_t * ys  = (const int32_t *) (pb + NC*sizeof(float));
            const int8_t  * yqs = (const int8_t *) (pb + NC*(sizeof(float) + sizeof(int32_t)));
            int32x4_t acc[NC][4];
            for (int c = 0; c < NC; ++c) for (int r = 0; r < 4; ++r) acc[c][r] = vdupq_n_s32(ys[c]);
            for (int p = 0; p < 16; ++p) {
                const uint8_t * q = w[i].qs + 64*p;
                int8x16_t yv[NC];
                for (int c = 0; c < NC; ++c) yv[c] = vld1q_s8(yqs + (p*NC + c)*16);
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
                for (int r = 0; r < 4; ++r) {
                    const float32x4_t d = vmulq_n_f32(dx[r], yd[c]);
                    accf[c][r] = vfmaq_f32(accf[c][r], vcvtq_f32_s32(acc[c][r]), d);
                }
            }
        }
        for (int c = 0; c < NC; ++c) for (int r = 0; r < 4; ++r) vst1q_f32(dst[c] + 4*r, accf[c][r]);
    }
};

} // namespace

void tq_gemm_group(int64_t nb, const block_tqx16 * w, const char * panels, int64_t ncols, float ** dst) {
    tq_gemm_tiles::group<tq_tile_kernel>(nb, w, panels, ncols, dst);
}

int tq_gemm_tile_width(void) {
    return tq_tile_kernel::width;
}

const char * tq_gemm_variant(void) {
    return "arm-neon-dotprod";
}

#endif // TQ_GEMM_ARM
