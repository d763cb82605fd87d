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

#include <string.h>

void quantize_row_q8_K(const float * x, void * y, int64_t k);  // upstream (ggml-cpu)

#if defined(__AVX512F__) && defined(__AVX512BW__)
#include <immintrin.h>

void tq_quantize_row_q8_K(const float * x, void * vy, int64_t k) {
    block_q8_K * y = (block_q8_K *) vy;
    const int64_t nb = k / QK_K;
    const __m512 signbit = _mm512_set1_ps(-0.0f);
    for (int64_t i = 0; i < nb; ++i, x += QK_K) {
        __m512 vmax = _mm512_setzero_ps();
        for (int j = 0; j < 16; ++j) {
            vmax = _mm512_max_ps(vmax, _mm512_andnot_ps(signbit, _mm512_loadu_ps(x + 16*j)));
        }
        const float amax = _mm512_reduce_max_ps(vmax);
        if (!amax) {
            y[i].d = 0;
            memset(y[i].qs, 0, QK_K);
            memset(y[i].bsums, 0, sizeof(y[i].bsums));
            continue;
        }
        float max = 0;
        for (int j = 0; j < 16; ++j) {
            const __mmask16 m = _mm512_cmp_ps_mask(_mm512_andnot_ps(signbit, _mm512_loadu_ps(x + 16*j)),
                                                   _mm512_set1_ps(amax), _CMP_EQ_OQ);
            if (m) {
                max = x[16*j + __builtin_ctz(m)];
                break;
            }
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

#else

void tq_quantize_row_q8_K(const float * x, void * y, int64_t k) {
    quantize_row_q8_K(x, y, k);
}

#endif

// test entry point (ctypes): compare with ggml-cpu's quantize_row_q8_K byte for byte
void tq_gguf_test_quantize_q8_K(const float * x, void * y, int64_t k) {
    tq_quantize_row_q8_K(x, y, k);
}
