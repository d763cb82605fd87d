#pragma once
// tq_gguf: TQ2_0 / TQ1_0 times a batch of 9..512 activation columns (batched decode and prompts) on int8
// tensor cores, Hopper (sm_90+) bulk-copy pipeline.
//
// Self-contained (CUDA runtime + cuda_fp16 only, on top of cuda/tq-mmv-kernel.cuh) so that
// bench/cuda_mmb_harness.cu can include it; cuda/tq-mmb.cu wires it into ggml-cuda.
//
// Why not ggml's MMQ with our tile loaders (cuda/tq-mmq.cuh): its loop loads and decodes a tile, syncs,
// multiplies and syncs again, with one CTA of 8 warps per SM (registers): ncu on 28672 x 8192 at n = 64
// shows the issue slots 32-35% busy, the tensor pipe 17%, and nothing overlapping the loads
// (bench/results/gpu-h100-2026-11-22-s7). Here the loads run WST weight / AST activation stages ahead:
//
//   * CTA tile: R = WM*MT*16 weight rows x C = WN*NT*8 columns, WM x WN consumer warps (+ 1 producer),
//     warp tile MT m16 tiles x NT n8 tiles.
//   * Weights: a ring of WST stages of CB blocks per row, completing on the stage's mbarrier (struct
//     weight_stage: one bulk copy per row of 8 blocks where rows are 16-byte aligned and nb % 8 == 0,
//     else 8-byte cp.async pieces of 4 blocks; other rows go to MMQ). Each weight byte is read from
//     shared memory by the WN warps of its rows and decoded in registers into the A fragments (no
//     decoded tile is stored).
//   * Activations: quantized by tq_mmb_quantize into the mma's B-fragment order, so one block (256 K)
//     of 8 columns is 2 KB that a warp reads as 4 conflict-free 16-byte loads per lane (lane l, pair of
//     k32 steps p: words [p][l][0..3]); a ring of AST blocks, one bulk copy of C*256 bytes (+ C scales)
//     per block.
//   * Warp specialization: one producer warp issues every copy, each into a slot that all consumer warps
//     have released ("empty" mbarriers, one arrive per consumer thread); consumers wait on the "full" mbarriers
//     that the copies complete. Session 8's harness, 28672 x 8192 n = 64: 82.6 us, against 109.8 us
//     with warp 0 copying after a CTA-wide __syncthreads at the end of every block
//     (bench/results/gpu-h100-2026-11-22-s8).
//   * K order: the mat-vec's (tq_mmv_elem): mma j of a block takes groups 2j and 2j+1 of quad thread t,
//     so the same decode helpers serve both kernels.
//   * Per block, the 8 mmas sum int32 codes (0..2) times int8 activations exactly; the epilogue applies
//     the scales: acc += d_x * (d_y * C - d_y * sum(q)), as the mat-vec (trit = code - 1).
//   * Persistent CTAs (one resident wave) walk their work items with both rings running across items.
//   * Splits along K (when row x column tiles leave SMs idle) add into a zeroed dst: with at most 2
//     splits the sum 0 + a + b does not depend on the order, so results stay deterministic.

#include "tq-mmv-kernel.cuh"

namespace tq_mmb {

using tq_mmv::TQ2;
using tq_mmv::TQ1;
using tq_mmv::traits;

constexpr int MAX_COLS   = 128; // columns per CTA tile at most
constexpr int SMALL_COLS = 64;  // batches up to this take tiles of at most 64 columns (mul_mat_nt)
constexpr int MAX_BATCH  = 512; // the largest batch measured against dequantize + cuBLAS (the caller's limit)
constexpr int MAX_SPLIT  = 2;   // K splits (deterministic sums, see above)
constexpr int FRAG_INTS  = 512; // ints per (block, 8 columns) of quantized activations

// How the weights reach shared memory. A stage is CB blocks of every row of the CTA tile.
//   * WEIGHTS_BULK: one Hopper bulk copy per row and stage of 8 blocks (528 / 432 bytes); bulk copies
//     take 16-byte multiples at 16-byte aligned addresses: rows 16-byte aligned, nb % 8 == 0 (K % 2048
//     == 0: the 8B/70B-class shapes).
//   * WEIGHTS_CP_ASYNC: stages of 4 blocks (264 / 216 bytes) in 8-byte cp.async pieces, every producer
//     lane's pieces completing on the stage's mbarrier (cp.async.mbarrier.arrive.noinc): rows 8-byte
//     aligned, nb % 4 == 0. The 3B-class K = 3072 (rows of 792 / 648 bytes) and K = 9216 take it.
enum weight_copy : int { WEIGHTS_NONE = -1, WEIGHTS_BULK = 0, WEIGHTS_CP_ASYNC = 1 };

template <int wc> struct weight_stage {
    static constexpr int blocks = wc == WEIGHTS_BULK ? 8 : 4;
    static constexpr int piece  = 8; // bytes per cp.async (WEIGHTS_CP_ASYNC)
};

// Block pair layout in shared memory (as the mat-vec): PW words per pair; the even block's quants start
// at word 0 and its d is the low half of word DW; the odd block starts 2 bytes into word DW (realigned
// with a funnel shift) and its d is the high half of word 2*DW.
template <int type> struct pair_layout {
    static constexpr int PW = traits<type>::bs/2;
    static constexpr int DW = type == TQ2 ? 16 : 13;
};

// Quant words of a row's block that quad thread t decodes: TQ2 words t + 4u; TQ1 qs words t, t + 4,
// 8 + t and the qh word (12).
template <int type>
static __device__ __forceinline__ int row_word(const int t, const int v) {
    return type == TQ2 ? t + 4*v : (v < 3 ? t + 4*v : 12);
}

// Codes (0..2 per byte) of group i (0..15, tq_mmv_elem order) from the thread's 4 words of a row.
template <int type>
static __device__ __forceinline__ int group_codes(const uint32_t (&w)[4], const int i, const int t) {
    if (type == TQ2) {
        return (int) ((w[i % 4] >> (2*(i / 4))) & 0x03030303u); // group 4s + u: word u at shift s
    } else {
        // digit k of each byte = H(k+1) - 3 H(k), H(k) = floor(b*3^k / 256) (see tq_mmv_decode_tq1)
        const int v = i < 15 ? i / 5 : 3;
        const uint32_t e = w[v] & 0x00FF00FFu, o = (w[v] >> 8) & 0x00FF00FFu;
        if (i < 15) {
            const int k = i % 5;
            const uint32_t p = k == 0 ? 1 : k == 1 ? 3 : k == 2 ? 9 : k == 3 ? 27 : 81;
            const uint32_t hk = k == 0 ? 0 : tq_mmv::tq1_h4(e, o, p);
            return (int) (tq_mmv::tq1_h4(e, o, 3*p) - 3*hk);
        }
        const uint32_t p = t == 0 ? 1 : t == 1 ? 3 : t == 2 ? 9 : 27; // qh word: digit t
        return (int) (tq_mmv::tq1_h4(e, o, 3*p) - 3*tq_mmv::tq1_h4(e, o, p));
    }
}

// ---- activation quantizer ----
// Word o = t*16 + i (group i of quad thread t) of column g (0..7) of an 8-column tile goes to
// [i/4][lane = 4g + t][i%4]: lane l's B fragments of k32 steps 2p, 2p+1 are the 4 words [p][l][..].
struct mma_frag_order {
    int g;
    __device__ __forceinline__ int operator()(const int o) const {
        const int t = o / 16, i = o % 16;
        return (i / 4)*128 + (4*g + t)*4 + i % 4;
    }
};

// y (f32, column stride stride_col) -> yq: [block][ncols_pad/8][FRAG_INTS], ym: [block][ncols_pad]
// (d, d*sum). Columns ncols..ncols_pad-1 are zero. grid (ceil(nb/QUANT_BLOCKS), ncols_pad), QUANT_WARPS
// warps; each warp quantizes QUANT_BLOCKS/QUANT_WARPS consecutive blocks of one column with all their loads
// in flight at once (one block per one-warp CTA kept the SMs' CTA slots, not DRAM, busy: 70 us for
// 512 x 28672 activations in the harness, bench/results/gpu-h100-2026-11-22-s9).
constexpr int QUANT_WARPS  = 4;
constexpr int QUANT_BLOCKS = 16;

template <int type>
__global__ void __launch_bounds__(32*QUANT_WARPS) tq_mmb_quantize(
        const float * y, int * yq, float2 * ym, const int nb, const int ncols, const int ncols_pad,
        const int64_t stride_col) {
    constexpr int BW = QUANT_BLOCKS/QUANT_WARPS; // blocks per warp
    tq_mmv::pdl_launch_dependents();
    tq_mmv::pdl_wait(); // y comes from the preceding kernel; yq/ym may still be read by an earlier product
    const int col = blockIdx.y, lane = threadIdx.x;
    const int b0  = blockIdx.x*QUANT_BLOCKS + threadIdx.y*BW;
    const mma_frag_order order = {col % 8};
    float4 e[BW][2];
#pragma unroll
    for (int i = 0; i < BW; ++i) {
        if (col < ncols && b0 + i < nb) {
            tq_mmv::load_block<type>(y + col*stride_col + (int64_t) (b0 + i)*256, lane, e[i]);
        }
    }
#pragma unroll
    for (int i = 0; i < BW; ++i) {
        const int b = b0 + i;
        if (b >= nb) {
            break;
        }
        int * out = yq + ((int64_t) b*(ncols_pad/8) + col/8)*FRAG_INTS;
        float2 dm = make_float2(0.0f, 0.0f);
        if (col < ncols) {
            dm = tq_mmv::quantize_loaded(e[i], out, lane, order);
        } else {
            out[order(2*lane)] = 0;
            out[order(2*lane + 1)] = 0;
        }
        if (lane == 0) {
            ym[(int64_t) b*ncols_pad + col] = dm;
        }
    }
}

// ---- the product ----
template <int type, int MT, int NT, int WM, int WN, int WST, int AST, int WC>
struct config {
    static constexpr int CB = weight_stage<WC>::blocks;           // blocks per weight stage
    static constexpr int R  = WM*MT*16;                           // rows per CTA
    static constexpr int C  = WN*NT*8;                            // columns per CTA
    static constexpr int CW = tq_mmv::chunk<type, CB>::stride;    // words per row and weight stage
    static constexpr int AI = C/8*FRAG_INTS;                      // ints per activation stage
    static constexpr int smem = (WST*R*CW + AST*AI)*4 + AST*C*8 + 2*(WST + AST)*8; // + full/empty barriers
    static_assert(C <= MAX_COLS, "column tile");
};

// x: nrows rows of nb blocks (row_bytes apart, aligned for WC, nb % CB == 0); yq/ym: tq_mmb_quantize's
// output for ncols_pad columns (a multiple of C); dst[col*stride_dst + row], zeroed by the caller when
// nsplit > 1 (the splits add).
// Work items: (row tile, column tile, K split), item = blockIdx.x + i*gridDim.x (the grid is at most one
// resident wave). Every item has the same NB = nb/nsplit blocks, so a CTA's blocks form one sequence
// q = i*NB + b and both rings run across item boundaries: the next item's first weights and activations
// are in flight while the current item finishes.
template <int type, int MT, int NT, int WM, int WN, int WST, int AST, int WC>
__global__ void __launch_bounds__((WM*WN + 1)*32) tq_mmb_kernel(
        const char * __restrict__ x, const int64_t row_bytes, const int nrows, const int * yq, const float2 * ym,
        const int nb, const int ncols, const int ncols_pad, float * dst, const int64_t stride_dst,
        const int row_tiles, const int col_tiles, const int nsplit) {
    using cfg = config<type, MT, NT, WM, WN, WST, AST, WC>;
    constexpr int BS = traits<type>::bs, R = cfg::R, C = cfg::C, CW = cfg::CW, AI = cfg::AI, CB = cfg::CB;
    constexpr int PIECE = weight_stage<WC>::piece;
    constexpr int PPR   = CB*BS/PIECE; // cp.async pieces per row and stage (WEIGHTS_CP_ASYNC)
    constexpr int PW = pair_layout<type>::PW, DW = pair_layout<type>::DW;
    constexpr int NCONS = WM*WN; // consumer warps; warp NCONS is the producer
    extern __shared__ uint32_t tq_mmb_smem[];
    uint32_t * wring  = tq_mmb_smem;                            // [WST][R][CW]
    int      * aring  = (int *) (wring + WST*R*CW);             // [AST][C/8][FRAG_INTS]
    float2   * sring  = (float2 *) (aring + AST*AI);            // [AST][C]
    uint64_t * wfull  = (uint64_t *) (sring + AST*C);           // [WST] copies landed
    uint64_t * afull  = wfull + WST;                            // [AST]
    uint64_t * wempty = afull + AST;                            // [WST] every consumer thread is done with it
    uint64_t * aempty = wempty + WST;                           // [AST]

    const int lane = threadIdx.x, warp = threadIdx.y;
    const int g = lane / 4, t = lane % 4;
    const int wm = warp % WM, wn = warp / WM;
    const int NB  = nb / nsplit;  // blocks per item (a multiple of CB)
    const int nitems   = row_tiles*col_tiles*nsplit;
    const int my_items = (nitems - (int) blockIdx.x + (int) gridDim.x - 1) / (int) gridDim.x;
    const int nq  = my_items*NB;  // this CTA's blocks

    // item i of this CTA -> first row, first column, first block
    struct item_pos { int row0, col0, kb0; };
    auto item_of = [&](const int i) {
        int it = (int) blockIdx.x + i*(int) gridDim.x;
        const int split = it % nsplit; it /= nsplit;
        const int ct    = it % col_tiles;
        const int rt    = it / col_tiles;
        return item_pos{rt*R, ct*C, split*NB};
    };

    if (warp == NCONS && lane == 0) {
        for (int s = 0; s < WST + AST; ++s) {
            // weight stages: the bulk path's one expect_tx arrive, or an arrive from every producer lane
            tq_mmv::mbar_init(&wfull[s], WC == WEIGHTS_BULK || s >= WST ? 1 : 32);
            tq_mmv::mbar_init(&wempty[s], NCONS*32); // every consumer thread arrives
        }
    }
    __syncthreads();

    if (warp == NCONS) {
        // Producer: fills the rings in the consumers' order, each slot once all consumers released it.
        // Weights: lanes split the rows; activations: lane 0.
        for (int q = 0; q < nq; ++q) {
            const item_pos ip = item_of(q / NB);
            if (q % CB == 0) {
                const int qc = q / CB, slot = qc % WST;
                if (qc >= WST) {
                    tq_mmv::mbar_wait(&wempty[slot], ((qc / WST) - 1) & 1);
                    tq_mmv::fence_proxy_async();
                }
                const char * src = x + (int64_t) (ip.kb0 + q % NB)*BS;
                if (WC == WEIGHTS_BULK) {
                    if (lane == 0) {
                        tq_mmv::mbar_expect_tx(&wfull[slot], R*CB*BS);
                    }
                    __syncwarp(); // the expected byte count is set before any copy can complete
                    for (int r = lane; r < R; r += 32) {
                        tq_mmv::bulk_copy(wring + (slot*R + r)*CW, src + (int64_t) min(ip.row0 + r, nrows - 1)*row_bytes,
                                          CB*BS, &wfull[slot]);
                    }
                } else {
#pragma unroll 4
                    for (int i = lane; i < R*PPR; i += 32) {
                        const int r = i / PPR, o = (i - r*PPR)*PIECE;
                        tq_mmv::cp_async<PIECE>((char *) (wring + (slot*R + r)*CW) + o,
                                                src + (int64_t) min(ip.row0 + r, nrows - 1)*row_bytes + o);
                    }
                    tq_mmv::cp_async_mbar_arrive(&wfull[slot]); // once this lane's pieces have landed
                }
            }
            if (q == 0) {
                tq_mmv::pdl_wait(); // yq, ym: written by tq_mmb_quantize (the first weights are already on their way)
            }
            const int slot = q % AST;
            if (q >= AST) {
                tq_mmv::mbar_wait(&aempty[slot], ((q / AST) - 1) & 1);
                tq_mmv::fence_proxy_async();
            }
            if (lane == 0) {
                const int kb = ip.kb0 + q % NB;
                tq_mmv::mbar_expect_tx(&afull[slot], C*256 + C*8);
                tq_mmv::bulk_copy(aring + slot*AI, yq + ((int64_t) kb*(ncols_pad/8) + ip.col0/8)*FRAG_INTS, C*256,
                                  &afull[slot]);
                tq_mmv::bulk_copy(sring + slot*C, ym + (int64_t) kb*ncols_pad + ip.col0, C*8, &afull[slot]);
            }
        }
        return;
    }
    tq_mmv::pdl_launch_dependents();

    float acc[MT][NT][4] = {};
    for (int q = 0; q < nq; ++q) {
        const int qc = q / CB, bi = q % CB;
        if (bi == 0) {
            tq_mmv::mbar_wait(&wfull[qc % WST], (qc / WST) & 1);
        }
        tq_mmv::mbar_wait(&afull[q % AST], (q / AST) & 1);

        // the thread's quant words and block scale for rows g and g + 8 of each m tile
        const uint32_t * ws = wring + (qc % WST)*R*CW + (bi/2)*PW;
        uint32_t wq[MT][2][4];
        float    dx[MT][2];
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                const uint32_t * r = ws + ((wm*MT + mt)*16 + g + 8*h)*CW;
#pragma unroll
                for (int v = 0; v < 4; ++v) {
                    const int j = row_word<type>(t, v);
                    wq[mt][h][v] = bi % 2 == 0 ? r[j] : __funnelshift_r(r[DW + j], r[DW + j + 1], 16);
                }
                dx[mt][h] = tq_mmv::h2f_lo(bi % 2 == 0 ? r[DW] : r[2*DW] >> 16);
            }
        }

        const int * as = aring + (q % AST)*AI + wn*NT*FRAG_INTS + lane*4;
        int cacc[MT][NT][4] = {};
#pragma unroll
        for (int p = 0; p < 4; ++p) { // pairs of k32 steps
            int4 bq[NT];
#pragma unroll
            for (int nt = 0; nt < NT; ++nt) {
                bq[nt] = *(const int4 *) (as + nt*FRAG_INTS + p*128);
            }
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                const int j = 2*p + h;
                int a[MT][4];
#pragma unroll
                for (int mt = 0; mt < MT; ++mt) {
                    a[mt][0] = group_codes<type>(wq[mt][0], 2*j,     t);
                    a[mt][1] = group_codes<type>(wq[mt][1], 2*j,     t);
                    a[mt][2] = group_codes<type>(wq[mt][0], 2*j + 1, t);
                    a[mt][3] = group_codes<type>(wq[mt][1], 2*j + 1, t);
                }
#pragma unroll
                for (int nt = 0; nt < NT; ++nt) {
                    const int b0 = h == 0 ? bq[nt].x : bq[nt].z;
                    const int b1 = h == 0 ? bq[nt].y : bq[nt].w;
#pragma unroll
                    for (int mt = 0; mt < MT; ++mt) {
                        tq_mmv::mma_i8<true>(cacc[mt][nt], a[mt][0], a[mt][1], a[mt][2], a[mt][3], b0, b1);
                    }
                }
            }
        }

        // C element l of an m16n8 tile: row g + 8*(l/2), column 2t + l%2
        const float2 * ss = sring + (q % AST)*C + wn*NT*8 + 2*t;
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) {
            const float4 m = *(const float4 *) (ss + nt*8); // (d, d*sum) of columns 2t, 2t + 1
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
                acc[mt][nt][0] += dx[mt][0]*(m.x*(float) cacc[mt][nt][0] - m.y);
                acc[mt][nt][1] += dx[mt][0]*(m.z*(float) cacc[mt][nt][1] - m.w);
                acc[mt][nt][2] += dx[mt][1]*(m.x*(float) cacc[mt][nt][2] - m.y);
                acc[mt][nt][3] += dx[mt][1]*(m.z*(float) cacc[mt][nt][3] - m.w);
            }
        }

        // Every consumer thread releases the slots it read: an arrive (release) orders only the arriving
        // thread's own reads before the producer's next bulk copy into the slot. One arrive per warp
        // after __syncwarp ran correctly but compute-sanitizer's racecheck reports the reuse as a
        // WAR race (bench/results/gpu-h100-2026-11-22-s9).
        tq_mmv::mbar_arrive(&aempty[q % AST]);
        if (bi == CB - 1) {
            tq_mmv::mbar_arrive(&wempty[qc % WST]);
        }

        if (q % NB == NB - 1) { // the item's last block: write its tile
            const item_pos ip = item_of(q / NB);
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
                for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
                    for (int l = 0; l < 4; ++l) {
                        const int row = ip.row0 + (wm*MT + mt)*16 + g + 8*(l/2);
                        const int col = ip.col0 + (wn*NT + nt)*8 + 2*t + l%2;
                        if (row < nrows && col < ncols) {
                            float * d = dst + col*stride_dst + row;
                            if (nsplit > 1) {
                                atomicAdd(d, acc[mt][nt][l]);
                            } else {
                                *d = acc[mt][nt][l];
                            }
                        }
                        acc[mt][nt][l] = 0.0f;
                    }
                }
            }
        }
    }
}

// ---- host side ----
// How the kernel copies this matrix's weights (WEIGHTS_NONE: it does not handle it).
static inline int weight_copy_for(const int nb, const int64_t row_bytes, const uintptr_t x) {
    if (nb % weight_stage<WEIGHTS_BULK>::blocks == 0 && row_bytes % 16 == 0 && x % 16 == 0) {
        return nb > 0 ? WEIGHTS_BULK : WEIGHTS_NONE;
    }
    if (nb % weight_stage<WEIGHTS_CP_ASYNC>::blocks == 0 && row_bytes % 8 == 0 && x % 8 == 0) {
        return nb > 0 ? WEIGHTS_CP_ASYNC : WEIGHTS_NONE;
    }
    return WEIGHTS_NONE;
}

static inline bool supported(const int nb, const int64_t row_bytes, const uintptr_t x) {
    return weight_copy_for(nb, row_bytes, x) != WEIGHTS_NONE;
}

// Columns the quantized activations are padded to: a multiple of every column tile that a batch of
// ncols may take (the padding is zeros, written by the quantizer; a CTA reads only its own columns).
static inline int ncols_padded(const int ncols) {
    const int unit = ncols <= SMALL_COLS ? SMALL_COLS : MAX_COLS;
    return (ncols + unit - 1) / unit * unit;
}

struct mmb_args {
    const char * x; int64_t row_bytes; int nrows; int nb;
    const float * y; int64_t stride_col_y; int ncols;
    int * yq; float2 * ym;   // ncols_padded(ncols)*nb*64 ints, ncols_padded(ncols)*nb float2
    float * dst; int64_t stride_dst;
    cudaStream_t stream;
    bool quantize = true;    // false (harness): yq/ym already hold y's quantization
    int  variant  = 0;       // harness only (TQ_MMB_VARIANTS): a fixed launch shape
    bool variant_grid_all = false; // harness only: one CTA per work item instead of one resident wave
    int  wcopy = WEIGHTS_NONE;     // set by mul_mat (weight_copy_for)
};

template <int type, int MT, int NT, int WM, int WN, int WST, int AST, int WC>
static bool launch_cfg(const mmb_args & a) {
    using cfg = config<type, MT, NT, WM, WN, WST, AST, WC>;
    const auto kernel = tq_mmb_kernel<type, MT, NT, WM, WN, WST, AST, WC>;
    static tq_mmv::launch_info cache[64];
    const tq_mmv::launch_info & li = tq_mmv::get_launch_info(cache, kernel, (WM*WN + 1)*32, cfg::smem);
    if (!li.bulk) {
        return false;
    }
    const int ncols_pad = ncols_padded(a.ncols);
    if (a.quantize) {
        const auto quantize = tq_mmb_quantize<type>;
        static tq_mmv::launch_info qcache[64];
        const tq_mmv::launch_info & qi = tq_mmv::get_launch_info(qcache, quantize, 32*QUANT_WARPS, 0);
        tq_mmv::launch(quantize, dim3((a.nb + QUANT_BLOCKS - 1) / QUANT_BLOCKS, ncols_pad, 1), dim3(32, QUANT_WARPS, 1),
                       0, a.stream, qi.pdl,
                       a.y, a.yq, a.ym, a.nb, a.ncols, ncols_pad, a.stride_col_y);
    }
    const int row_tiles = (a.nrows + cfg::R - 1) / cfg::R;
    const int col_tiles = (a.ncols + cfg::C - 1) / cfg::C;
    const int nchunks   = a.nb / cfg::CB;
    // a second K split only where the tiles fill less than half of the resident CTA slots (and the
    // stages split evenly: every item has the same length)
    const int nsplit = 2*row_tiles*col_tiles <= li.max_ctas && nchunks % MAX_SPLIT == 0 ? MAX_SPLIT : 1;
    const int nitems = row_tiles*col_tiles*nsplit;
    if (nsplit > 1) {
        cudaMemset2DAsync(a.dst, a.stride_dst*sizeof(float), 0, a.nrows*sizeof(float), a.ncols, a.stream);
    }
    const int grid = a.variant_grid_all || nitems < li.max_ctas ? nitems : li.max_ctas;
    tq_mmv::launch(kernel, dim3(grid, 1, 1), dim3(32, WM*WN + 1, 1), cfg::smem,
                   a.stream, li.pdl && nsplit == 1, // the memset sits between the quantizer and the product
                   a.x, a.row_bytes, a.nrows, (const int *) a.yq, (const float2 *) a.ym, a.nb, a.ncols, ncols_pad,
                   a.dst, a.stride_dst, row_tiles, col_tiles, nsplit);
    return true;
}

// Activation stages that fit beside WST weight stages (at most 8; 227 KB of shared memory per CTA).
template <int type, int MT, int NT, int WM, int WN, int WST, int WC>
constexpr int act_stages() {
    constexpr int one = config<type, MT, NT, WM, WN, WST, 1, WC>::smem;
    constexpr int per_stage = config<type, MT, NT, WM, WN, WST, 2, WC>::smem - one; // slot, scales, 2 barriers
    constexpr int fit = (227*1024 - (one - per_stage)) / per_stage;
    return fit < 8 ? fit : 8;
}

// WST: weight stages of 8 blocks; the cp.async path takes twice as many stages of 4 (the same weight
// bytes in flight).
template <int type, int MT, int NT, int WM, int WN, int WST = 2>
static bool launch_shape(const mmb_args & a) {
    if (a.wcopy == WEIGHTS_BULK) {
        return launch_cfg<type, MT, NT, WM, WN, WST, act_stages<type, MT, NT, WM, WN, WST, WEIGHTS_BULK>(), WEIGHTS_BULK>(a);
    }
    constexpr int WST4 = 2*WST;
    return launch_cfg<type, MT, NT, WM, WN, WST4, act_stages<type, MT, NT, WM, WN, WST4, WEIGHTS_CP_ASYNC>(),
                      WEIGHTS_CP_ASYNC>(a);
}

// Launch shapes by measurement (H100 harness, bench/results/gpu-h100-2026-11-22-s8): one producer warp
// and 2..4 consumer warps; matrices of 8192 rows and more want the larger tiles (28672 x 8192, n = 64:
// 82.6 us with 4 x (32 rows x 64 columns) vs 131 us with 2 x (16 x 64)), fewer rows want more CTAs
// (4096 x 14336, n = 64: 35.5 vs 71.2 us; n = 16: 37.5 vs 56.6).
template <int type, int NT>
static bool mul_mat_nt(const mmb_args & a) {
#ifdef TQ_MMB_VARIANTS
    mmb_args b = a;
    switch (a.variant) { // harness comparisons
        case 1: return a.wcopy == WEIGHTS_BULK ? launch_cfg<type, 2, NT, 4, 1, 2, 4, WEIGHTS_BULK>(a)
                                               : launch_cfg<type, 2, NT, 4, 1, 4, 4, WEIGHTS_CP_ASYNC>(a);
        case 2: b.variant_grid_all = true;
                return a.wcopy == WEIGHTS_BULK ? launch_cfg<type, 2, NT, 4, 1, 2, 4, WEIGHTS_BULK>(b)
                                               : launch_cfg<type, 2, NT, 4, 1, 4, 4, WEIGHTS_CP_ASYNC>(b);
        case 3: b.variant_grid_all = true; return launch_shape<type, 2, NT, 4, 1>(b);
        case 4: return launch_shape<type, 1, NT, 4, 1>(a);
        case 5: return launch_shape<type, 2, NT, 2, 1>(a);
        case 6: return launch_shape<type, 1, NT, 2, 1, 3>(a);
        case 7: return launch_shape<type, 2, NT, 4, 1>(a);
        default: break;
    }
#endif
    if (a.nrows < 8192) {
        return launch_shape<type, 1, NT, 2, 1, 3>(a);
    }
    if (NT <= 2) {
        return launch_shape<type, 2, NT, 2, 1>(a);
    }
    return launch_shape<type, 2, NT, 4, 1>(a);
}

// Batches above SMALL_COLS (prompts): CTA tiles of 64 rows x 128 columns, 4 consumer warps of 32 x 64.
// Measured (H100 harness, bench/results/gpu-h100-2026-11-22-s9, n = 512, kernel alone, us, TQ2_0
// 28672 x 8192 / 8192 x 28672): 486.7 / 470.7 with this shape, against 128 x 128 with 8 consumer warps
// 531.3 / 525.2 (9 warps per CTA put 3 on one scheduler: 168 registers, spills), 128 x 64 with 8 warps of
// 32 x 32 596.1 / 592.7 (more decode, loads and epilogue per mma), 64 x 128 with 8 warps of 16 x 64
// 495.0 / 499.8 (twice the B loads per mma). Also tried there: two passes over each block of half the
// columns each (fewer int32 sums live at once): the registers did not fall (213 -> 229).
// ncu of this shape (28672 x 8192, n = 512): one consumer warp per scheduler, 213 registers, issue
// slots 35% busy, the imma pipe at 26% of its peak, stalls mostly fixed-latency waits (1.36 cycles per
// instruction): the tensor cores have headroom that more warps per scheduler would use.
template <int type>
static bool mul_mat_wide(const mmb_args & a) {
#ifdef TQ_MMB_VARIANTS
    mmb_args b = a;
    switch (a.variant) { // harness comparisons (rows x columns per CTA, consumer warps)
        case 1: return launch_shape<type, 2, 8, 4, 2>(a);    // 128 x 128, 8
        case 2: return launch_shape<type, 2, 4, 4, 2>(a);    // 128 x 64, 8
        case 3: return launch_shape<type, 1, 8, 4, 2>(a);    // 64 x 128, 8
        case 4: return launch_shape<type, 2, 8, 4, 1>(a);    // 128 x 64, 4
        case 5: return launch_shape<type, 2, 8, 2, 2, 3>(a); // 64 x 128, 4, 3 weight stages
        case 6: return launch_shape<type, 1, 8, 2, 2>(a);    // 32 x 128, 2
        case 7: b.variant_grid_all = true; return launch_shape<type, 2, 8, 2, 2>(b);
        default: break;
    }
#endif
    return launch_shape<type, 2, 8, 2, 2>(a);
}

// Quantize y and multiply; false (nothing launched) where the device has no bulk copies or the matrix is
// not supported().
template <int type>
static bool mul_mat(const mmb_args & args) {
    mmb_args a = args;
    a.wcopy = weight_copy_for(a.nb, a.row_bytes, (uintptr_t) a.x);
    if (a.wcopy == WEIGHTS_NONE) {
        return false;
    }
    if (a.ncols > SMALL_COLS) {
        return mul_mat_wide<type>(a);
    }
    if (a.ncols <= 16) {
        return mul_mat_nt<type, 2>(a);
    }
    if (a.ncols <= 32) {
        return mul_mat_nt<type, 4>(a);
    }
    return mul_mat_nt<type, 8>(a);
}

} // namespace tq_mmb
