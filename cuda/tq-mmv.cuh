#pragma once
// tq_gguf: TQ2_0 / TQ1_0 decode mat-vec (src1 batch 1..8) on int8 tensor cores (cuda/tq-mmv-kernel.cuh).
// Hooks (patch 20-cuda-tq): ggml_cuda_mul_mat tries it before mmvq; the fused gate/up + GLU mat-vec
// (mmvq only) is declined where it applies, so that the plain MUL_MAT path reaches it.
#include "common.cuh"

// Whether ggml_cuda_tq_mul_mat_vec takes this MUL_MAT (TQ type, batch 1..8, 2D, supported layout).
bool ggml_cuda_tq_mmv_applies(const ggml_tensor * src0, const ggml_tensor * src1, const ggml_tensor * dst);

// Runs the kernel and returns true where it applies; else false (then mmvq / mmq run).
bool ggml_cuda_tq_mul_mat_vec(ggml_backend_cuda_context & ctx, const ggml_tensor * src0, const ggml_tensor * src1, ggml_tensor * dst);
