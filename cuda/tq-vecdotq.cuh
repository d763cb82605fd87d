#pragma once
// tq_gguf: dot products of one TQ2_0 / TQ1_0 block slice with q8_1 activations, for ggml-cuda's
// mmvq kernel (mul_mat_vec_q: batch 1..8, MUL_MAT_ID, fused gate/up). Included at the end of
// vecdotq.cuh. Contract of the mmvq framework: a block of qk = 256 weights is shared by
// qi/vdr threads; thread iqs (a multiple of vdr) returns its partial dot product; bq8_1 points at
// the 8 q8_1 blocks (32 values each) aligned with the weight block.
//
// Both use codes c in {0,1,2} and fold the trit offset into "sum c*y - sum y" (sum y by a dp4a
// with 0x01010101), which keeps the decode to shift+mask (TQ2_0) or a few lane multiplies (TQ1_0).

#include "tq-common.cuh"

#define VDR_TQ2_0_Q8_1_MMVQ 2 // 2 words (8 bytes, 32 weights) per thread, 8 threads per block
#define VDR_TQ1_0_Q8_1_MMVQ 1 // see below: 32 weights per thread, 8 threads per block

// Thread iqs (even, 0..14) reads qs words iqs, iqs+1 = bytes 4*iqs..4*iqs+7 of half h = iqs/8.
// For shift s these are weights 128h + 32s + 4*(iqs%8) + 0..7: q8_1 block 4h+s, words iqs%8, +1.
static __device__ __forceinline__ float vec_dot_tq2_0_q8_1(
    const void * __restrict__ vbq, const block_q8_1 * __restrict__ bq8_1, const int & kbx, const int & iqs) {
    const block_tq2_0 * x = (const block_tq2_0 *) vbq + kbx;

    const int q0 = get_int_b2(x->qs, iqs + 0);
    const int q1 = get_int_b2(x->qs, iqs + 1);

    const block_q8_1 * by = bq8_1 + 4*(iqs/8);
    const int iy = iqs % 8;

    float sum = 0.0f;
#pragma unroll
    for (int s = 0; s < 4; ++s) {
        const int y0 = get_int_b4(by[s].qs, iy + 0);
        const int y1 = get_int_b4(by[s].qs, iy + 1);
        int sumi = ggml_cuda_dp4a(tq2_codes(q0, s), y0, 0);
        sumi     = ggml_cuda_dp4a(tq2_codes(q1, s), y1, sumi);
        int sumy = ggml_cuda_dp4a(0x01010101, y0, 0);
        sumy     = ggml_cuda_dp4a(0x01010101, y1, sumy);
        sum += __low2float(by[s].ds) * (sumi - sumy);
    }
    return __half2float(x->d) * sum;
}

// 8 threads per block, t = iqs in 0..7, 32 weights each:
//   A: qs word t (bytes 4t..4t+3), digits 0..4       -> weights 32k + 4t + 0..3   (q8_1 block k, word t)
//   B: bytes 2*(t%2), +1 of qs word 8 + t/2, digits 0..4 -> weights 160 + 16k + 4*(t/2) + ...
//                                                      (q8_1 block 5 + k/2, word 4*(k%2) + t/2), other bytes masked
//   C: qh byte t/2, digits 2*(t%2), +1               -> weights 240 + 4k + t/2     (q8_1 block 7, value 16 + 4k + t/2)
static __device__ __forceinline__ float vec_dot_tq1_0_q8_1(
    const void * __restrict__ vbq, const block_q8_1 * __restrict__ bq8_1, const int & kbx, const int & iqs) {
    const block_tq1_0 * x = (const block_tq1_0 *) vbq + kbx;
    const int t = iqs;

    float sum = 0.0f;

    {
        tq1_state st = tq1_init(get_int_b2(x->qs, t));
#pragma unroll
        for (int k = 0; k < 5; ++k) {
            const int c = tq1_next(st);
            const int y = get_int_b4(bq8_1[k].qs, t);
            const int sumi = ggml_cuda_dp4a(c, y, 0);
            const int sumy = ggml_cuda_dp4a(0x01010101, y, 0);
            sum += __low2float(bq8_1[k].ds) * (sumi - sumy);
        }
    }

    {
        const int w    = t/2;
        const int keep = (t & 1) ? (int) 0xFFFF0000 : 0x0000FFFF;
        const int ones = keep & 0x01010101;
        tq1_state st = tq1_init(get_int_b2(x->qs, 8 + w) & keep); // masked bytes decode to code 0
#pragma unroll
        for (int k = 0; k < 5; ++k) {
            const int c = tq1_next(st);
            const block_q8_1 * by = bq8_1 + 5 + k/2;
            const int y = get_int_b4(by->qs, 4*(k%2) + w);
            const int sumi = ggml_cuda_dp4a(c, y, 0);
            const int sumy = ggml_cuda_dp4a(ones, y, 0);
            sum += __low2float(by->ds) * (sumi - sumy);
        }
    }

    {
        const int b = x->qh[t/2];
        const block_q8_1 * by = bq8_1 + 7;
        int sumi = 0;
#pragma unroll
        for (int kk = 0; kk < 2; ++kk) {
            const int k = 2*(t & 1) + kk;
            sumi += (tq1_digit(b, k) - 1) * by->qs[16 + 4*k + t/2];
        }
        sum += __low2float(by->ds) * sumi;
    }

    return __half2float(x->d) * sum;
}
