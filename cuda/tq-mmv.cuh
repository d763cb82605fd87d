#pragma once
// tq_gguf: dedicated TQ2_0 mat-vec for decoding (src1 batch 1..8), selected by ggml_cuda_mul_mat
// before mmvq (hook in patch 20-cuda-tq). Returns false where it does not apply (then mmvq runs).
#include "common.cuh"

bool ggml_cuda_tq_mul_mat_vec(ggml_backend_cuda_context & ctx, const ggml_tensor * src0, const ggml_tensor * src1, ggml_tensor * dst);
