// Activation quantizer for the repacked TQ path: float rows -> Q8_K, byte-identical to upstream's
// quantize_row_q8_K_ref (which is what ggml-cpu's quantize_row_q8_K runs on x86: a scalar loop,
// a noticeable share of prompt processing once the matmuls are fast).
//
// Upstream per 256-block: amax = max |x|; max = the first x[j] with |x[j]| == amax; all zero if
// amax == 0; iscale = -127/max; q = min(127, round-half-even(iscale * x)); bsums over 16s;
// d = 1/iscale. The same float operations here, vectorised (max is exact in any order; the
// conversion uses the default rounding mode, round-half-even, like nearest_int's magic number).
#include "tq-kernels.h"

#define GGML_COMMON_DECL_C
#include "ggml-common.h"

#include <stdbool.h>
#include <string.h>

void quantize_row_q8_K(const float * x, void * y, int64_t k);  // upstream (ggml-cpu)
// tq-repack-layout.cpp (extern "C" in tq-gemm.h)
void tq_pack_q8K_column(const block_q8_K * row, int64_t nb, void * panel, int64_t nc, int64_t c);

#if defined(__AVX512F__) && defined(__AVX512BW__)
#include <immintrin.h>

// Upstream's block scale: false for an all-zero block; else *max = the first x[j] of largest
// magnitude (left 0 if none compares equal, as before this helper: only with NaNs).
static inline bool q8K_block_max(const float * x, float * max) {
    const __m512 signbit = _mm512_set1_ps(-0.0f);
    __m512 vmax = _mm512_setzero_ps();
    for (int j = 0; j < 16; ++j) {
        vmax = _mm512_max_ps(vmax, _mm512_andnot_ps(signbit, _mm512_loadu_ps(x + 16*j)));
    }
    const float amax = _mm512_reduce_max_ps(vmax);
    if (!amax) {
        return false;
    }
    *max = 0;
    for (int j = 0; j < 16; ++j) {
        const __mmask16 m = _mm512_cmp_ps_mask(_mm512_andnot_ps(signbit, _mm512_loadu_ps(x + 16*j)),
                                               _mm512_set1_ps(amax), _CMP_EQ_OQ);
        if (m) {
            *max = x[16*j + __builtin_ctz(m)];
            break;
        }
    }
    return true;
}

void tq_quantize_row_q8_K(const float * x, void * vy, int64_t k) {
    block_q8_K * y = (block_q8_K *) vy;
    const int64_t nb = k / QK_K;
    for (int64_t i = 0; i < nb; ++i, x += QK_K) {
        float max;
        if (!q8K_block_max(x, &max)) {
            y[i].d = 0;
            memset(y[i].qs, 0, QK_K);
            memset(y[i].bsums, 0, sizeof(y[i].bsums));
            continue;
        }
        const float iscale = -127.f/max;
        const __m512 vs = _mm512_set1_ps(iscale);
        for (int j = 0; j < 16; ++j) {
            __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(vs, _mm512_loadu_ps(x + 16*j)));
            v = _mm512_min_epi32(v, _mm512_set1_epi32(127));
            _mm_storeu_si128((__m128i *) (y[i].qs + 16*j), _mm512_cvtsepi32_epi8(v));
            y[i].bsums[j] = (int16_t) _mm512_reduce_add_epi32(v);
        }
        y[i].d = 1/iscale;
    }
}

// The same quantization written straight into column c of an activation panel of nc columns
// (tq-gemm.h: per block d[nc], neg_sum[nc], qs[16][nc][16]): each 16-value group j is one
// 16-byte store at qs[j][c], and the panel keeps minus the block's sum of q8 (no bsums needed:
// one vector sum reduced once per block instead of 16 reductions).
void tq_quantize_q8K_panel_column(const float * x, int64_t k, void * panel, int64_t nc, int64_t c) {
    const int64_t nb = k / QK_K;
    const size_t block_size = (size_t) nc * (sizeof(float) + sizeof(int32_t) + QK_K);
    for (int64_t i = 0; i < nb; ++i, x += QK_K) {
        char * blk = (char *) panel + (size_t) i * block_size;
        float   * d       = (float *) blk + c;
        int32_t * neg_sum = (int32_t *) (blk + nc*sizeof(float)) + c;
        int8_t  * qs      = (int8_t *) (blk + nc*(sizeof(float) + sizeof(int32_t))) + 16*c;
        float max;
        if (!q8K_block_max(x, &max)) {
            *d = 0;
            *neg_sum = 0;
            for (int j = 0; j < 16; ++j) {
                memset(qs + 16*nc*j, 0, 16);
            }
            continue;
        }
        const float iscale = -127.f/max;
        const __m512 vs = _mm512_set1_ps(iscale);
        __m512i vsum = _mm512_setzero_si512();
        for (int j = 0; j < 16; ++j) {
            __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(vs, _mm512_loadu_ps(x + 16*j)));
            v = _mm512_min_epi32(v, _mm512_set1_epi32(127));
            _mm_storeu_si128((__m128i *) (qs + 16*nc*j), _mm512_cvtsepi32_epi8(v));
            vsum = _mm512_add_epi32(vsum, v);
        }
        *neg_sum = -_mm512_reduce_add_epi32(vsum);
        *d = 1/iscale;
    }
}

#else

void tq_quantize_row_q8_K(const float * x, void * y, int64_t k) {
    quantize_row_q8_K(x, y, k);
}

// upstream's quantizer one block at a time, then the block copied into the panel
void tq_quantize_q8K_panel_column(const float * x, int64_t k, void * panel, int64_t nc, int64_t c) {
    const size_t block_size = (size_t) nc * (sizeof(float) + sizeof(int32_t) + QK_K);
    for (int64_t i = 0; i < k / QK_K; ++i) {
        // zeroed first: for an all-zero block upstream writes d and qs but leaves bsums alone
        block_q8_K q8;
        memset(&q8, 0, sizeof(q8));
        quantize_row_q8_K(x + i*QK_K, &q8, QK_K);
        tq_pack_q8K_column(&q8, 1, (char *) panel + (size_t) i * block_size, nc, c);
    }
}

#endif

// test entry points (ctypes): compare with ggml-cpu's quantize_row_q8_K byte for byte, and the
// fused panel quantizer with tq_quantize_row_q8_K + tq_pack_q8K_column
void tq_gguf_test_quantize_q8_K(const float * x, void * y, int64_t k) {
    tq_quantize_row_q8_K(x, y, k);
}

void tq_gguf_test_quantize_q8K_panel_column(const float * x, int64_t k, void * panel, int64_t nc, int64_t c) {
    tq_quantize_q8K_panel_column(x, k, panel, nc, c);
}

void tq_gguf_test_pack_q8K_column(const void * row, int64_t nb, void * panel, int64_t nc, int64_t c) {
    tq_pack_q8K_column((const block_q8_K *) row, nb, panel, nc, c);
}
