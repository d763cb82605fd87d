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

#define TQ_NC_LIMIT 64  // the widest panel any kernel may ask for

// Work split: activations are quantized to Q8_K and packed into column panels (tq-gemm.h) of
// tq_gemm_tile_width() columns, whole panels per thread (no two threads write one panel's cache
// lines). Then dynamic chunks split the weight rows in multiples of 16; a chunk keeps one panel
// (NC * K activation bytes, L1/L2) against all row groups of the chunk (in L2), panel after panel.
class tq_tensor_traits : public ggml::cpu::tensor_traits {
    bool work_size(int /* n_threads */, const struct ggml_tensor * op, size_t & size) override {
        if (op->op != GGML_OP_MUL_MAT) {
            return false;
        }
        size = tq_panels_size(op->src[1]->ne[0] / QK_K, ggml_nrows(op->src[1]), tq_gemm_tile_width());
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

        const int64_t nb     = ne00 / QK_K;
        const int64_t ncols  = ne11*ne12*ne13;
        const int64_t width  = tq_gemm_tile_width();
        const int64_t npanel = (ncols + width - 1) / width;
        char * panels = (char *) params->wdata;
        GGML_ASSERT(params->wsize >= tq_panels_size(nb, ncols, width));

        // column j = i11 + ne11*(i12 + ne12*i13) of src1 and dst
        auto src1_col = [&](int64_t j) {
            const int64_t i11 = j % ne11, i12 = (j / ne11) % ne12, i13 = j / (ne11*ne12);
            return (const float *) ((const char *) src1->data + i11*nb11 + i12*nb12 + i13*nb13);
        };
        auto dst_col = [&](int64_t j) {
            const int64_t i11 = j % ne11, i12 = (j / ne11) % ne12, i13 = j / (ne11*ne12);
            return (float *) ((char *) dst->data + i11*nb1 + i12*nb2 + i13*nb3);
        };

        // activations -> Q8_K (byte-identical to ggml-cpu's from_float) written into the panels
        for (int64_t panel = ith; panel < npanel; panel += nth) {
            int64_t nc;
            char * pp = panels + tq_panel_offset(nb, ncols, width, panel*width, &nc);
            for (int64_t c = 0; c < nc; ++c) {
                tq_quantize_q8K_panel_column(src1_col(panel*width + c), ne10, pp, nc, c);
            }
        }

        const int64_t ngroups = ne01 / TQ_ROWS;
        const int64_t nchunk  = std::min<int64_t>(ngroups, 4*(int64_t) nth);
        if (ith == 0) {
            ggml_threadpool_chunk_set(params->threadpool, nth);
        }
        ggml_barrier(params->threadpool);

        const block_tqx16 * w = (const block_tqx16 *) src0->data;
        float * dcol0[TQ_NC_LIMIT];
        float * dcol[TQ_NC_LIMIT];
        GGML_ASSERT(width <= TQ_NC_LIMIT);

        for (int64_t chunk = ith; chunk < nchunk; chunk = ggml_threadpool_chunk_add(params->threadpool, 1)) {
            const int64_t g0 = chunk*ngroups/nchunk, g1 = (chunk + 1)*ngroups/nchunk;
            for (int64_t panel = 0; panel < npanel; ++panel) {
                int64_t nc;
                const char * pp = panels + tq_panel_offset(nb, ncols, width, panel*width, &nc);
                for (int64_t c = 0; c < nc; ++c) {
                    dcol0[c] = dst_col(panel*width + c);
                }
                for (int64_t g = g0; g < g1; ++g) {
                    for (int64_t c = 0; c < nc; ++c) {
                        dcol[c] = dcol0[c] + g*TQ_ROWS;
                    }
                    tq_gemm_group(nb, w + g*nb, pp, nc, dcol);
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
    const int64_t width = tq_gemm_tile_width();
    std::vector<char> panels(tq_panels_size(nb, ncols, width));
    for (int64_t j = 0; j < ncols; ++j) {
        int64_t nc;
        const size_t off = tq_panel_offset(nb, ncols, width, j, &nc);
        tq_pack_q8K_column((const block_q8_K *) yq8 + j*nb, nb, panels.data() + off, nc, j % width);
    }
    std::vector<float *> dcol(ncols);
    for (int64_t g = 0; g < nrows / TQ_ROWS; ++g) {
        for (int64_t j = 0; j < ncols; ++j) dcol[j] = dst + j*nrows + g*TQ_ROWS;
        tq_gemm_group(nb, (const block_tqx16 *) packed + g*nb, panels.data(), ncols, dcol.data());
    }
    return 0;
#else
    (void) k; (void) packed; (void) nrows; (void) yq8; (void) ncols; (void) dst;
    return 1;
#endif
}
