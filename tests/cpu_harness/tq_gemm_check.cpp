// Standalone check of one ISA variant of the repacked TQ GEMM/GEMV (ggml_patches/cpu/tq-gemm-*.cpp
// with tq-repack-layout.cpp), built under that variant's flags (or cross-compiled for aarch64 and
// run under qemu-user). Reference: upstream's arithmetic restated on the standard layout (exact
// integer block sums of trit * q8, then (float) sumi * (d_w * d_y) accumulated over blocks).
// Random valid TQ1_0/TQ2_0 rows, full-range Q8_K activations, 16..64 rows, 1..9 blocks, every
// column count 1..40 (full panels of every tile width and every tail).
//
// usage: tq_gemm_check     prints "<variant> ok <cases>" (or "none" where this ISA has no GEMM)
#include "tq-gemm.h"
#include "ggml-impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vector>

static uint64_t st = 0x9E3779B97F4A7C15ULL;
static uint32_t rnd() { st ^= st << 13; st ^= st >> 7; st ^= st << 17; return (uint32_t) st; }

static int code_tq2(const block_tq2_0 & b, int e) { return (b.qs[32*(e/128) + e%32] >> (2*((e%128)/32))) & 3; }
static int code_tq1(const block_tq1_0 & b, int e) {
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    uint8_t q;
    if (e < 160)      q = (uint8_t) (b.qs[e % 32] * pow3[e / 32]);
    else if (e < 240) q = (uint8_t) (b.qs[32 + (e - 160) % 16] * pow3[(e - 160) / 16]);
    else              q = (uint8_t) (b.qh[(e - 240) % 4] * pow3[(e - 240) / 4]);
    return ((uint16_t) q * 3) >> 8;
}

int main() {
#if !defined(TQ_HAVE_GEMM)
    printf("none\n");
    return 0;
#else
    int bad = 0, cases = 0;
    for (int type = 34; type <= 35; ++type) {
        for (int t = 0; t < 12; ++t) {
            const int m = 16 * (1 + t % 4), nb = 1 + (t * 5) % 9, k = nb * QK_K;
            const size_t bsz = type == 35 ? sizeof(block_tq2_0) : sizeof(block_tq1_0);
            std::vector<uint8_t> w((size_t) m * nb * bsz);
            for (int r = 0; r < m; ++r) for (int i = 0; i < nb; ++i) {
                uint8_t * blk = w.data() + ((size_t) r*nb + i)*bsz;
                const ggml_half h = GGML_FP32_TO_FP16(((int) (rnd() % 3001) - 1500) / 1000.0f);
                if (type == 35) {
                    block_tq2_0 * b = (block_tq2_0 *) blk;
                    for (int j = 0; j < 64; ++j) b->qs[j] = (uint8_t) ((rnd()%3) | (rnd()%3) << 2 | (rnd()%3) << 4 | (rnd()%3) << 6);
                    b->d = h;
                } else {
                    block_tq1_0 * b = (block_tq1_0 *) blk;
                    for (int j = 0; j < 48; ++j) b->qs[j] = (uint8_t) (((int) (rnd() % 243) * 256 + 242) / 243);
                    for (int j = 0; j < 4; ++j)  b->qh[j] = (uint8_t) (((int) (rnd() % 81) * 3 * 256 + 242) / 243);
                    b->d = h;
                }
            }
            std::vector<block_tqx16> packed((size_t) (m / 16) * nb);
            tq_repack_rows(type, w.data(), m, k, packed.data());
            for (int n = 1; n <= 40; ++n) {
                std::vector<block_q8_K> y((size_t) n * nb);
                for (auto & b : y) {
                    b.d = (float) (rnd() % 1000 + 1) / 20000.0f;
                    for (int e = 0; e < QK_K; ++e) b.qs[e] = (int8_t) (rnd() % 256 - 128);
                    for (int g = 0; g < 16; ++g) { int s = 0; for (int e = 0; e < 16; ++e) s += b.qs[16*g + e]; b.bsums[g] = (int16_t) s; }
                }
                // activation panels (tq-gemm.h) of the kernel's tile width, then the tail panel
                const int64_t width = tq_gemm_tile_width();
                std::vector<char> panels(tq_panels_size(nb, n, width));
                for (int c = 0; c < n; ++c) {
                    int64_t pw;
                    const size_t off = tq_panel_offset(nb, n, width, c, &pw);
                    tq_pack_q8K_column(y.data() + (size_t) c*nb, nb, panels.data() + off, pw, c % width);
                }
                std::vector<float> out((size_t) n * m, NAN);
                std::vector<float *> dst(n);
                for (int g = 0; g < m / 16; ++g) {
                    for (int c = 0; c < n; ++c) dst[c] = out.data() + (size_t) c*m + 16*g;
                    tq_gemm_group(nb, packed.data() + (size_t) g*nb, panels.data(), n, dst.data());
                }
                for (int c = 0; c < n; ++c) for (int r = 0; r < m; ++r) {
                    float ref = 0; double mag = 0;
                    for (int i = 0; i < nb; ++i) {
                        const uint8_t * blk = w.data() + ((size_t) r*nb + i)*bsz;
                        const block_q8_K & yb = y[(size_t) c*nb + i];
                        int sumi = 0, asum = 0;
                        for (int e = 0; e < QK_K; ++e) {
                            const int code = type == 35 ? code_tq2(*(const block_tq2_0 *) blk, e) : code_tq1(*(const block_tq1_0 *) blk, e);
                            sumi += (code - 1) * yb.qs[e];
                            asum += abs(yb.qs[e]);
                        }
                        const ggml_half hd = type == 35 ? ((const block_tq2_0 *) blk)->d : ((const block_tq1_0 *) blk)->d;
                        const float d = yb.d * GGML_FP16_TO_FP32(hd);
                        ref += (float) sumi * d;
                        mag += (double) asum * fabs(d);
                    }
                    const float got = out[(size_t) c*m + r];
                    if (!(fabs(got - ref) <= 1e-5 * mag + 1e-30)) {
                        if (bad++ < 5) printf("type %d m %d k %d n %d col %d row %d: got %.9g ref %.9g\n", type, m, k, n, c, r, got, ref);
                    }
                }
                ++cases;
            }
        }
    }
    printf("%s %s %d\n", tq_gemm_variant(), bad ? "FAIL" : "ok", bad ? bad : cases);
    return bad != 0;
#endif
}
