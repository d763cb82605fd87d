#pragma once
// tq_gguf: MMQ tile loaders for TQ2_0 / TQ1_0 (batched products and prompts on tensor cores).
// Included at the end of ggml-cuda's mmq-load-tiles.cuh.
//
// One MMQ iteration covers MMQ_ITER_K = 256 weights = exactly one TQ block per row. The loaders
// decode the block into the Q8_0 SRAM layout: per row 64 words of int8x4 holding the trits
// {-1,0,+1} in natural weight order, then 8 float scales (one per 32 weights, all equal to the
// block's d). Ternary codes are exact in int8, so only the activations are rounded. Products: on
// tensor cores cuda/tq-mmq-vec-dot.cuh (int32 sums over 128 values: the activations have one scale
// per 128, MMQ_Q8_1_DS_LAYOUT_D4_SHARED); dp4a GPUs use ggml-cuda's q8_0 x q8_1 product as it is.

#include "tq-common.cuh"

// codes {0,1,2} per byte -> int8 trits {-1,0,+1}: +0x7F never carries out of a byte, ^0x80 recentres.
static __device__ __forceinline__ int tq_codes_to_trits(const int c) {
    return (c + 0x7F7F7F7F) ^ (int) 0x80808080;
}

// Store one decoded int8x4 word at tile word index k of row i.
template <int sram_stride>
static __device__ __forceinline__ void tq_mmq_store(int * __restrict__ x_qs, const int i, const int k, const int v) {
#if defined(AMD_MFMA_AVAILABLE) || defined(TURING_MMA_AVAILABLE) || defined(AMD_WMMA_AVAILABLE)
    x_qs[i*sram_stride + k] = v;
#else
    x_qs[i*(2*MMQ_TILE_NE_K + 1) + k] = v;
#endif
}

// Scales: 8 lanes per row write the 8 per-32 scale slots; a warp covers 4 rows per pass.
template <ggml_type type, int J, bool fallback, typename block_t>
static __device__ __forceinline__ void tq_mmq_load_scales(
        const char * __restrict__ x, float * __restrict__ x_df, const int kbx0, const int i_max, const int stride) {
    constexpr int warp_size   = ggml_cuda_get_physical_warp_size();
    constexpr int nwarps      = ggml_cuda_mmq_get_nthreads(type, J, fallback) / warp_size;
    constexpr int I           = ggml_cuda_mmq_get_I(type, J, fallback);
    constexpr int sram_stride = ggml_cuda_mmq_get_sram_stride(type, J, fallback);
    constexpr int rows_per_warp = warp_size / 8;

    const int ksx = threadIdx.x % 8;
#pragma unroll
    for (int i0 = 0; i0 < I; i0 += nwarps*rows_per_warp) {
        int i = i0 + threadIdx.y*rows_per_warp + threadIdx.x/8;
        if (fallback) {
            i = min(i, i_max);
        }
        const block_t * bxi = (const block_t *) x + kbx0 + i*stride;
        const float d = bxi->d;
#if defined(AMD_MFMA_AVAILABLE) || defined(TURING_MMA_AVAILABLE) || defined(AMD_WMMA_AVAILABLE)
        x_df[i*sram_stride + ksx] = d;
#else
        x_df[i*(2*MMQ_TILE_NE_K/QI8_0) + i/(QI8_0/2) + ksx] = d;
#endif
    }
}

template <ggml_type type, int J, bool fallback>
static __device__ __forceinline__ float * tq_mmq_df_ptr(int * x_tile) {
#if defined(AMD_MFMA_AVAILABLE) || defined(TURING_MMA_AVAILABLE) || defined(AMD_WMMA_AVAILABLE)
    return (float *) (x_tile + 2*MMQ_TILE_NE_K);
#else
    constexpr int I = ggml_cuda_mmq_get_I(type, J, fallback);
    constexpr tile_x_sizes txs = mmq_get_dp4a_tile_x_sizes(GGML_TYPE_Q8_0, I);
    return (float *) (x_tile + txs.qs);
#endif
}

// TQ2_0: 16 lanes per row, lane w reads qs word w (bytes 4w..4w+3) and writes 4 tile words:
// shift s -> weights 128*(w/8) + 32s + 4*(w%8) + 0..3 -> tile word 32*(w/8) + 8s + w%8.
template <ggml_type type, int J, bool fallback> static __device__ __forceinline__ void ggml_cuda_mmq_load_tiles_tq2_0(
        const char * __restrict__ x, int * __restrict__ x_tile, const int kbx0, const int i_max, const int stride) {
    constexpr int warp_size   = ggml_cuda_get_physical_warp_size();
    constexpr int nwarps      = ggml_cuda_mmq_get_nthreads(type, J, fallback) / warp_size;
    constexpr int I           = ggml_cuda_mmq_get_I(type, J, fallback);
    constexpr int sram_stride = ggml_cuda_mmq_get_sram_stride(type, J, fallback);
    constexpr int threads_per_row = 16;
    constexpr int nrows = warp_size / threads_per_row;

    int * x_qs = x_tile;
    const int w = threadIdx.x % threads_per_row;
    const int kdst = 32*(w/8) + w%8;

#pragma unroll
    for (int i0 = 0; i0 < I; i0 += nrows*nwarps) {
        int i = i0 + threadIdx.y*nrows + threadIdx.x/threads_per_row;
        if (fallback) {
            i = min(i, i_max);
        }
        const block_tq2_0 * bxi = (const block_tq2_0 *) x + kbx0 + i*stride;
        const int q = get_int_b2(bxi->qs, w);
#pragma unroll
        for (int s = 0; s < 4; ++s) {
            tq_mmq_store<sram_stride>(x_qs, i, kdst + 8*s, tq_codes_to_trits(tq2_codes(q, s)));
        }
    }

    tq_mmq_load_scales<type, J, fallback, block_tq2_0>(x, tq_mmq_df_ptr<type, J, fallback>(x_tile), kbx0, i_max, stride);
}

// TQ1_0: qs[48] followed by qh[4] form 13 words. 16 lanes per row, lanes 13..15 idle.
//   word w < 8:  digit k -> weights 32k + 4w + 0..3          -> tile word 8k + w
//   word w < 12: digit k -> weights 160 + 16k + 4(w-8) + 0..3 -> tile word 40 + 4k + (w-8)
//   word 12 (qh): digit k < 4 -> weights 240 + 4k + 0..3      -> tile word 60 + k
template <ggml_type type, int J, bool fallback> static __device__ __forceinline__ void ggml_cuda_mmq_load_tiles_tq1_0(
        const char * __restrict__ x, int * __restrict__ x_tile, const int kbx0, const int i_max, const int stride) {
    constexpr int warp_size   = ggml_cuda_get_physical_warp_size();
    constexpr int nwarps      = ggml_cuda_mmq_get_nthreads(type, J, fallback) / warp_size;
    constexpr int I           = ggml_cuda_mmq_get_I(type, J, fallback);
    constexpr int sram_stride = ggml_cuda_mmq_get_sram_stride(type, J, fallback);
    constexpr int threads_per_row = 16;
    constexpr int nrows = warp_size / threads_per_row;

    int * x_qs = x_tile;
    const int w = threadIdx.x % threads_per_row;

    int kdst, kstep, ndig;
    if (w < 8) {
        kdst = w;            kstep = 8; ndig = 5;
    } else if (w < 12) {
        kdst = 40 + (w - 8); kstep = 4; ndig = 5;
    } else {
        kdst = 60;           kstep = 1; ndig = 4;
    }

    if (w < 13) {
#pragma unroll
        for (int i0 = 0; i0 < I; i0 += nrows*nwarps) {
            int i = i0 + threadIdx.y*nrows + threadIdx.x/threads_per_row;
            if (fallback) {
                i = min(i, i_max);
            }
            const block_tq1_0 * bxi = (const block_tq1_0 *) x + kbx0 + i*stride;
            tq1_state st = tq1_init(get_int_b2(bxi->qs, w)); // w == 12 reads qh (it follows qs)
#pragma unroll
            for (int k = 0; k < 5; ++k) {
                const int c = tq1_next(st);
                if (k < ndig) {
                    tq_mmq_store<sram_stride>(x_qs, i, kdst + kstep*k, tq_codes_to_trits(c));
                }
            }
        }
    }

    tq_mmq_load_scales<type, J, fallback, block_tq1_0>(x, tq_mmq_df_ptr<type, J, fallback>(x_tile), kbx0, i_max, stride);
}
