// tq_gguf: ggml-cuda entry points of the TQ2_0 / TQ1_0 decode mat-vec (kernel: tq-mmv-kernel.cuh).
// On by default for NVIDIA Ampere+ (int8 mma m16n8k32); TQ_GGUF_CUDA_MMV=0 falls back to mmvq
// (for A/B measurements).
#include "tq-mmv.cuh"
#include "tq-mmv-kernel.cuh"

#include <climits>
#include <cstdlib>
#include <cstring>

static bool tq_mmv_enabled() {
    static const bool enabled = [] {
        const char * e = getenv("TQ_GGUF_CUDA_MMV");
        return e == nullptr || strcmp(e, "0") != 0;
    }();
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

bool ggml_cuda_tq_mul_mat_vec(ggml_backend_cuda_context & ctx, const ggml_tensor * src0, const ggml_tensor * src1, ggml_tensor * dst) {
    if (!ggml_cuda_tq_mmv_applies(src0, src1, dst)) {
        return false;
    }
    const int nb    = (int) (src0->ne[0] / QK_K);
    const int nrows = (int) src0->ne[1];
    const int ncols = (int) src1->ne[1];
    cudaStream_t stream = ctx.stream();

    // int8 activations (ncols*K bytes, in the kernel's permuted order) and (d, d*sum) per block/column
    ggml_cuda_pool_alloc<int>    yq(ctx.pool(), (size_t) ncols*nb*QK_K/4);
    ggml_cuda_pool_alloc<float2> ym(ctx.pool(), (size_t) nb*tq_mmv::MAX_COLS);

    const char  * x = (const char *) src0->data;
    const float * y = (const float *) src1->data;
    float       * d = (float *) dst->data;
    const int64_t sy = src1->nb[1] / sizeof(float);
    const int64_t sd = dst->nb[1] / sizeof(float);
    if (src0->type == GGML_TYPE_TQ2_0) {
        tq_mmv::mul_mat_vec<tq_mmv::TQ2>(x, y, yq.get(), ym.get(), d, nb, src0->nb[1], nrows, ncols, sy, sd, stream);
    } else {
        tq_mmv::mul_mat_vec<tq_mmv::TQ1>(x, y, yq.get(), ym.get(), d, nb, src0->nb[1], nrows, ncols, sy, sd, stream);
    }
    CUDA_CHECK(cudaGetLastError());
    return true;
}
