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

// ggml-cuda's fusion pass, at node i (returns how many nodes it ran, 0: none; a gate/up pair followed by its
// GLU alone is left to the function above):
//   * mat-vecs of one input in one launch (a Llama layer's Q/K/V projections): nodes i, i+1, .. (2 or 3)
//     that are MUL_MAT of TQ weights of one type and layout on the same src1, with the RESHAPE / VIEW,
//     ROPE (mode NORMAL) and SET_ROWS nodes right behind them that only rework their products (rope of
//     Q and K, the K/V cache stores) done in the launch's epilogue;
//   * RMS_NORM and MUL by the norm weight in front of those, or of a gate/up + GLU pair: the norm runs
//     inside the activation quantization (its output, read by nothing else, is never written);
//   * a single TQ mat-vec and the residual ADD behind it (an addend of the product's shape): the
//     mat-vec's epilogue writes the sum;
//   * a CONT that only copies (contiguous F32 in and out: the attention output at batch 1 without flash
//     attention), read by nothing but the TQ mat-vec behind it (and its residual ADD): the mat-vec reads
//     the CONT's source;
//   * the attention's KQ, softmax and KQV without flash attention (F16 caches, any weight type): one launch,
//     see ggml_cuda_tq_attn_try_fuse (tq-attn.cuh).
int ggml_cuda_tq_try_fuse(ggml_backend_cuda_context & ctx, const ggml_cgraph * cgraph, int i);

// Backend graph_optimize step (before ggml-alloc places the tensors): moves the later two of three TQ
// mat-vecs of one input (Q, K, V; in ggml's order each is followed by its own rope/reshape nodes) right
// after the first, so that ggml_cuda_tq_try_fuse finds them adjacent.
void ggml_cuda_tq_graph_optimize(ggml_cgraph * cgraph);
