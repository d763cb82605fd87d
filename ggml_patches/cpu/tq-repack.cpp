// TQ1_0 / TQ2_0 weights repacked at load time into a 16-row interleaved 2-bit layout, with a
// GEMM (prompt processing) / GEMV (batch 1) on it, installed through ggml-cpu's repack extra
// buffer (repack.cpp calls the hooks in tq-repack.h; 11-cpu-tq-repack.patch).
//
// Layout (block_tqx16, 1056 bytes): 16 consecutive weight rows r = 0..15, one 256-column block.
//   d[r]             the row's TQ scale (fp16), as in the file
//   qs[64*p + 4*r + e], bits 2s..2s+1  =  code of row r, column 16*p + 4*s + e
//                    (p = 0..15, s = 0..3, e = 0..3; code = trit + 1 in {0,1,2})
// so one 64-byte load P_p gives, for s = 0..3, the vector V = (P_p >> 2s) & 3 whose 32-bit lane r
// holds row r's codes for 4 consecutive columns 16p+4s .. 16p+4s+3. One vpdpbusd of V with those
// 4 activation bytes broadcast to all lanes adds 64 products to 16 row sums: the weights are
// decoded once per tile of columns and every activation load is a 4-byte broadcast.
// A tensor's groups are stored one after another, each as its K/256 blocks in column order.
// TQ2_0 keeps its size (16 x 66 bytes = 1056); TQ1_0 (16 x 54 bytes) grows to 2.0625 bits per
// weight (tq_gguf_repack_alloc_size), trading 22% more memory for a decode of two vector ops.
//
// Arithmetic: per block and (row, column) the exact integer sum of code*q8, minus the Q8_K block
// sum (bsums), times (d_row * d_col) accumulated in float: upstream's reference arithmetic.
#include "tq-kernels.h"
#include "tq-repack.h"

#define GGML_COMMON_DECL_CPP
#include "ggml-common.h"
#include "ggml-backend-impl.h"
#include "ggml-impl.h"
#include "ggml-cpu.h"
#include "ggml-cpu-impl.h"
#include "traits.h"

#include <cstring>
#include <cassert>
#include <algorithm>
#include <vector>

#if defined(__AVX2__)
#    include <immintrin.h>
#    define TQ_REPACK_X86 1
#endif

namespace {

constexpr int TQ_ROWS = 16;

struct block_tqx16 {
    ggml_half d[TQ_ROWS];
    uint8_t   qs[TQ_ROWS * QK_K / 4];
};
static_assert(sizeof(block_tqx16) == TQ_ROWS * sizeof(block_tq2_0), "block_tqx16 must match 16 TQ2_0 blocks");

// --------------------------------------------------------------------------------- repacking

// codes (trit + 1) of one TQ2_0 block: element n at byte 32*(n/128) + n%32, shift 2*((n%128)/32)
static void tq2_0_codes(const block_tq2_0 * b, uint8_t * c) {
    for (int n = 0; n < QK_K; ++n) {
        c[n] = (b->qs[32*(n/128) + n%32] >> (2*((n%128)/32))) & 3;
    }
}

// codes of one TQ1_0 block: trit l of byte q is ((q*3^l mod 256) * 3) >> 8
static void tq1_0_codes(const block_tq1_0 * b, uint8_t * c) {
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    for (int l = 0; l < 5; ++l) {
        for (int m = 0; m < 32; ++m) {
            const uint8_t q = (uint8_t) (b->qs[m] * pow3[l]);
            c[32*l + m] = (uint8_t) (((uint16_t) q * 3) >> 8);
        }
        for (int m = 0; m < 16; ++m) {
            const uint8_t q = (uint8_t) (b->qs[32 + m] * pow3[l]);
            c[160 + 16*l + m] = (uint8_t) (((uint16_t) q * 3) >> 8);
        }
    }
    for (int l = 0; l < 4; ++l) {
        for (int j = 0; j < 4; ++j) {
            const uint8_t q = (uint8_t) (b->qh[j] * pow3[l]);
            c[240 + 4*l + j] = (uint8_t) (((uint16_t) q * 3) >> 8);
        }
    }
}

// rows of standard TQ data (nrows % 16 == 0, k % 256 == 0) -> block_tqx16 groups
static void tq_repack_rows(ggml_type type, const void * src, int64_t nrows, int64_t k, void * dst) {
    const int64_t nb = k / QK_K;
    const size_t row_size = ggml_row_size(type, k);
    block_tqx16 * out = (block_tqx16 *) dst;
    uint8_t codes[QK_K];
    for (int64_t g = 0; g < nrows / TQ_ROWS; ++g) {
        for (int64_t i = 0; i < nb; ++i) {
            block_tqx16 & o = out[g*nb + i];
            memset(o.qs, 0, sizeof(o.qs));
            for (int r = 0; r < TQ_ROWS; ++r) {
                const char * row = (const char *) src + (g*TQ_ROWS + r)*row_size;
                if (type == GGML_TYPE_TQ2_0) {
                    const block_tq2_0 * b = (const block_tq2_0 *) row + i;
                    o.d[r] = b->d;
                    tq2_0_codes(b, codes);
                } else {
                    const block_tq1_0 * b = (const block_tq1_0 *) row + i;
                    o.d[r] = b->d;
                    tq1_0_codes(b, codes);
                }
                for (int n = 0; n < QK_K; ++n) {
                    const int p = n / 16, s = (n / 4) % 4, e = n % 4;
                    o.qs[64*p + 4*r + e] |= (uint8_t) (codes[n] << (2*s));
                }
            }
        }
    }
}

// ------------------------------------------------------------------------------ GEMM kernels
//
// tq_gemm_tile<NC>: one group of 16 rows (nb blocks at w) against NC Q8_K activation rows
// (y, y + y_stride, ...); writes 16 floats to each dst[c].

#if defined(TQ_REPACK_X86)

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
static void tq_gemm_group(int64_t nb, const block_tqx16 * w, const char * y, size_t y_stride, int64_t ncols, float ** dst) {
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
        default: GGML_ABORT("tq_gemm_group: bad tail");
    }
}

#endif // TQ_REPACK_X86

// ------------------------------------------------------------------------- ggml integration

static bool tq_repack_eligible(const struct ggml_tensor * t) {
#if defined(TQ_REPACK_X86)
    return (t->type == GGML_TYPE_TQ1_0 || t->type == GGML_TYPE_TQ2_0) &&
           tq_gguf_cpu_repack_enabled() &&
           ggml_n_dims(t) == 2 && t->ne[0] % QK_K == 0 && t->ne[1] % TQ_ROWS == 0;
#else
    (void) t;
    return false;
#endif
}

#if defined(TQ_REPACK_X86)

// Columns (src1 rows, flattened over dims 1..3) per dynamic chunk of work are whole; chunks split
// the weight rows in multiples of 16. The chunk loop keeps a tile of TQ_NC_MAX activation rows
// (NC * K bytes, in L1) against all row groups of the chunk (in L2).
class tq_tensor_traits : public ggml::cpu::tensor_traits {
    bool work_size(int /* n_threads */, const struct ggml_tensor * op, size_t & size) override {
        if (op->op != GGML_OP_MUL_MAT) {
            return false;
        }
        size = ggml_row_size(GGML_TYPE_Q8_K, op->src[1]->ne[0]) * ggml_nrows(op->src[1]);
        return true;
    }

    bool compute_forward(struct ggml_compute_params * params, struct ggml_tensor * op) override {
        if (op->op != GGML_OP_MUL_MAT) {
            return false;
        }
        forward_mul_mat(params, op);
        return true;
    }

    void forward_mul_mat(struct ggml_compute_params * params, struct ggml_tensor * op) {
        const ggml_tensor * src0 = op->src[0];
        const ggml_tensor * src1 = op->src[1];
        ggml_tensor * dst = op;
        GGML_TENSOR_BINARY_OP_LOCALS

        const int ith = params->ith;
        const int nth = params->nth;

        GGML_ASSERT(ne00 == ne10 && ne00 % QK_K == 0);
        GGML_ASSERT(ne01 == ne0 && ne01 % TQ_ROWS == 0);
        GGML_ASSERT(ne02 == 1 && ne03 == 1);
        GGML_ASSERT(src1->type == GGML_TYPE_F32 && nb10 == sizeof(float));
        GGML_ASSERT(nb0 == sizeof(float));

        const int64_t ncols  = ne11*ne12*ne13;
        const size_t  row_q8 = ggml_row_size(GGML_TYPE_Q8_K, ne10);
        char * wdata = (char *) params->wdata;
        GGML_ASSERT(params->wsize >= row_q8*ncols);

        // activations -> Q8_K rows, column j = i11 + ne11*(i12 + ne12*i13)
        const ggml_from_float_t q8 = ggml_get_type_traits_cpu(GGML_TYPE_Q8_K)->from_float;
        for (int64_t j = ith; j < ncols; j += nth) {
            const int64_t i11 = j % ne11, i12 = (j / ne11) % ne12, i13 = j / (ne11*ne12);
            q8((const float *) ((const char *) src1->data + i11*nb11 + i12*nb12 + i13*nb13), wdata + j*row_q8, ne10);
        }

        const int64_t ngroups = ne01 / TQ_ROWS;
        const int64_t nchunk  = std::min<int64_t>(ngroups, 4*(int64_t) nth);
        if (ith == 0) {
            ggml_threadpool_chunk_set(params->threadpool, nth);
        }
        ggml_barrier(params->threadpool);

        const int64_t nb = ne00 / QK_K;
        const block_tqx16 * w = (const block_tqx16 *) src0->data;
        float * dcol[TQ_NC_MAX];

        for (int64_t chunk = ith; chunk < nchunk; chunk = ggml_threadpool_chunk_add(params->threadpool, 1)) {
            const int64_t g0 = chunk*ngroups/nchunk, g1 = (chunk + 1)*ngroups/nchunk;
            for (int64_t c0 = 0; c0 < ncols; c0 += TQ_NC_MAX) {
                const int64_t nc = std::min<int64_t>(TQ_NC_MAX, ncols - c0);
                for (int64_t g = g0; g < g1; ++g) {
                    for (int64_t c = 0; c < nc; ++c) {
                        const int64_t j = c0 + c;
                        const int64_t i11 = j % ne11, i12 = (j / ne11) % ne12, i13 = j / (ne11*ne12);
                        dcol[c] = (float *) ((char *) dst->data + i11*nb1 + i12*nb2 + i13*nb3) + g*TQ_ROWS;
                    }
                    tq_gemm_group(nb, w + g*nb, wdata + c0*row_q8, row_q8, nc, dcol);
                }
            }
        }
    }
};

static const tq_tensor_traits tq_traits_instance;

#endif // TQ_REPACK_X86

} // namespace

const ggml::cpu::tensor_traits * tq_gguf_repack_get_traits(const struct ggml_tensor * t) {
#if defined(TQ_REPACK_X86)
    if (tq_repack_eligible(t)) {
        return &tq_traits_instance;
    }
#endif
    (void) t;
    return nullptr;
}

extern "C" size_t tq_gguf_repack_alloc_size(const struct ggml_tensor * t) {
    if (!tq_repack_eligible(t)) {
        return 0;
    }
    return (size_t) (t->ne[1] / TQ_ROWS) * (size_t) (t->ne[0] / QK_K) * sizeof(block_tqx16);
}

extern "C" int tq_gguf_repack_set_tensor(struct ggml_tensor * t, const void * data, size_t size) {
    if (size != ggml_nbytes(t)) {
        return 1;
    }
    if (!tq_repack_eligible(t)) {
        // stored as is (the buffer was asked to hold a tensor we do not claim: supports_op is
        // false for it, so ggml-cpu runs the ordinary vec_dot path on the standard layout)
        memcpy(t->data, data, size);
        return 0;
    }
    GGML_LOG_DEBUG("%s: repack tensor %s with %s_x16\n", __func__, t->name, ggml_type_name(t->type));
    tq_repack_rows(t->type, data, t->ne[1], t->ne[0], t->data);
    return 0;
}

// ------------------------------------------------------------------- test entry points (ctypes)

// Repack nrows x k standard TQ data (type = GGML_TYPE_TQ1_0 or TQ2_0) into dst
// (nrows/16 * k/256 * 1056 bytes). Returns 0, or 1 when this build has no repacked kernels.
extern "C" TQ_API int tq_gguf_test_repack(int type, const void * src, int64_t nrows, int64_t k, void * dst) {
#if defined(TQ_REPACK_X86)
    if ((type != GGML_TYPE_TQ1_0 && type != GGML_TYPE_TQ2_0) || nrows % TQ_ROWS || k % QK_K) {
        return 1;
    }
    tq_repack_rows((ggml_type) type, src, nrows, k, dst);
    return 0;
#else
    (void) type; (void) src; (void) nrows; (void) k; (void) dst;
    return 1;
#endif
}

// dst[j*nrows + r] = dot(weight row r, activation row j) for repacked weights and ncols Q8_K rows.
extern "C" TQ_API int tq_gguf_test_gemm(int64_t k, const void * packed, int64_t nrows, const void * yq8, int64_t ncols, float * dst) {
#if defined(TQ_REPACK_X86)
    const int64_t nb = k / QK_K;
    const size_t row_q8 = ggml_row_size(GGML_TYPE_Q8_K, k);
    std::vector<float *> dcol(ncols);
    for (int64_t g = 0; g < nrows / TQ_ROWS; ++g) {
        for (int64_t j = 0; j < ncols; ++j) dcol[j] = dst + j*nrows + g*TQ_ROWS;
        tq_gemm_group(nb, (const block_tqx16 *) packed + g*nb, (const char *) yq8, row_q8, ncols, dcol.data());
    }
    return 0;
#else
    (void) k; (void) packed; (void) nrows; (void) yq8; (void) ncols; (void) dst;
    return 1;
#endif
}
