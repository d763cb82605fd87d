#pragma once
// tq_gguf: TQ2_0 / TQ1_0 decode mat-vec (src1 batch 1..8) on int8 tensor cores (cuda/tq-mmv-kernel.cuh).
// Hooks (patch 20-cuda-tq): ggml_cuda_mul_mat tries it before mmvq; the graph's fused gate/up + GLU
// tries ggml_cuda_tq_mul_mat_vec_glu first (mmvq's own fused path is declined for TQ weights).
#include "common.cuh"

// Whether ggml_cuda_tq_mul_mat_vec takes this MUL_MAT (TQ type, batch 1..8, 2D, supported layout).
bool ggml_cuda_tq_mmv_applies(const ggml_tensor * src0, const ggml_tensor * src1, const ggml_tensor * dst);

// Runs the kernel and returns true where it applies; else false (then mmvq / mmq run).
bool ggml_cuda_tq_mul_mat_vec(ggml_backend_cuda_context & ctx, const ggml_tensor * src0, const ggml_tensor * src1, ggml_tensor * dst);

// ggml-cuda's fused {MUL_MAT gate, MUL_MAT up, GLU} (upstream does it in mmvq for other quant types): one
// activation quantization and one launch for both projections, glu_node gets glu(gate y, up y). Returns
// false (nothing run) where it does not apply: SWIGLU / GEGLU, not swapped, TQ weights of equal layout.
bool ggml_cuda_tq_mul_mat_vec_glu(ggml_backend_cuda_context & ctx, const ggml_tensor * up_node, const ggml_tensor * gate,
                                  ggml_tensor * glu_node);
