// GEMM / GEMV on the 16-row interleaved TQ layout (tq-gemm.h) for x86: AVX-512 (VNNI or BW) and
// AVX2 (AVX-VNNI where available).
#include "tq-gemm.h"
#include "tq-gemm-tiles.h"

#if defined(TQ_GEMM_X86)

#include <immintrin.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 flags the _mm512_undefined_*() pass-through inside its own _mm512_cvtph_ps /
// _mm512_cvtepi32_ps once wide tiles spill: a false positive in the intrinsic headers
#    pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace {

#ifndef TQ_PREFETCH
#    define TQ_PREFETCH 1024  // bytes ahead of the weight being read (one 16-row block)
#endif

// Activation panel of NC columns, block i (tq-gemm.h): scales, block sums, then qs[16][NC][16].
template <int NC>
struct tq_panel_block {
    const float   * d;
    const int32_t * neg_sum;
    const int8_t  * qs;
    tq_panel_block(const char * panel, int64_t i) {
        const char * b = panel + (size_t) i * tq_panel_block_size(NC);
        d   = (const float *) b;
        neg_sum = (const int32_t *) (b + NC*sizeof(float));
        qs  = (const int8_t *) (b + NC*(sizeof(float) + sizeof(int32_t)));
    }
    // the 4 activation bytes of column c at 16*p + 4*s .. +3, as one int32
    int32_t q4(int p, int c, int s) const {
        int32_t v;
        memcpy(&v, qs + (p*NC + c)*16 + 4*s, 4);
        return v;
    }
};

#if defined(__AVX512F__) && defined(__AVX512BW__)

// AVX-512: a 64-byte V covers all 16 rows. With VNNI one vpdpbusd per (V, column), and each
// column's integer sum starts at neg_sum (minus its block sum of q8, from the panel); without VNNI,
// vpmaddubsw into 16-bit lanes (per block each lane sums 64 pairs in [-512, 508]: fits int16
// exactly), one vpmaddwd per block, then + neg_sum.
//
// Per (p, s) the decode of V (vpsrlw + vpandd, on the ports that also run vpdpbusd) is shared by
// the NC columns of the panel, so wide panels (NC = 16) spend 2 of 18 vector ops on it. With 16
// columns the 16 int32 accumulators, V, the mask and P fill 19 of 32 zmm; the float sums per
// column live in memory (acc_f, L1), touched once per block.
// Few columns (GEMV, small batches) with VNNI: the 2-bit fields are not shifted down but only
// masked in place (P & (3 << 2s), one vpandd, no vpsrlw on the busy port 0): field s then
// multiplies 4^s times too much, so it gets its own accumulator chain, shifted right by 2s (exact:
// every term is a multiple of 4^s) before the chains are added. vpdpbusd does not saturate and
// 64 * 4 * 192 * 128 fits int32. Otherwise NA chains per column (several for 1-2 columns, so a
// lone chain of 64 dependent vpdpbusd does not bound the GEMV by latency).
struct tq_tile_kernel {
#if defined(__AVX512VNNI__)
    static constexpr int width = 16;
#else
    static constexpr int width = 8;  // 16 int16 + 16 float accumulators of 32 zmm
#endif

    template <int NC>
    static void tile(int64_t nb, const block_tqx16 * w, const char * panel, float ** dst) {
#if defined(__AVX512VNNI__)
        constexpr bool INPLACE = NC <= 4;
#else
        constexpr bool INPLACE = false;
#endif
        constexpr int NA = INPLACE ? 4 : NC == 1 ? 4 : NC == 2 ? 2 : 1;
        const __m512i m3 = _mm512_set1_epi8(3);
        alignas(64) float acc_f[NC][TQ_ROWS];
        memset(acc_f, 0, sizeof(acc_f));

        for (int64_t i = 0; i < nb; ++i) {
            const tq_panel_block<NC> yb(panel, i);
            __m512i acc[NC][NA];
            for (int c = 0; c < NC; ++c) {
                for (int a = 0; a < NA; ++a) {
#if defined(__AVX512VNNI__)
                    acc[c][a] = a == 0 ? _mm512_set1_epi32(yb.neg_sum[c]) : _mm512_setzero_si512();
#else
                    acc[c][a] = _mm512_setzero_si512();
#endif
                }
            }
            const uint8_t * q = w[i].qs;
            // 4 weight vectors per loop turn: 2-5% faster than 1 or 16 (scheduling room, fewer
            // loop-carried pointer updates), measured on the 16-column tile
#pragma GCC unroll 4
            for (int p = 0; p < 16; ++p) {
                // weights stream from L2 or memory once per tile: prefetch one block ahead (the
                // GEMV is otherwise bound by memory latency on one thread)
                _mm_prefetch((const char *) (q + 64*p) + TQ_PREFETCH, _MM_HINT_T0);
                const __m512i P = _mm512_loadu_si512((const void *) (q + 64*p));
                for (int s = 0; s < 4; ++s) {
                    const __m512i V = INPLACE ? _mm512_and_si512(P, _mm512_set1_epi8((char) (3 << (2*s))))
                                              : _mm512_and_si512(_mm512_srli_epi16(P, 2*s), m3);
                    for (int c = 0; c < NC; ++c) {
                        const __m512i b = _mm512_set1_epi32(yb.q4(p, c, s));
#if defined(__AVX512VNNI__)
                        acc[c][s % NA] = _mm512_dpbusd_epi32(acc[c][s % NA], V, b);
#else
                        acc[c][s % NA] = _mm512_add_epi16(acc[c][s % NA], _mm512_maddubs_epi16(V, b));
                        if constexpr (NC > 1) {
                            __asm__("" : "+v"(acc[c][s % NA]));  // no add trees (see the AVX2 kernel)
                        }
#endif
                    }
                }
            }
            const __m512 dx = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *) w[i].d));
            for (int c = 0; c < NC; ++c) {
#if defined(__AVX512VNNI__)
                __m512i a = acc[c][0];
                for (int k = 1; k < NA; ++k) {
                    a = _mm512_add_epi32(a, INPLACE ? _mm512_srai_epi32(acc[c][k], 2*k) : acc[c][k]);
                }
#else
                // 16-bit chains hold at most 64 pair sums each: exact (see above); widen, then add
                __m512i a = _mm512_madd_epi16(acc[c][0], _mm512_set1_epi16(1));
                for (int k = 1; k < NA; ++k) a = _mm512_add_epi32(a, _mm512_madd_epi16(acc[c][k], _mm512_set1_epi16(1)));
                a = _mm512_add_epi32(a, _mm512_set1_epi32(yb.neg_sum[c]));
#endif
                const __m512 d = _mm512_mul_ps(_mm512_set1_ps(yb.d[c]), dx);
                _mm512_store_ps(acc_f[c], _mm512_fmadd_ps(_mm512_cvtepi32_ps(a), d, _mm512_load_ps(acc_f[c])));
            }
        }
        for (int c = 0; c < NC; ++c) memcpy(dst[c], acc_f[c], sizeof(acc_f[c]));
    }
};

#else

// AVX2: V as two 32-byte halves (rows 0-7, rows 8-15). AVX-VNNI vpdpbusd where available (sums
// start at neg_sum), otherwise vpmaddubsw into 16-bit lanes (exact per block, see above) + one
// vpmaddwd per block, then + neg_sum.
struct tq_tile_kernel {
    static constexpr int width = 4;  // 8 int32 accumulators of 16 ymm

    template <int NC>
    static void tile(int64_t nb, const block_tqx16 * w, const char * panel, float ** dst) {
#if (defined(__AVX512VNNI__) && defined(__AVX512VL__)) || defined(__AVXVNNI__)
        constexpr bool VNNI = true;
#else
        constexpr bool VNNI = false;
#endif
        const __m256i m3 = _mm256_set1_epi8(3);
        __m256 accf[2*NC];
        for (int c = 0; c < 2*NC; ++c) accf[c] = _mm256_setzero_ps();

        for (int64_t i = 0; i < nb; ++i) {
            const tq_panel_block<NC> yb(panel, i);
            __m256i acc[2*NC];
            for (int c = 0; c < NC; ++c) {
                acc[2*c] = acc[2*c+1] = VNNI ? _mm256_set1_epi32(yb.neg_sum[c]) : _mm256_setzero_si256();
            }
            const uint8_t * q = w[i].qs;
            for (int p = 0; p < 16; ++p) {
                _mm_prefetch((const char *) (q + 64*p) + TQ_PREFETCH, _MM_HINT_T0);
                const __m256i P0 = _mm256_loadu_si256((const __m256i *) (q + 64*p));
                const __m256i P1 = _mm256_loadu_si256((const __m256i *) (q + 64*p + 32));
                for (int s = 0; s < 4; ++s) {
                    const __m256i V0 = _mm256_and_si256(_mm256_srli_epi16(P0, 2*s), m3);
                    const __m256i V1 = _mm256_and_si256(_mm256_srli_epi16(P1, 2*s), m3);
                    for (int c = 0; c < NC; ++c) {
                        const __m256i b = _mm256_set1_epi32(yb.q4(p, c, s));
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
                        acc[2*c]   = _mm256_dpbusd_epi32(acc[2*c],   V0, b);
                        acc[2*c+1] = _mm256_dpbusd_epi32(acc[2*c+1], V1, b);
#elif defined(__AVXVNNI__)
                        acc[2*c]   = _mm256_dpbusd_avx_epi32(acc[2*c],   V0, b);
                        acc[2*c+1] = _mm256_dpbusd_avx_epi32(acc[2*c+1], V1, b);
#else
                        acc[2*c]   = _mm256_add_epi16(acc[2*c],   _mm256_maddubs_epi16(V0, b));
                        acc[2*c+1] = _mm256_add_epi16(acc[2*c+1], _mm256_maddubs_epi16(V1, b));
                        // keep each product's add in place: left free, GCC reassociates the 16-bit
                        // adds of several columns into trees over all fields and spills most of the
                        // products (1.4x slower here; 1.1x in the AVX-512BW kernel). One column
                        // (GEMV) has the registers for its trees, and runs a little faster with them.
                        if constexpr (NC > 1) {
                            __asm__("" : "+x"(acc[2*c]), "+x"(acc[2*c+1]));
                        }
#endif
                    }
                }
            }
            const __m256 dx0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (w[i].d + 0)));
            const __m256 dx1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (w[i].d + 8)));
            for (int c = 0; c < NC; ++c) {
                __m256i a0 = acc[2*c], a1 = acc[2*c+1];
                if (!VNNI) {
                    const __m256i sy = _mm256_set1_epi32(yb.neg_sum[c]);
                    a0 = _mm256_add_epi32(_mm256_madd_epi16(a0, _mm256_set1_epi16(1)), sy);
                    a1 = _mm256_add_epi32(_mm256_madd_epi16(a1, _mm256_set1_epi16(1)), sy);
                }
                const __m256 dy = _mm256_set1_ps(yb.d[c]);
                accf[2*c]   = _mm256_fmadd_ps(_mm256_cvtepi32_ps(a0), _mm256_mul_ps(dy, dx0), accf[2*c]);
                accf[2*c+1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(a1), _mm256_mul_ps(dy, dx1), accf[2*c+1]);
            }
        }
        for (int c = 0; c < NC; ++c) {
            _mm256_storeu_ps(dst[c],     accf[2*c]);
            _mm256_storeu_ps(dst[c] + 8, accf[2*c+1]);
        }
    }
};

#endif

} // namespace

void tq_gemm_group(int64_t nb, const block_tqx16 * w, const char * panels, int64_t ncols, float ** dst) {
    tq_gemm_tiles::group<tq_tile_kernel>(nb, w, panels, ncols, dst);
}

int tq_gemm_tile_width(void) {
    return tq_tile_kernel::width;
}

const char * tq_gemm_variant(void) {
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)
    return "x86-avx512vnni";
#elif defined(__AVX512F__) && defined(__AVX512BW__)
    return "x86-avx512bw";
#elif (defined(__AVX512VNNI__) && defined(__AVX512VL__)) || defined(__AVXVNNI__)
    return "x86-avx2-vnni";
#else
    return "x86-avx2";
#endif
}

#endif // TQ_GEMM_X86
