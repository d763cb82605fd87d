// tq_gguf: TQ2_0 x q8_1 mat-vec for decoding (n = 1..8 columns), "TriRun"-style streaming.
//
// Why not the generic mmvq: a TQ2_0 block is 66 bytes, so blocks are only 2-byte aligned and mmvq
// reads weights with 16-bit loads. Here each warp streams its rows' bytes, 16 blocks (1056 bytes)
// at a time, into shared memory with cp.async (16-byte copies when the row is 16-byte aligned, else
// 4-byte copies), double-buffered so that chunk c+1 is in flight while chunk c is decoded. In
// shared memory two blocks (132 bytes = 33 words) are word aligned; the odd block of a pair is
// read with a 16-bit funnel shift. Decoding stays in registers: (q >> 2s) & 0x03030303 gives the
// codes of 4 weights, one dp4a per 4 weights, and the trit offset (-1) uses the q8_1 block sum:
// sum_i (c_i - 1) y_i = d_y * sum_i c_i q_i - s_y (s_y = ds.y, the sum of the block's values).
//
// Work split: a warp owns R rows; lane l handles half h = l%2 of block 2*(l/4) + (l/2)%2 of each
// 16-block chunk (128 weights = 8 words x 4 shifts), for all R rows and all ncols columns (y words
// are loaded once per lane and reused over the R rows). Lanes are reduced with shuffles at the end.

#include "tq-mmv.cuh"
#include "quantize.cuh"

namespace {

constexpr int TQ_MMV_NWARPS      = 4;
constexpr int TQ_MMV_CHUNK_BLK   = 16;                       // blocks per chunk
constexpr int TQ_MMV_CHUNK_WORDS = TQ_MMV_CHUNK_BLK*66/4;     // 264 words = 1056 bytes
constexpr int TQ_MMV_STAGES      = 2;

__device__ __forceinline__ void tq_cp_async_16(void * dst_smem, const void * src) {
#if __CUDA_ARCH__ >= GGML_CUDA_CC_AMPERE
    const unsigned int d = (unsigned int) __cvta_generic_to_shared(dst_smem);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" :: "r"(d), "l"(src));
#else
    *(int4 *) dst_smem = *(const int4 *) src;
#endif
}

__device__ __forceinline__ void tq_cp_async_4(void * dst_smem, const void * src) {
#if __CUDA_ARCH__ >= GGML_CUDA_CC_AMPERE
    const unsigned int d = (unsigned int) __cvta_generic_to_shared(dst_smem);
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" :: "r"(d), "l"(src));
#else
    *(int *) dst_smem = *(const int *) src;
#endif
}

__device__ __forceinline__ void tq_cp_async_commit() {
#if __CUDA_ARCH__ >= GGML_CUDA_CC_AMPERE
    asm volatile("cp.async.commit_group;\n" ::);
#endif
}

template <int n>
__device__ __forceinline__ void tq_cp_async_wait() {
#if __CUDA_ARCH__ >= GGML_CUDA_CC_AMPERE
    asm volatile("cp.async.wait_group %0;\n" :: "n"(n));
#endif
}

template <int ncols, int R, bool vec16>
__launch_bounds__(TQ_MMV_NWARPS*WARP_SIZE, 4)
__global__ void tq2_0_mmv_kernel(
        const char * __restrict__ x, const block_q8_1 * __restrict__ y, float * __restrict__ dst,
        const int nb, const int64_t row_bytes, const int nrows, const int stride_col_y, const int stride_col_dst) {
    __shared__ uint32_t smem[TQ_MMV_NWARPS][TQ_MMV_STAGES][R][TQ_MMV_CHUNK_WORDS];

    const int lane = threadIdx.x;
    const int warp = threadIdx.y;
    const int row0 = (blockIdx.x*TQ_MMV_NWARPS + warp)*R;
    if (row0 >= nrows) {
        return; // whole warp; the kernel has no block-wide barrier
    }

    const int nchunks = (nb + TQ_MMV_CHUNK_BLK - 1) / TQ_MMV_CHUNK_BLK;

    auto issue = [&](const int c) {
        const int kb0   = c*TQ_MMV_CHUNK_BLK;
        const int bytes = 66*min(TQ_MMV_CHUNK_BLK, nb - kb0);
#pragma unroll
        for (int r = 0; r < R; ++r) {
            const int row = min(row0 + r, nrows - 1);
            const char * src = x + row*row_bytes + 66*kb0;
            char * sdst = (char *) smem[warp][c % TQ_MMV_STAGES][r];
            if (vec16) {
                for (int o = 16*lane; o < bytes; o += 16*WARP_SIZE) {
                    tq_cp_async_16(sdst + o, src + o);
                }
            } else {
                for (int o = 4*lane; o < bytes; o += 4*WARP_SIZE) {
                    tq_cp_async_4(sdst + o, src + o);
                }
            }
        }
        tq_cp_async_commit();
    };

    // lane -> (pair p, block of the pair, half h)
    const int p     = lane / 4;
    const int odd   = (lane / 2) % 2;
    const int h     = lane % 2;
    const int b     = 2*p + odd;                 // block within the chunk
    const int wbase = 33*p + 16*odd + 8*h;       // first word holding this lane's 32 qs bytes
    const int shift = 16*odd;                    // odd blocks start 2 bytes into a word
    const int wd    = 33*p + 16 + 16*odd;        // word holding d (low half: even block, high: odd)

    float acc[R][ncols];
#pragma unroll
    for (int r = 0; r < R; ++r) {
#pragma unroll
        for (int j = 0; j < ncols; ++j) {
            acc[r][j] = 0.0f;
        }
    }

    issue(0);
    for (int c = 0; c < nchunks; ++c) {
        if (c + 1 < nchunks) {
            issue(c + 1);
            tq_cp_async_wait<1>();
        } else {
            tq_cp_async_wait<0>();
        }
        __syncwarp();

        const int kb = c*TQ_MMV_CHUNK_BLK + b;
        if (kb < nb) {
            uint32_t q[R][8];
            float    dx[R];
#pragma unroll
            for (int r = 0; r < R; ++r) {
                const uint32_t * s = smem[warp][c % TQ_MMV_STAGES][r];
#pragma unroll
                for (int j = 0; j < 8; ++j) {
                    q[r][j] = __funnelshift_r(s[wbase + j], s[wbase + j + 1], shift);
                }
                const uint32_t dw = s[wd] >> shift;
                dx[r] = __half2float(__ushort_as_half((unsigned short) (dw & 0xFFFF)));
            }

#pragma unroll
            for (int col = 0; col < ncols; ++col) {
                const block_q8_1 * yb = y + col*stride_col_y + 8*kb + 4*h;
                float part[R];
#pragma unroll
                for (int r = 0; r < R; ++r) {
                    part[r] = 0.0f;
                }
#pragma unroll
                for (int s4 = 0; s4 < 4; ++s4) {
                    const int * yq = (const int *) yb[s4].qs;
                    int yv[8];
#pragma unroll
                    for (int j = 0; j < 8; ++j) {
                        yv[j] = yq[j];
                    }
                    const float2 ds = __half22float2(yb[s4].ds);
#pragma unroll
                    for (int r = 0; r < R; ++r) {
                        int sumi = 0;
#pragma unroll
                        for (int j = 0; j < 8; ++j) {
                            sumi = ggml_cuda_dp4a((int) ((q[r][j] >> (2*s4)) & 0x03030303u), yv[j], sumi);
                        }
                        part[r] += ds.x*sumi - ds.y;
                    }
                }
#pragma unroll
                for (int r = 0; r < R; ++r) {
                    acc[r][col] += dx[r]*part[r];
                }
            }
        }
        __syncwarp(); // the stage read here is refilled by the next iteration's issue
    }

#pragma unroll
    for (int r = 0; r < R; ++r) {
#pragma unroll
        for (int col = 0; col < ncols; ++col) {
            const float v = warp_reduce_sum<WARP_SIZE>(acc[r][col]);
            if (lane == 0 && row0 + r < nrows) {
                dst[col*stride_col_dst + row0 + r] = v;
            }
        }
    }
}

template <int ncols>
void tq2_0_mmv_launch(const char * x, const block_q8_1 * y, float * dst, const int nb, const int64_t row_bytes,
        const int nrows, const int stride_col_y, const int stride_col_dst, const bool vec16, cudaStream_t stream) {
    constexpr int R = ncols <= 4 ? 2 : 1;
    const dim3 grid((nrows + TQ_MMV_NWARPS*R - 1) / (TQ_MMV_NWARPS*R), 1, 1);
    const dim3 block(WARP_SIZE, TQ_MMV_NWARPS, 1);
    if (vec16) {
        tq2_0_mmv_kernel<ncols, R, true><<<grid, block, 0, stream>>>(x, y, dst, nb, row_bytes, nrows, stride_col_y, stride_col_dst);
    } else {
        tq2_0_mmv_kernel<ncols, R, false><<<grid, block, 0, stream>>>(x, y, dst, nb, row_bytes, nrows, stride_col_y, stride_col_dst);
    }
    CUDA_CHECK(cudaGetLastError());
}

} // namespace

bool ggml_cuda_tq_mul_mat_vec(ggml_backend_cuda_context & ctx, const ggml_tensor * src0, const ggml_tensor * src1, ggml_tensor * dst) {
    // Opt-in (TQ_GGUF_CUDA_MMV=1): measured on an H100 (bench/results/gpu-h100-2026-11-22.md) this kernel
    // ties the mmvq path at n = 1 (47 us vs 47 us on 28672 x 8192) and loses at n >= 2 (y-load bound,
    // 128-register cap), so mmvq (vec_dot_tq2_0_q8_1) stays the default.
    static const bool enabled = getenv("TQ_GGUF_CUDA_MMV") != nullptr;
    if (!enabled) {
        return false;
    }
    const int cc = ggml_cuda_info().devices[ctx.device].cc;
    if (src0->type != GGML_TYPE_TQ2_0 || !GGML_CUDA_CC_IS_NVIDIA(cc) || cc < GGML_CUDA_CC_AMPERE) {
        return false;
    }
    const int64_t ne00 = src0->ne[0], ne01 = src0->ne[1], ne11 = src1->ne[1];
    if (ne11 < 1 || ne11 > 8 || src0->ne[2] != 1 || src0->ne[3] != 1 || src1->ne[2] != 1 || src1->ne[3] != 1 ||
            src1->type != GGML_TYPE_F32 || dst->type != GGML_TYPE_F32 ||
            !ggml_is_contiguous(src0) || !ggml_is_contiguous(src1) || !ggml_is_contiguous(dst) ||
            ne01 > INT_MAX) {
        return false;
    }
    const int nb = ne00 / QK_K;
    const int64_t row_bytes = src0->nb[1];
    if (nb % 2 != 0 || (uintptr_t) src0->data % 4 != 0) {
        return false; // a block pair must be word aligned in shared memory
    }
    const bool vec16 = row_bytes % 16 == 0 && (uintptr_t) src0->data % 16 == 0 && nb % 8 == 0;

    cudaStream_t stream = ctx.stream();
    const int64_t ne10 = src1->ne[0];
    const int64_t ne10_padded = GGML_PAD(ne10, MATRIX_ROW_PADDING);
    ggml_cuda_pool_alloc<char> src1_q8_1(ctx.pool(), ne11*ne10_padded*sizeof(block_q8_1)/QK8_1);
    const int64_t s11 = src1->nb[1] / sizeof(float);
    quantize_row_q8_1_cuda((const float *) src1->data, nullptr, src1_q8_1.get(), src0->type, ne10, s11, s11*ne11, s11*ne11,
        ne10_padded, ne11, 1, 1, stream);

    const block_q8_1 * y = (const block_q8_1 *) src1_q8_1.get();
    const int stride_col_y = ne10_padded / QK8_1;
    const int stride_col_dst = dst->nb[1] / sizeof(float);
    const char * x = (const char *) src0->data;
    float * d = (float *) dst->data;
    switch (ne11) {
        case 1: tq2_0_mmv_launch<1>(x, y, d, nb, row_bytes, ne01, stride_col_y, stride_col_dst, vec16, stream); break;
        case 2: tq2_0_mmv_launch<2>(x, y, d, nb, row_bytes, ne01, stride_col_y, stride_col_dst, vec16, stream); break;
        case 3: tq2_0_mmv_launch<3>(x, y, d, nb, row_bytes, ne01, stride_col_y, stride_col_dst, vec16, stream); break;
        case 4: tq2_0_mmv_launch<4>(x, y, d, nb, row_bytes, ne01, stride_col_y, stride_col_dst, vec16, stream); break;
        case 5: tq2_0_mmv_launch<5>(x, y, d, nb, row_bytes, ne01, stride_col_y, stride_col_dst, vec16, stream); break;
        case 6: tq2_0_mmv_launch<6>(x, y, d, nb, row_bytes, ne01, stride_col_y, stride_col_dst, vec16, stream); break;
        case 7: tq2_0_mmv_launch<7>(x, y, d, nb, row_bytes, ne01, stride_col_y, stride_col_dst, vec16, stream); break;
        case 8: tq2_0_mmv_launch<8>(x, y, d, nb, row_bytes, ne01, stride_col_y, stride_col_dst, vec16, stream); break;
        default: GGML_ABORT("fatal error");
    }
    return true;
}
