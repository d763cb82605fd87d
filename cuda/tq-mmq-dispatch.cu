// tq_gguf: for TQ2_0 / TQ1_0 batches above the decode mat-vec (cuda/tq-mmv.cu), choose between the int8
// MMQ tiles (cuda/tq-mmq.cuh) and dequantize-to-F16 + cuBLAS (cuda/tq-dequantize.cuh).
//
// Why: ternary weights are exact in F16 and the dequantized matrix is at most 2 bytes per weight, so for
// prompt-sized batches cuBLAS's F16 tensor-core GEMM (what F16 models run) beats MMQ by more than the
// dequantize costs; for small batches the dequantize (a full F16 copy of the matrix per call) dominates.
// Hook (patch 20-cuda-tq): ggml_cuda_should_use_mmq returns this for TQ types on tensor-core GPUs.
// TQ_GGUF_CUDA_CUBLAS_MIN_BATCH=N: batches of N columns or more use cuBLAS (0: never; A/B measurements).
#include "common.cuh"

#include <cstdlib>

static int64_t tq_cublas_min_batch() {
    static const int64_t min_batch = [] {
        const char * e = getenv("TQ_GGUF_CUDA_CUBLAS_MIN_BATCH");
        return e == nullptr ? (int64_t) 256 : (int64_t) atoll(e);
    }();
    return min_batch;
}

bool ggml_cuda_tq_should_use_mmq(const int cc, const int64_t ne11, const int64_t n_experts) {
    if (n_experts > 0 || !fp16_mma_hardware_available(cc)) {
        return true; // MUL_MAT_ID: MMQ handles the expert routing; no fast F16 GEMM without tensor cores
    }
    const int64_t min_batch = tq_cublas_min_batch();
    return min_batch <= 0 || ne11 < min_batch;
}
