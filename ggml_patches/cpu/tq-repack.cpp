// TQ1_0 / TQ2_0 weights in ggml-cpu's repack extra buffer (repack.cpp calls the hooks in
// tq-repack.h; 11-cpu-tq-repack.patch): at load time a weight whose rows come in groups of 16 is
// converted to the interleaved layout of tq-gemm.h, and its MUL_MATs run on tq_gemm_group
// (prompt processing: tiles of columns; token generation: the same kernel with one column).
#include "tq-kernels.h"
#include "tq-repack.h"
#include "tq-gemm.h"

#include "ggml-backend-impl.h"
#include "ggml-impl.h"
#include "ggml-cpu.h"
#include "ggml-cpu-impl.h"
#include "traits.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace {

// ------------------------------------------------------------------------- ggml integration

static bool tq_repack_eligible(const struct ggml_tensor * t) {
#if defined(TQ_HAVE_GEMM)
    return (t->type == GGML_TYPE_TQ1_0 || t->type == GGML_TYPE_TQ2_0) &&
           tq_gguf_cpu_repack_enabled() &&
           ggml_n_dims(t) == 2 && t->ne[0] % QK_K == 0 && t->ne[1] % TQ_ROWS == 0;
#else
    (void) t;
    return false;
#endif
}

#if defined(TQ_HAVE_GEMM)

// Columns (src1 rows, flattened over dims 1..3) per dynamic chunk of work are whole; chunks split
// the weight rows in multiples of 16. The chunk loop keeps a tile of tq_gemm_tile_width() activation rows
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
        // (tq_quantize_row_q8_K: byte-identical to ggml-cpu's Q8_K from_float, vectorised)
        for (int64_t j = ith; j < ncols; j += nth) {
            const int64_t i11 = j % ne11, i12 = (j / ne11) % ne12, i13 = j / (ne11*ne12);
            tq_quantize_row_q8_K((const float *) ((const char *) src1->data + i11*nb11 + i12*nb12 + i13*nb13), wdata + j*row_q8, ne10);
        }

        const int64_t ngroups = ne01 / TQ_ROWS;
        const int64_t nchunk  = std::min<int64_t>(ngroups, 4*(int64_t) nth);
        if (ith == 0) {
            ggml_threadpool_chunk_set(params->threadpool, nth);
        }
        ggml_barrier(params->threadpool);

        const int64_t nb = ne00 / QK_K;
        const block_tqx16 * w = (const block_tqx16 *) src0->data;
        float * dcol[64];
        const int64_t tile = tq_gemm_tile_width();

        for (int64_t chunk = ith; chunk < nchunk; chunk = ggml_threadpool_chunk_add(params->threadpool, 1)) {
            const int64_t g0 = chunk*ngroups/nchunk, g1 = (chunk + 1)*ngroups/nchunk;
            for (int64_t c0 = 0; c0 < ncols; c0 += tile) {
                const int64_t nc = std::min<int64_t>(tile, ncols - c0);
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

#endif // TQ_HAVE_GEMM

} // namespace

const ggml::cpu::tensor_traits * tq_gguf_repack_get_traits(const struct ggml_tensor * t) {
#if defined(TQ_HAVE_GEMM)
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
    tq_repack_rows((int) t->type, data, t->ne[1], t->ne[0], t->data);
    return 0;
}

// ------------------------------------------------------------------- test entry points (ctypes)

// Repack nrows x k standard TQ data (type = GGML_TYPE_TQ1_0 or TQ2_0) into dst
// (nrows/16 * k/256 * 1056 bytes). Returns 0, or 1 when this build has no repacked kernels.
extern "C" TQ_API int tq_gguf_test_repack(int type, const void * src, int64_t nrows, int64_t k, void * dst) {
#if defined(TQ_HAVE_GEMM)
    if ((type != GGML_TYPE_TQ1_0 && type != GGML_TYPE_TQ2_0) || nrows % TQ_ROWS || k % QK_K) {
        return 1;
    }
    tq_repack_rows(type, src, nrows, k, dst);
    return 0;
#else
    (void) type; (void) src; (void) nrows; (void) k; (void) dst;
    return 1;
#endif
}

// dst[j*nrows + r] = dot(weight row r, activation row j) for repacked weights and ncols Q8_K rows.
extern "C" TQ_API int tq_gguf_test_gemm(int64_t k, const void * packed, int64_t nrows, const void * yq8, int64_t ncols, float * dst) {
#if defined(TQ_HAVE_GEMM)
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
