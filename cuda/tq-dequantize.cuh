#pragma once
// tq_gguf: TQ2_0 / TQ1_0 dequantizers for ggml-cuda. Included at the end of dequantize.cuh.
//   * element pairs in the convention of dequantize.cuh with qr == 1 (v.x is weight iqs of block ib,
//     v.y is weight iqs+1, iqs even): getrows.cu and convert.cu's strided (non-contiguous) converters;
//   * whole blocks, one warp each (below): convert.cu's contiguous to_fp16/bf16/fp32, i.e. the
//     dequantize in front of cuBLAS.

#include "tq-common.cuh"

static __device__ __forceinline__ void dequantize_tq2_0(const void * vx, const int64_t ib, const int iqs, float2 & v) {
    const block_tq2_0 * x = (const block_tq2_0 *) vx + ib;
    const float d = x->d;
    // iqs and iqs+1 share the byte row (iqs even, so they never straddle a 32-weight group)
    const int byte  = 32*(iqs/128) + iqs%32;
    const int shift = 2*((iqs%128)/32);
    const int c0 = (x->qs[byte + 0] >> shift) & 3;
    const int c1 = (x->qs[byte + 1] >> shift) & 3;
    v.x = (c0 - 1) * d;
    v.y = (c1 - 1) * d;
}

static __device__ __forceinline__ int tq1_0_trit_code(const block_tq1_0 * x, const int n) {
    if (n < 160) {
        return tq1_digit(x->qs[n%32], n/32);
    }
    if (n < 240) {
        return tq1_digit(x->qs[32 + (n - 160)%16], (n - 160)/16);
    }
    return tq1_digit(x->qh[(n - 240)%4], (n - 240)/4);
}

static __device__ __forceinline__ void dequantize_tq1_0(const void * vx, const int64_t ib, const int iqs, float2 & v) {
    const block_tq1_0 * x = (const block_tq1_0 *) vx + ib;
    const float d = x->d;
    v.x = (tq1_0_trit_code(x, iqs + 0) - 1) * d;
    v.y = (tq1_0_trit_code(x, iqs + 1) - 1) * d;
}

// Contiguous rows -> dst_t (float, half, nv_bfloat16): to_fp16/bf16/fp32 for the cuBLAS path of large
// batches (cuda/tq-mmq-dispatch.cu), where the dequantize is a full pass over the matrix per call. One warp
// per block; for each digit/shift the 32 lanes write 32 consecutive weights (coalesced stores), each
// lane reading its quant bytes once. 8 blocks per 256-thread CTA. The per-type part is the block body.
template <typename dst_t>
static __device__ __forceinline__ void dequantize_warp_block(const block_tq2_0 * x, const float d, dst_t * yb, const int lane) {
    const int q0 = x->qs[lane], q1 = x->qs[32 + lane]; // weights lane + 32s and 128 + lane + 32s
#pragma unroll
    for (int s = 0; s < 4; ++s) {
        yb[      32*s + lane] = (float) (((q0 >> (2*s)) & 3) - 1) * d;
        yb[128 + 32*s + lane] = (float) (((q1 >> (2*s)) & 3) - 1) * d;
    }
}

template <typename dst_t>
static __device__ __forceinline__ void dequantize_warp_block(const block_tq1_0 * x, const float d, dst_t * yb, const int lane) {
    const int b0 = x->qs[lane]; // weights lane + 32k, k < 5
#pragma unroll
    for (int k = 0; k < 5; ++k) {
        yb[32*k + lane] = (float) (tq1_digit(b0, k) - 1) * d;
    }
    if (lane < 16) { // weights 160 + lane + 16k, k < 5
        const int b1 = x->qs[32 + lane];
#pragma unroll
        for (int k = 0; k < 5; ++k) {
            yb[160 + 16*k + lane] = (float) (tq1_digit(b1, k) - 1) * d;
        }
    }
    if (lane < 4) { // weights 240 + lane + 4k, k < 4
        const int b2 = x->qh[lane];
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            yb[240 + 4*k + lane] = (float) (tq1_digit(b2, k) - 1) * d;
        }
    }
}

template <typename block_t, typename dst_t>
static __global__ void dequantize_block_tq_cont(const void * __restrict__ vx, dst_t * __restrict__ y, const int64_t nb) {
    const int64_t ib = (int64_t) blockIdx.x*(blockDim.x/WARP_SIZE) + threadIdx.x/WARP_SIZE;
    if (ib >= nb) {
        return;
    }
    const block_t * x = (const block_t *) vx + ib;
    dequantize_warp_block(x, (float) x->d, y + ib*QK_K, (int) (threadIdx.x % WARP_SIZE));
}

// block_t: block_tq2_0 or block_tq1_0 (convert.cu takes e.g. dequantize_row_tq_cuda<block_tq2_0>)
template <typename block_t, typename dst_t>
static void dequantize_row_tq_cuda(const void * vx, dst_t * y, const int64_t k, cudaStream_t stream) {
    const int64_t nb = k / QK_K;
    dequantize_block_tq_cont<block_t><<<(nb + 7) / 8, 8*WARP_SIZE, 0, stream>>>(vx, y, nb);
}
