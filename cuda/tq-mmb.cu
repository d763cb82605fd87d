// tq_gguf: ggml-cuda entry point of the TQ2_0 / TQ1_0 batched product (kernel: tq-mmb-kernel.cuh).
#include "tq-mmb.cuh"
#include "tq-mmb-kernel.cuh"

#include <climits>

static bool tq_mmb_enabled() {
    static const bool enabled = tq_mmv::env_switch_on("TQ_GGUF_CUDA_MMB");
    return enabled;
}

bool ggml_cuda_tq_mul_mat_batched(ggml_backend_cuda_context & ctx, const ggml_tensor * src0, const ggml_tensor * src1,
                                  ggml_tensor * dst) {
    if (!tq_mmb_enabled() || !ggml_cuda_is_tq_type(src0->type)) {
        return false;
    }
    const int cc = ggml_cuda_info().devices[ggml_cuda_get_device()].cc;
    if (!GGML_CUDA_CC_IS_NVIDIA(cc) || cc < GGML_CUDA_CC_HOPPER) {
        return false; // bulk copies: sm_90+
    }
    const int64_t ne00 = src0->ne[0], ne01 = src0->ne[1], ne11 = src1->ne[1];
    if (ne11 <= tq_mmv::MAX_COLS || ne11 > tq_mmb::MAX_BATCH || ne01 > INT_MAX / tq_mmb::MAX_BATCH ||
            !ggml_cuda_tq_is_plain_2d(src0, src1, dst) ||
            !tq_mmb::supported((int) (ne00 / QK_K), src0->nb[1], (uintptr_t) src0->data)) {
        return false;
    }
    const int nb        = (int) (ne00 / QK_K);
    const int ncols     = (int) ne11;
    const int ncols_pad = tq_mmb::ncols_padded(ncols);
    // int8 activations in the mma's B-fragment order and (d, d*sum) per block and column
    ggml_cuda_pool_alloc<int>    yq(ctx.pool(), (size_t) ncols_pad*nb*QK_K/4);
    ggml_cuda_pool_alloc<float2> ym(ctx.pool(), (size_t) ncols_pad*nb);
    tq_mmb::mmb_args a = {(const char *) src0->data, (int64_t) src0->nb[1], (int) ne01, nb,
                          (const float *) src1->data, (int64_t) (src1->nb[1] / sizeof(float)), ncols,
                          yq.get(), ym.get(), (float *) dst->data, (int64_t) (dst->nb[1] / sizeof(float)), ctx.stream()};
    const bool ran = src0->type == GGML_TYPE_TQ2_0 ? tq_mmb::mul_mat<tq_mmb::TQ2>(a) : tq_mmb::mul_mat<tq_mmb::TQ1>(a);
    CUDA_CHECK(cudaGetLastError());
    return ran;
}
