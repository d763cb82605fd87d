#pragma once
// tq_gguf: MMQ tensor-core inner product for TQ2_0 / TQ1_0 tiles (decoded by cuda/tq-mmq.cuh into the
// Q8_0 SRAM layout). Included at the end of ggml-cuda's mmq-vec-dot.cuh.
//
// Why not ggml's q8_0 x q8_1 mma product: it scales every m16n8k32 result (32 values of K) on its own:
// per thread and mma 4 int->float conversions, 4 multiply-adds and the two scales read from shared
// memory. TQ weights have one scale per 256 values and TQ activations are quantized with one scale per
// 128 (MMQ_Q8_1_DS_LAYOUT_D4_SHARED: the D4 layout with all four d equal), so the int32 sums of the 4
// mmas of a 128-value half are exact (|sum| <= 128*127) and get one conversion and scale.
// H100 (bench/results/gpu-h100-2026-11-22-s7), ratios within one call, before -> after: 8B pp512 with
// MMQ only 1.01x -> 1.26x Q4_0; batched decode at B = 64 (MMQ) 0.87x -> 0.98x F16.
// What bounds it now (ncu, 28672 x 8192, n = 64 / 512): one CTA of 8 warps per SM (registers and shared
// memory), issue slots 32-35% busy, LSU 42% / 37%, imma 17% / 12%: ggml's MMQ loop (load tiles, sync,
// multiply) has little to hide its latencies with.
// Tried and removed (session 7): converting with the 0x4B400000 + x float trick instead of I2F: MMQ
// n = 512 769 vs 756 us on 28672 x 8192.
//
// Layouts (as ggml's q8_0 path): x_qs [row][sram_stride] int8x4 (64 words = one TQ block), x_df
// [row][sram_stride] 8 floats per row after the 64 words (all = the block's d); y [col][MMQ_TILE_Y_K]:
// 4 floats d then 32 words of int8x4 (128 values).

template <ggml_type type, int J, bool fallback>
static __device__ __forceinline__ void ggml_cuda_mmq_vec_dot_tq_q8_1_mma(
        const int * __restrict__ x, const int * __restrict__ y, float * __restrict__ sum, const int k00) {
#if defined(AMD_MFMA_AVAILABLE) || defined(AMD_WMMA_AVAILABLE)
    ggml_cuda_mmq_vec_dot_q8_0_q8_1_mma<type, J, fallback, MMQ_Q8_1_DS_LAYOUT_D4>(x, y, sum, k00);
#else
    typedef tile<16, 8, int> tile_A;
    typedef tile< 8, 8, int> tile_B;
    typedef tile<16, 8, int> tile_C;

    constexpr int sram_stride   = ggml_cuda_mmq_get_sram_stride(type, J, fallback);
    constexpr int rows_per_warp = ggml_cuda_mmq_get_rows_per_warp(type, J, fallback);
    constexpr int ntx           = rows_per_warp/tile_C::I; // x minitiles per warp
    constexpr int nk            = MMQ_TILE_NE_K/QI8_0;     // mmas along K per 128 values

    y += (threadIdx.y % ntx) * (tile_C::J*MMQ_TILE_Y_K);

    const int   * x_qs = (const int   *) x;
    const float * x_df = (const float *) x_qs + 2*MMQ_TILE_NE_K;
    const int   * y_qs = (const int   *) y + 4;
    const float * y_df = (const float *) y;

    const int i0 = (threadIdx.y/ntx)*rows_per_warp;

    tile_A A[ntx][nk];
    float  dA[ntx][tile_C::ne/2]; // the block scale of the thread's two rows per minitile
#pragma unroll
    for (int n = 0; n < ntx; ++n) {
#pragma unroll
        for (int k01 = 0; k01 < MMQ_TILE_NE_K; k01 += QI8_0) {
            load_ldmatrix(A[n][k01/QI8_0], x_qs + (i0 + n*tile_A::I)*sram_stride + k00 + k01, sram_stride);
        }
#pragma unroll
        for (int l = 0; l < tile_C::ne/2; ++l) {
            const int i = i0 + n*tile_A::I + tile_C::get_i(2*l);
            dA[n][l] = x_df[i*sram_stride + k00/QI8_0];
        }
    }

#pragma unroll
    for (int j0 = 0; j0 < J; j0 += ntx*tile_C::J) {
        tile_C C[ntx]; // int32 sums over the 128 values (zero-initialized)
#pragma unroll
        for (int k01 = 0; k01 < MMQ_TILE_NE_K; k01 += QI8_0) {
            tile_B B;
            load_generic(B, y_qs + j0*MMQ_TILE_Y_K + k01, MMQ_TILE_Y_K);
#pragma unroll
            for (int n = 0; n < ntx; ++n) {
                mma(C[n], A[n][k01/QI8_0], B);
            }
        }

        float dB[tile_C::ne/2];
#pragma unroll
        for (int l = 0; l < tile_C::ne/2; ++l) {
            dB[l] = y_df[(j0 + tile_C::get_j(l))*MMQ_TILE_Y_K]; // d of the first 32 = the shared d
        }

#pragma unroll
        for (int n = 0; n < ntx; ++n) {
#pragma unroll
            for (int l = 0; l < tile_C::ne; ++l) {
                sum[(j0/tile_C::J + n)*tile_C::ne + l] += C[n].x[l]*dA[n][l/2]*dB[l%2];
            }
        }
    }
#endif // defined(AMD_MFMA_AVAILABLE) || defined(AMD_WMMA_AVAILABLE)
}
