// tq_gguf: ggml-cuda entry points of the TQ2_0 / TQ1_0 decode mat-vec (kernel: tq-mmv-kernel.cuh).
// On by default for NVIDIA Ampere+ (int8 mma m16n8k32); TQ_GGUF_CUDA_MMV=0 falls back to mmvq,
// TQ_GGUF_CUDA_MMV_GLU=0 leaves gate/up + GLU unfused (two mat-vecs and ggml's GLU; for A/B measurements).
#include "tq-mmv.cuh"
#include "tq-mmv-kernel.cuh"

#include <climits>
#include <cstdlib>
#include <cstring>

static bool env_flag(const char * name) { // unset or anything but "0": on
    const char * e = getenv(name);
    return e == nullptr || strcmp(e, "0") != 0;
}

static bool tq_mmv_enabled() {
    static const bool enabled = env_flag("TQ_GGUF_CUDA_MMV");
    return enabled;
}

bool ggml_cuda_tq_mmv_applies(const ggml_tensor * src0, const ggml_tensor * src1, const ggml_tensor * dst) {
    if (!tq_mmv_enabled() || !ggml_cuda_is_tq_type(src0->type)) {
        return false;
    }
    const int cc = ggml_cuda_info().devices[ggml_cuda_get_device()].cc;
    if (!GGML_CUDA_CC_IS_NVIDIA(cc) || cc < GGML_CUDA_CC_AMPERE) {
        return false;
    }
    const int64_t ne00 = src0->ne[0], ne01 = src0->ne[1], ne11 = src1->ne[1];
    if (ne11 < 1 || ne11 > tq_mmv::MAX_COLS || ne01 > INT_MAX / 8 ||
            src0->ne[2] != 1 || src0->ne[3] != 1 || src1->ne[2] != 1 || src1->ne[3] != 1 ||
            src1->type != GGML_TYPE_F32 || dst->type != GGML_TYPE_F32 ||
            src1->nb[0] != sizeof(float) || dst->nb[0] != sizeof(float) || dst->ne[1] != ne11 ||
            src1->nb[1] % 16 != 0 || (uintptr_t) src1->data % 16 != 0 || ne00 % QK_K != 0) {
        return false;
    }
    return tq_mmv::supported((int) (ne00 / QK_K), src0->nb[1], (uintptr_t) src0->data);
}

// dst = glu(gate y, up y) for gate/up weights of the same type, shape and layout (gate may be null:
// then a plain mat-vec into dst).
static void tq_mul_mat_vec_run(ggml_backend_cuda_context & ctx, const ggml_tensor * up, const ggml_tensor * gate,
                               const int glu, const ggml_tensor * src1, ggml_tensor * dst) {
    const int nb    = (int) (up->ne[0] / QK_K);
    const int nrows = (int) up->ne[1];
    const int ncols = (int) src1->ne[1];
    cudaStream_t stream = ctx.stream();

    // int8 activations (ncols*K bytes, in the kernel's permuted order) and (d, d*sum) per block/column
    ggml_cuda_pool_alloc<int>    yq(ctx.pool(), (size_t) ncols*nb*QK_K/4);
    ggml_cuda_pool_alloc<float2> ym(ctx.pool(), (size_t) nb*tq_mmv::MAX_COLS);

    // the kernel's x is the gate of a pair (its rows go through the activation), x_up the up projection
    const char  * x    = (const char *) (gate ? gate->data : up->data);
    const char  * x_up = gate ? (const char *) up->data : nullptr;
    const float * y    = (const float *) src1->data;
    float       * d    = (float *) dst->data;
    const int64_t sy = src1->nb[1] / sizeof(float);
    const int64_t sd = dst->nb[1] / sizeof(float);
    if (up->type == GGML_TYPE_TQ2_0) {
        tq_mmv::mul_mat_vec<tq_mmv::TQ2>(x, y, yq.get(), ym.get(), d, nb, up->nb[1], nrows, ncols, sy, sd, stream, 0, x_up, glu);
    } else {
        tq_mmv::mul_mat_vec<tq_mmv::TQ1>(x, y, yq.get(), ym.get(), d, nb, up->nb[1], nrows, ncols, sy, sd, stream, 0, x_up, glu);
    }
    CUDA_CHECK(cudaGetLastError());
}

bool ggml_cuda_tq_mul_mat_vec(ggml_backend_cuda_context & ctx, const ggml_tensor * src0, const ggml_tensor * src1, ggml_tensor * dst) {
    if (!ggml_cuda_tq_mmv_applies(src0, src1, dst)) {
        return false;
    }
    tq_mul_mat_vec_run(ctx, src0, nullptr, tq_mmv::GLU_NONE, src1, dst);
    return true;
}

bool ggml_cuda_tq_mul_mat_vec_glu(ggml_backend_cuda_context & ctx, const ggml_tensor * up_node, const ggml_tensor * gate,
                                  ggml_tensor * glu_node) {
    static const bool enabled = env_flag("TQ_GGUF_CUDA_MMV_GLU");
    const ggml_tensor * up   = up_node->src[0];
    const ggml_tensor * src1 = up_node->src[1];
    if (!enabled || up_node->op != GGML_OP_MUL_MAT || !ggml_cuda_tq_mmv_applies(up, src1, up_node) ||
            gate->type != up->type || !ggml_are_same_shape(gate, up) || !ggml_are_same_stride(gate, up) ||
            !tq_mmv::supported((int) (gate->ne[0] / QK_K), gate->nb[1], (uintptr_t) gate->data) ||
            ggml_get_op_params_i32(glu_node, 1) != 0 /* swapped */ || glu_node->type != GGML_TYPE_F32 ||
            !ggml_are_same_shape(glu_node, up_node) || glu_node->nb[0] != sizeof(float)) {
        return false;
    }
    int glu;
    switch (ggml_get_glu_op(glu_node)) {
        case GGML_GLU_OP_SWIGLU: glu = tq_mmv::GLU_SWIGLU; break;
        case GGML_GLU_OP_GEGLU:  glu = tq_mmv::GLU_GEGLU;  break;
        default: return false;
    }
    tq_mul_mat_vec_run(ctx, up, gate, glu, src1, glu_node);
    return true;
}
