#pragma once
// tq_gguf: decode attention without flash attention in one launch (kernel: tq-attn-kernel.cuh). Reached from
// ggml_cuda_tq_try_fuse (tq-mmv.cu), so it needs no hook of its own in ggml-cuda.
#include "common.cuh"

// ggml-cuda's fusion pass at node i: MUL_MAT (KQ = K*Q, K an F16 cache view), SOFT_MAX (scale, mask, no ALiBi,
// no sinks) and MUL_MAT (KQV = V*softmax, V an F16 cache view with the positions contiguous: llama.cpp's
// transposed V cache) of 1..8 tokens per stream, head size 64 or 128, at most 1024 cache positions (a
// multiple of 8), KQ and softmax read by nothing else. Returns 3 (the nodes run) or 0 (none; ggml runs them).
// On sm_90 a head's positions are split over a thread-block cluster (TQ_GGUF_CUDA_ATTN_SPLIT=0: one CTA per
// head, as on other GPUs). TQ_GGUF_CUDA_ATTN=0 turns it off (A/B).
int ggml_cuda_tq_attn_try_fuse(ggml_backend_cuda_context & ctx, const ggml_cgraph * cgraph, int i);
