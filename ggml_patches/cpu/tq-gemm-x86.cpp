// GEMM / GEMV on the 16-row interleaved TQ layout (tq-gemm.h) for x86: AVX-512 (VNNI or BW) and
// AVX2 (AVX-VNNI where available).
#include "tq-gemm.h"

#if defined(TQ_GEMM_X86)

#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

namespace {

#ifndef TQ_PREFETCH
#    define TQ_PREFETCH 1024  // bytes ahead of the weight being read (one 16-row block)
#endif

// ------------------------------------------------------------------------------ GEMM kernels
//
// tq_gemm_tile<NC>: one group of 16 rows (nb blocks at w) against NC Q8_K activation rows
// (y, y + y_stride, ...); writes 16 floats to each dst[c].


static inline int tq_q8K_block_sum(const block_q8_K * b) {
    const __m256i s = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *) b->bsums), _mm256_set1_epi16(1));
    __m128i r = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    r = _mm_add_epi32(r, _mm_shuffle_epi32(r, 0x4E));
    r = _mm_add_epi32(r, _mm_shuffle_epi32(r, 0xB1));
    return _mm_cvtsi128_si32(r);
}

static inline int32_t tq_load_i32(const int8_t * p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

#if defined(__AVX512F__) && defined(__AVX512BW__)

// AVX-512: a 64-byte V covers all 16 rows. With VNNI one vpdpbusd per (V, column); without,
// vpmaddubsw into 16-bit lanes (per block each lane sums 64 pairs in [-512, 508]: fits int16
// exactly) and one vpmaddwd per block.
// Few columns (GEMV, small batches) with VNNI: the 2-bit fields are not shifted down but only
// masked in place (P & (3 << 2s), one vpandd, no vpsrlw on the busy port 0): field s then
// multiplies 4^s times too much, so it gets its own accumulator chain, shifted right by 2s (exact:
// every term is a multiple of 4^s) before the chains are added. vpdpbusd does not saturate and
// 64 * 4 * 192 * 128 fits int32. Otherwise NA chains per column (several for 1-2 columns, so a
// lone chain of 64 dependent vpdpbusd does not bound the GEMV by latency).
template <int NC>
static void tq_gemm_tile(int64_t nb, const block_tqx16 * w, const char * y, size_t y_stride, float ** dst) {
#if defined(__AVX512VNNI__)
    constexpr bool INPLACE = NC <= 4;
#else
    constexpr bool INPLACE = false;
#endif
    constexpr int NA = INPLACE ? 4 : NC == 1 ? 4 : NC == 2 ? 2 : 1;
    const __m512i m3 = _mm512_set1_epi8(3);
    __m512 accf[NC];
    for (int c = 0; c < NC; ++c) accf[c] = _mm512_setzero_ps();

    for (int64_t i = 0; i < nb; ++i) {
        const block_q8_K * yb[NC];
        for (int c = 0; c < NC; ++c) yb[c] = (const block_q8_K *) (y + c*y_stride) + i;
        __m512i acc[NC][NA];
        for (int c = 0; c < NC; ++c) for (int a = 0; a < NA; ++a) acc[c][a] = _mm512_setzero_si512();
        const uint8_t * q = w[i].qs;
        for (int p = 0; p < 16; ++p) {
            // weights stream from memory once per tile: prefetch a few blocks ahead (the GEMV is
            // otherwise bound by memory latency on one thread)
            _mm_prefetch((const char *) (q + 64*p) + TQ_PREFETCH, _MM_HINT_T0);
            const __m512i P = _mm512_loadu_si512((const void *) (q + 64*p));
            for (int s = 0; s < 4; ++s) {
                const __m512i V = INPLACE ? _mm512_and_si512(P, _mm512_set1_epi8((char) (3 << (2*s))))
                                          : _mm512_and_si512(_mm512_srli_epi16(P, 2*s), m3);
                for (int c = 0; c < NC; ++c) {
                    const __m512i b = _mm512_set1_epi32(tq_load_i32(yb[c]->qs + 16*p + 4*s));
#if defined(__AVX512VNNI__)
                    acc[c][s % NA] = _mm512_dpbusd_epi32(acc[c][s % NA], V, b);
#else
                    acc[c][s % NA] = _mm512_add_epi16(acc[c][s % NA], _mm512_maddubs_epi16(V, b));
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
#endif
            const __m512i sumi = _mm512_sub_epi32(a, _mm512_set1_epi32(tq_q8K_block_sum(yb[c])));
            const __m512  d    = _mm512_mul_ps(_mm512_set1_ps(yb[c]->d), dx);
            accf[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi), d, accf[c]);
        }
    }
    for (int c = 0; c < NC; ++c) _mm512_storeu_ps(dst[c], accf[c]);
}
#define TQ_NC_MAX 8  // columns per tile (16 int32 + 16 float accumulators of 32 zmm)

#else

// AVX2: V as two 32-byte halves (rows 0-7, rows 8-15). AVX-VNNI vpdpbusd where available,
// otherwise vpmaddubsw into 16-bit lanes (exact per block, see above) + one vpmaddwd per block.
template <int NC>
static void tq_gemm_tile(int64_t nb, const block_tqx16 * w, const char * y, size_t y_stride, float ** dst) {
    const __m256i m3 = _mm256_set1_epi8(3);
    __m256 accf[2*NC];
    for (int c = 0; c < 2*NC; ++c) accf[c] = _mm256_setzero_ps();

    for (int64_t i = 0; i < nb; ++i) {
        const block_q8_K * yb[NC];
        for (int c = 0; c < NC; ++c) yb[c] = (const block_q8_K *) (y + c*y_stride) + i;
        __m256i acc[2*NC];
        for (int c = 0; c < 2*NC; ++c) acc[c] = _mm256_setzero_si256();
        const uint8_t * q = w[i].qs;
        for (int p = 0; p < 16; ++p) {
            _mm_prefetch((const char *) (q + 64*p) + TQ_PREFETCH, _MM_HINT_T0);
            const __m256i P0 = _mm256_loadu_si256((const __m256i *) (q + 64*p));
            const __m256i P1 = _mm256_loadu_si256((const __m256i *) (q + 64*p + 32));
            for (int s = 0; s < 4; ++s) {
                const __m256i V0 = _mm256_and_si256(_mm256_srli_epi16(P0, 2*s), m3);
                const __m256i V1 = _mm256_and_si256(_mm256_srli_epi16(P1, 2*s), m3);
                for (int c = 0; c < NC; ++c) {
                    const __m256i b = _mm256_set1_epi32(tq_load_i32(yb[c]->qs + 16*p + 4*s));
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
                    acc[2*c]   = _mm256_dpbusd_epi32(acc[2*c],   V0, b);
                    acc[2*c+1] = _mm256_dpbusd_epi32(acc[2*c+1], V1, b);
#elif defined(__AVXVNNI__)
                    acc[2*c]   = _mm256_dpbusd_avx_epi32(acc[2*c],   V0, b);
                    acc[2*c+1] = _mm256_dpbusd_avx_epi32(acc[2*c+1], V1, b);
#else
                    acc[2*c]   = _mm256_add_epi16(acc[2*c],   _mm256_maddubs_epi16(V0, b));
                    acc[2*c+1] = _mm256_add_epi16(acc[2*c+1], _mm256_maddubs_epi16(V1, b));
#endif
                }
            }
        }
        const __m256 dx0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (w[i].d + 0)));
        const __m256 dx1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (w[i].d + 8)));
        for (int c = 0; c < NC; ++c) {
#if (defined(__AVX512VNNI__) && defined(__AVX512VL__)) || defined(__AVXVNNI__)
            const __m256i a0 = acc[2*c], a1 = acc[2*c+1];
#else
            const __m256i a0 = _mm256_madd_epi16(acc[2*c],   _mm256_set1_epi16(1));
            const __m256i a1 = _mm256_madd_epi16(acc[2*c+1], _mm256_set1_epi16(1));
#endif
            const __m256i sy = _mm256_set1_epi32(tq_q8K_block_sum(yb[c]));
            const __m256  dy = _mm256_set1_ps(yb[c]->d);
            accf[2*c]   = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(a0, sy)), _mm256_mul_ps(dy, dx0), accf[2*c]);
            accf[2*c+1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(a1, sy)), _mm256_mul_ps(dy, dx1), accf[2*c+1]);
        }
    }
    for (int c = 0; c < NC; ++c) {
        _mm256_storeu_ps(dst[c],     accf[2*c]);
        _mm256_storeu_ps(dst[c] + 8, accf[2*c+1]);
    }
}
#define TQ_NC_MAX 4  // columns per tile (8 int32 accumulators of 16 ymm)

#endif

// one group of 16 rows against ncols activation rows (any count: tiles of TQ_NC_MAX, then the rest)
} // namespace

// one group of 16 rows against ncols activation rows
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
#if TQ_NC_MAX > 4
        case 4: tq_gemm_tile<4>(nb, w, y + c*y_stride, y_stride, dst + c); break;
        case 5: tq_gemm_tile<5>(nb, w, y + c*y_stride, y_stride, dst + c); break;
        case 6: tq_gemm_tile<6>(nb, w, y + c*y_stride, y_stride, dst + c); break;
        case 7: tq_gemm_tile<7>(nb, w, y + c*y_stride, y_stride, dst + c); break;
#endif
        default: abort();
    }
}

int tq_gemm_tile_width(void) {
    return TQ_NC_MAX;
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
