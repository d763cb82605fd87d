#pragma once
// tq_gguf: element-pair dequantizers for TQ2_0 / TQ1_0, in the convention of ggml-cuda's
// dequantize.cuh with qr == 1: v.x is weight iqs of block ib, v.y is weight iqs+1 (iqs even).
// Used by convert.cu (to_fp16/bf16/fp32, contiguous and strided: the cuBLAS fallback) and by
// getrows.cu. Included at the end of dequantize.cuh.

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
