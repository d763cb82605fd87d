#pragma once
// tq_gguf: TQ2_0 / TQ1_0 times a batch (src1 batch 9..512) on int8 tensor cores, Hopper bulk-copy
// pipeline (cuda/tq-mmb-kernel.cuh). Hook (patch 20-cuda-tq): ggml_cuda_mul_mat tries it right after the
// decode mat-vec (batch 1..8, cuda/tq-mmv.cuh); what it declines goes to MMQ or dequantize + cuBLAS.
#include "common.cuh"

// Runs the product and returns true where it applies (TQ type, batch 9..512, 2D, rows of whole 4-block
// stages, 8-byte aligned, sm_90+); else false. TQ_GGUF_CUDA_MMB=0 turns it off (A/B measurements).
bool ggml_cuda_tq_mul_mat_batched(ggml_backend_cuda_context & ctx, const ggml_tensor * src0, const ggml_tensor * src1,
                                  ggml_tensor * dst);
