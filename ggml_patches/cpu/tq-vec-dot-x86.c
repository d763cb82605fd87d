// TQ1_0 / TQ2_0 x Q8_K row dot products for x86: AVX-512BW (+VNNI vpdpbusd) and AVX2 (+AVX-VNNI).
//
// Both types are decoded to unsigned codes c = trit + 1 in {0,1,2} and multiplied with the signed
// Q8_K bytes by u8 x s8 instructions (vpdpbusd, or vpmaddubsw + vpmaddwd without VNNI); the
// block's sum of q8 (from Q8_K's bsums) is subtracted to get sum trit*q8. See tq-kernels.h.
//
// TQ2_0 block: byte b of qs holds, at bit shift 2j, element 128*(b/32) + 32*j + b%32.
// TQ1_0 block: qs[0:32] holds 5 trits per byte, trit l of byte m is element 32*l + m;
//              qs[32:48] likewise, element 160 + 16*l + m; qh[0:4] holds 4 trits, element 240 + 4*l + j.
//              Trit l of byte q: let m = q * 3^l (mod 256); trit = (3*m) >> 8, i.e. (m > 85) + (m > 170).
//              m for l+1 is 3*m (mod 256): two byte adds, no multiply.
#include "tq-kernels.h"

#if defined(TQ_VEC_DOT_X86)

#define GGML_COMMON_DECL_C
#include "ggml-common.h"
#include "ggml-impl.h"

#include <immintrin.h>
#include <assert.h>
#include <string.h>

static inline float tq_fp16_to_fp32(ggml_half h) {
    return _cvtsh_ss(h);
}

// 3*m mod 256, bytewise
// rows are contiguous, so prefetching past the end of one row reads the next row's start
#define TQ_PREFETCH_VD 512

#define TQ_MUL3_512(m) _mm512_add_epi8((m), _mm512_add_epi8((m), (m)))
#define TQ_MUL3_256(m) _mm256_add_epi8((m), _mm256_add_epi8((m), (m)))
#define TQ_MUL3_128(m) _mm_add_epi8((m), _mm_add_epi8((m), (m)))

#if defined(__AVX512F__) && defined(__AVX512BW__)

// ---------------------------------------------------------------- AVX-512BW (+VNNI)

// trit code (3*m)>>8 of every byte
static inline __m512i tq_trit512(__m512i m) {
    const __m512i one = _mm512_set1_epi8(1);
    const __mmask64 k1 = _mm512_cmpgt_epu8_mask(m, _mm512_set1_epi8(85));
    const __mmask64 k2 = _mm512_cmpgt_epu8_mask(m, _mm512_set1_epi8((char) 170));
    __m512i t = _mm512_maskz_mov_epi8(k1, one);
    return _mm512_mask_add_epi8(t, k2, t, one);
}

#if defined(__AVX512VNNI__)
// 16 int32 lanes += sum of 4 u8*s8 products
#    define TQ_DOT512(acc, u, s) (acc) = _mm512_dpbusd_epi32((acc), (u), (s))
#    define TQ_DOT512_INIT(acc) __m512i acc = _mm512_setzero_si512()
#    define TQ_DOT512_FINISH(acc) (acc)
#else
// without VNNI: 16-bit pair sums (|x| <= 2*2*128 per product pair, 4 of them per lane per block: no overflow)
#    define TQ_DOT512(acc, u, s) (acc) = _mm512_add_epi16((acc), _mm512_maddubs_epi16((u), (s)))
#    define TQ_DOT512_INIT(acc) __m512i acc = _mm512_setzero_si512()
#    define TQ_DOT512_FINISH(acc) _mm512_madd_epi16((acc), _mm512_set1_epi16(1))
#endif

// sum of a Q8_K block's 256 values as 8 int32 lanes, zero-extended to 16 lanes
static inline __m512i tq_bsums512(const int16_t * bsums) {
    const __m256i b = _mm256_loadu_si256((const __m256i *) bsums);
    return _mm512_zextsi256_si512(_mm256_madd_epi16(b, _mm256_set1_epi16(1)));
}

#if defined(__AVX512VNNI__)
// VNNI: no shifts and no lane shuffles. z = [qs[0:32] | qs[0:32]] masked with [0x03 | 0x0C] holds
// the fields of shifts 0 and 2 in place, i.e. the codes of elements 0..63 in order, times 1 (low
// half) and 4 (high half): one vpdpbusd with y[0:64] as loaded. Likewise [0x30 | 0xC0] against
// y[64:128] (times 16 and 64), and qs[32:64] against y[128:256]. vpdpbusd does not saturate
// (|lane| <= 2 * 4 * 192 * 128 per block); each lane's sum is a multiple of its scale, so an
// arithmetic shift per lane (vpsravd) makes it exact again.
void tq_vec_dot_tq2_0_q8_K(int n, float * s, size_t bs, const void * vx, size_t bx, const void * vy, size_t by, int nrc) {
    assert(nrc == 1);
    (void) bs; (void) bx; (void) by; (void) nrc;
    const block_tq2_0 * x = (const block_tq2_0 *) vx;
    const block_q8_K  * y = (const block_q8_K  *) vy;
    const int nb = n / QK_K;
    const __m512i mA = _mm512_inserti64x4(_mm512_set1_epi8(0x03), _mm256_set1_epi8(0x0C), 1);
    const __m512i mB = _mm512_inserti64x4(_mm512_set1_epi8(0x30), _mm256_set1_epi8((char) 0xC0), 1);
    const __m512i sA = _mm512_inserti64x4(_mm512_set1_epi32(0), _mm256_set1_epi32(2), 1);
    const __m512i sB = _mm512_inserti64x4(_mm512_set1_epi32(4), _mm256_set1_epi32(6), 1);

    __m512 accf = _mm512_setzero_ps();
    for (int i = 0; i < nb; ++i) {
        _mm_prefetch((const char *) (x + i) + TQ_PREFETCH_VD, _MM_HINT_T0);
        const __m512i z0 = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *) (x[i].qs +  0)));
        const __m512i z1 = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *) (x[i].qs + 32)));
        __m512i accA = _mm512_setzero_si512();
        __m512i accB = _mm512_setzero_si512();
        accA = _mm512_dpbusd_epi32(accA, _mm512_and_si512(z0, mA), _mm512_loadu_si512((const void *) (y[i].qs +   0)));
        accB = _mm512_dpbusd_epi32(accB, _mm512_and_si512(z0, mB), _mm512_loadu_si512((const void *) (y[i].qs +  64)));
        accA = _mm512_dpbusd_epi32(accA, _mm512_and_si512(z1, mA), _mm512_loadu_si512((const void *) (y[i].qs + 128)));
        accB = _mm512_dpbusd_epi32(accB, _mm512_and_si512(z1, mB), _mm512_loadu_si512((const void *) (y[i].qs + 192)));
        const __m512i a = _mm512_add_epi32(_mm512_srav_epi32(accA, sA), _mm512_srav_epi32(accB, sB));
        const __m512i sumi = _mm512_sub_epi32(a, tq_bsums512(y[i].bsums));
        const float d = y[i].d * tq_fp16_to_fp32(x[i].d);
        accf = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi), _mm512_set1_ps(d), accf);
    }
    *s = _mm512_reduce_add_ps(accf);
}
#else
void tq_vec_dot_tq2_0_q8_K(int n, float * s, size_t bs, const void * vx, size_t bx, const void * vy, size_t by, int nrc) {
    assert(nrc == 1);
    (void) bs; (void) bx; (void) by; (void) nrc;
    const block_tq2_0 * x = (const block_tq2_0 *) vx;
    const block_q8_K  * y = (const block_q8_K  *) vy;
    const int nb = n / QK_K;
    const __m512i m3 = _mm512_set1_epi8(3);

    __m512 accf = _mm512_setzero_ps();
    for (int i = 0; i < nb; ++i) {
        _mm_prefetch((const char *) (x + i) + TQ_PREFETCH_VD, _MM_HINT_T0);
        const __m512i q  = _mm512_loadu_si512((const void *) x[i].qs);
        const __m512i y0 = _mm512_loadu_si512((const void *) (y[i].qs +   0));
        const __m512i y1 = _mm512_loadu_si512((const void *) (y[i].qs +  64));
        const __m512i y2 = _mm512_loadu_si512((const void *) (y[i].qs + 128));
        const __m512i y3 = _mm512_loadu_si512((const void *) (y[i].qs + 192));
        // shift 2j pairs byte b with element 128*(b/32) + 32*j + b%32: low half y[32j..], high half y[128+32j..]
        TQ_DOT512_INIT(acc);
        TQ_DOT512(acc, _mm512_and_si512(q, m3),                        _mm512_shuffle_i64x2(y0, y2, 0x44));
        TQ_DOT512(acc, _mm512_and_si512(_mm512_srli_epi16(q, 2), m3),  _mm512_shuffle_i64x2(y0, y2, 0xEE));
        TQ_DOT512(acc, _mm512_and_si512(_mm512_srli_epi16(q, 4), m3),  _mm512_shuffle_i64x2(y1, y3, 0x44));
        TQ_DOT512(acc, _mm512_and_si512(_mm512_srli_epi16(q, 6), m3),  _mm512_shuffle_i64x2(y1, y3, 0xEE));
        const __m512i sumi = _mm512_sub_epi32(TQ_DOT512_FINISH(acc), tq_bsums512(y[i].bsums));
        const float d = y[i].d * tq_fp16_to_fp32(x[i].d);
        accf = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi), _mm512_set1_ps(d), accf);
    }
    *s = _mm512_reduce_add_ps(accf);
}

#endif // __AVX512VNNI__

void tq_vec_dot_tq1_0_q8_K(int n, float * s, size_t bs, const void * vx, size_t bx, const void * vy, size_t by, int nrc) {
    assert(nrc == 1);
    (void) bs; (void) bx; (void) by; (void) nrc;
    const block_tq1_0 * x = (const block_tq1_0 *) vx;
    const block_q8_K  * y = (const block_q8_K  *) vy;
    const int nb = n / QK_K;

    __m512 accf = _mm512_setzero_ps();
    for (int i = 0; i < nb; ++i) {
        _mm_prefetch((const char *) (x + i) + TQ_PREFETCH_VD, _MM_HINT_T0);
        // a = qs[0:32] (elements 32*l + m), b = qs[32:48] (elements 160 + 16*l + m)
        const __m256i a0 = _mm256_loadu_si256((const __m256i *) x[i].qs);
        const __m128i b0 = _mm_loadu_si128((const __m128i *) (x[i].qs + 32));
        // qh trits l = 0..3 side by side: bytes 4*l + j = qh[j] * 3^l, elements 240 + 4*l + j
        uint32_t qh32;
        memcpy(&qh32, x[i].qh, 4);
        const __m128i h1  = _mm_set1_epi32((int) qh32);
        const __m128i h3  = TQ_MUL3_128(h1);
        const __m128i h9  = TQ_MUL3_128(h3);
        const __m128i h27 = TQ_MUL3_128(h9);
        const __m128i hv  = _mm_blend_epi32(_mm_blend_epi32(h1, h3, 0x2), _mm_blend_epi32(h9, h27, 0x8), 0xC);

        // z0 = [a | 3a] -> y[0:64]; z1 = [9a | 27a] -> y[64:128]
        const __m512i z0 = _mm512_inserti64x4(_mm512_castsi256_si512(a0), TQ_MUL3_256(a0), 1);
        const __m512i z1 = TQ_MUL3_512(TQ_MUL3_512(z0));
        const __m256i a81 = TQ_MUL3_256(_mm512_extracti64x4_epi64(z1, 1));
        // p0 = [b | 3b] -> y[160:192]; p1 = [9b | 27b] -> y[192:224]; p2 = [81b | qh] -> y[224:256]
        const __m256i p0 = _mm256_inserti128_si256(_mm256_castsi128_si256(b0), TQ_MUL3_128(b0), 1);
        const __m256i p1 = TQ_MUL3_256(TQ_MUL3_256(p0));
        const __m128i b81 = TQ_MUL3_128(_mm256_extracti128_si256(p1, 1));
        const __m256i p2 = _mm256_inserti128_si256(_mm256_castsi128_si256(b81), hv, 1);
        // z2 = [81a | p0] -> y[128:192]; z3 = [p1 | p2] -> y[192:256]
        const __m512i z2 = _mm512_inserti64x4(_mm512_castsi256_si512(a81), p0, 1);
        const __m512i z3 = _mm512_inserti64x4(_mm512_castsi256_si512(p1), p2, 1);

        TQ_DOT512_INIT(acc);
        TQ_DOT512(acc, tq_trit512(z0), _mm512_loadu_si512((const void *) (y[i].qs +   0)));
        TQ_DOT512(acc, tq_trit512(z1), _mm512_loadu_si512((const void *) (y[i].qs +  64)));
        TQ_DOT512(acc, tq_trit512(z2), _mm512_loadu_si512((const void *) (y[i].qs + 128)));
        TQ_DOT512(acc, tq_trit512(z3), _mm512_loadu_si512((const void *) (y[i].qs + 192)));
        const __m512i sumi = _mm512_sub_epi32(TQ_DOT512_FINISH(acc), tq_bsums512(y[i].bsums));
        const float d = tq_fp16_to_fp32(x[i].d) * y[i].d;
        accf = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi), _mm512_set1_ps(d), accf);
    }
    *s = _mm512_reduce_add_ps(accf);
}

#else

// ---------------------------------------------------------------- AVX2 (+AVX-VNNI)

// trit code (3*m)>>8 of every byte: min(m -sat 85, 1) + min(m -sat 170, 1)
static inline __m256i tq_trit256(__m256i m) {
    const __m256i one = _mm256_set1_epi8(1);
    const __m256i t1 = _mm256_min_epu8(_mm256_subs_epu8(m, _mm256_set1_epi8(85)), one);
    const __m256i t2 = _mm256_min_epu8(_mm256_subs_epu8(m, _mm256_set1_epi8((char) 170)), one);
    return _mm256_add_epi8(t1, t2);
}

#if defined(__AVXVNNI__) || (defined(__AVX512VNNI__) && defined(__AVX512VL__))
#    if defined(__AVX512VNNI__) && defined(__AVX512VL__)
#        define TQ_DOT256(acc, u, s) (acc) = _mm256_dpbusd_epi32((acc), (u), (s))
#    else
#        define TQ_DOT256(acc, u, s) (acc) = _mm256_dpbusd_avx_epi32((acc), (u), (s))
#    endif
#    define TQ_DOT256_FINISH(acc) (acc)
#else
// 16-bit pair sums: 8 per lane per block, |sum| <= 8*2*2*128: no overflow
#    define TQ_DOT256(acc, u, s) (acc) = _mm256_add_epi16((acc), _mm256_maddubs_epi16((u), (s)))
#    define TQ_DOT256_FINISH(acc) _mm256_madd_epi16((acc), _mm256_set1_epi16(1))
#endif

static inline __m256i tq_bsums256(const int16_t * bsums) {
    const __m256i b = _mm256_loadu_si256((const __m256i *) bsums);
    return _mm256_madd_epi16(b, _mm256_set1_epi16(1));
}

static inline float tq_hsum256(__m256 v) {
    __m128 r = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

void tq_vec_dot_tq2_0_q8_K(int n, float * s, size_t bs, const void * vx, size_t bx, const void * vy, size_t by, int nrc) {
    assert(nrc == 1);
    (void) bs; (void) bx; (void) by; (void) nrc;
    const block_tq2_0 * x = (const block_tq2_0 *) vx;
    const block_q8_K  * y = (const block_q8_K  *) vy;
    const int nb = n / QK_K;
    const __m256i m3 = _mm256_set1_epi8(3);

    __m256 accf = _mm256_setzero_ps();
    for (int i = 0; i < nb; ++i) {
        _mm_prefetch((const char *) (x + i) + TQ_PREFETCH_VD, _MM_HINT_T0);
        const __m256i q0 = _mm256_loadu_si256((const __m256i *) (x[i].qs +  0));
        const __m256i q1 = _mm256_loadu_si256((const __m256i *) (x[i].qs + 32));
        __m256i acc = _mm256_setzero_si256();
        for (int j = 0; j < 4; ++j) {
            const __m128i sh = _mm_cvtsi32_si128(2*j);
            const __m256i c0 = _mm256_and_si256(_mm256_srl_epi16(q0, sh), m3);
            const __m256i c1 = _mm256_and_si256(_mm256_srl_epi16(q1, sh), m3);
            TQ_DOT256(acc, c0, _mm256_loadu_si256((const __m256i *) (y[i].qs +       32*j)));
            TQ_DOT256(acc, c1, _mm256_loadu_si256((const __m256i *) (y[i].qs + 128 + 32*j)));
        }
        const __m256i sumi = _mm256_sub_epi32(TQ_DOT256_FINISH(acc), tq_bsums256(y[i].bsums));
        const float d = y[i].d * tq_fp16_to_fp32(x[i].d);
        accf = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_set1_ps(d), accf);
    }
    *s = tq_hsum256(accf);
}

void tq_vec_dot_tq1_0_q8_K(int n, float * s, size_t bs, const void * vx, size_t bx, const void * vy, size_t by, int nrc) {
    assert(nrc == 1);
    (void) bs; (void) bx; (void) by; (void) nrc;
    const block_tq1_0 * x = (const block_tq1_0 *) vx;
    const block_q8_K  * y = (const block_q8_K  *) vy;
    const int nb = n / QK_K;

    __m256 accf = _mm256_setzero_ps();
    for (int i = 0; i < nb; ++i) {
        _mm_prefetch((const char *) (x + i) + TQ_PREFETCH_VD, _MM_HINT_T0);
        uint32_t qh32;
        memcpy(&qh32, x[i].qh, 4);
        const __m128i h1  = _mm_set1_epi32((int) qh32);
        const __m128i h3  = TQ_MUL3_128(h1);
        const __m128i h9  = TQ_MUL3_128(h3);
        const __m128i h27 = TQ_MUL3_128(h9);
        const __m128i hv  = _mm_blend_epi32(_mm_blend_epi32(h1, h3, 0x2), _mm_blend_epi32(h9, h27, 0x8), 0xC);

        __m256i acc = _mm256_setzero_si256();
        // qs[0:32]: trit l against y[32*l : 32*l + 32]
        __m256i a = _mm256_loadu_si256((const __m256i *) x[i].qs);
        for (int l = 0; l < 5; ++l) {
            TQ_DOT256(acc, tq_trit256(a), _mm256_loadu_si256((const __m256i *) (y[i].qs + 32*l)));
            a = TQ_MUL3_256(a);
        }
        // p0 = [b | 3b] -> y[160:192]; p1 = [9b | 27b] -> y[192:224]; p2 = [81b | qh] -> y[224:256]
        const __m128i b0 = _mm_loadu_si128((const __m128i *) (x[i].qs + 32));
        const __m256i p0 = _mm256_inserti128_si256(_mm256_castsi128_si256(b0), TQ_MUL3_128(b0), 1);
        const __m256i p1 = TQ_MUL3_256(TQ_MUL3_256(p0));
        const __m128i b81 = TQ_MUL3_128(_mm256_extracti128_si256(p1, 1));
        const __m256i p2 = _mm256_inserti128_si256(_mm256_castsi128_si256(b81), hv, 1);
        TQ_DOT256(acc, tq_trit256(p0), _mm256_loadu_si256((const __m256i *) (y[i].qs + 160)));
        TQ_DOT256(acc, tq_trit256(p1), _mm256_loadu_si256((const __m256i *) (y[i].qs + 192)));
        TQ_DOT256(acc, tq_trit256(p2), _mm256_loadu_si256((const __m256i *) (y[i].qs + 224)));

        const __m256i sumi = _mm256_sub_epi32(TQ_DOT256_FINISH(acc), tq_bsums256(y[i].bsums));
        const float d = tq_fp16_to_fp32(x[i].d) * y[i].d;
        accf = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_set1_ps(d), accf);
    }
    *s = tq_hsum256(accf);
}

#endif // AVX-512BW / AVX2

const char * tq_gguf_cpu_vec_dot_variant(void) {
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)
    return "x86-avx512vnni";
#elif defined(__AVX512F__) && defined(__AVX512BW__)
    return "x86-avx512bw";
#elif defined(__AVXVNNI__) || (defined(__AVX512VNNI__) && defined(__AVX512VL__))
    return "x86-avx2-vnni";
#else
    return "x86-avx2";
#endif
}

#endif // TQ_VEC_DOT_X86
