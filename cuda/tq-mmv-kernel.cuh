#pragma once
// tq_gguf: TQ2_0 / TQ1_0 decode mat-vec (src1 batch 1..8) on int8 tensor cores.
//
// Self-contained (CUDA runtime + cuda_fp16 only) so that bench/cuda_mmv_harness.cu can include it;
// cuda/tq-mmv.cu wires it into ggml-cuda.
//
// Why not mmvq's dp4a vec_dot: (1) the 66/54-byte blocks are only 2-byte aligned, so mmvq reads the
// weights with 16-bit loads; (2) every column re-decodes the weights and re-reads int8 activations
// (4 activation bytes per 2-bit weight byte per column), so n = 2..8 costs ~n times n = 1.
//
// Design:
//   * Work item = (16-row tile, chunk of CB = 8 or 4 blocks along K; struct chunk). A CTA owns whole
//     tiles (tile = blockIdx.x + i*gridDim.x: the grid is at most one wave, sized by the occupancy API,
//     so every CTA is resident and there is no tail wave); its NW warps split each tile's chunks (warp
//     w takes chunks w, w+NW, ..). Each warp streams its items into its own STAGES-deep ring in shared
//     memory: on sm_90, for 16-byte aligned full chunks of 8 (all Llama shapes with K % 2048 == 0), one
//     Hopper TMA copy of the item's 16 rows (a 2D tensor map per matrix; the kernels of tma_rule) or one bulk
//     copy per row; else cp.async of 16, 8 or 4 bytes as the alignment allows. The
//     ring runs across tile boundaries, so a warp always has STAGES-1 items in flight while it decodes
//     one: the DRAM stream never stops for decode, mma or the per-tile reduction. Warps only meet once
//     per tile, at the cross-warp reduction (double-buffered, so one barrier per tile).
//   * Programmatic dependent launch (sm_90+, like ggml-cuda's own kernels): the quantizer lets this
//     kernel launch at once; this kernel issues its first weight copies (weights are never written by
//     a preceding kernel) before waiting for the quantizer's results (griddepcontrol.wait), so the
//     launch and the activation quantization hide under the weight stream. No __restrict__ on the
//     pointers read after the wait (a non-coherent load must not be hoisted above it).
//   * In shared memory a pair of blocks is word aligned (TQ2_0: 33 words, TQ1_0: 27 words); the odd
//     block of a pair starts 2 bytes into a word and is realigned with __funnelshift_r.
//   * Decode: a 32-bit weight word yields int8x4 groups of codes c in {0,1,2} (trit + 1) for 4
//     CONSECUTIVE weights (TQ2_0: q & (0x03030303 << 2s), codes left at their bit position and the
//     mma sum shifted back, see tq_mmv_decode_tq2; TQ1_0: base-3 digits via 16-bit-lane products and a
//     byte_perm). The groups are the A fragment of mma.m16n8k32 (rows g, g+8 of the tile); the B fragment is
//     the activation column g (n <= 8 columns = the mma's N; lanes of absent columns read the last
//     column: their output columns are never stored).
//     The K order inside an mma is a free permutation as long as A and B agree: thread t of each quad
//     always takes the same 16 groups of a block (tq_mmv_elem), and the activation quantizer writes
//     the int8 activations in exactly that order, so B is 4 x 16-byte loads per block per thread.
//     Decoding is done once per weight word for all n columns.
//   * One launch may cover up to 3 matrices of one input (struct mv_segments: ggml's Q/K/V projections)
//     as consecutive tile ranges, or a gate/up pair (x_up) whose epilogue applies the GLU: one
//     quantization and one launch instead of one each. The quantizer can also apply the RMS norm and
//     its weight that produce the input (tq_mmv_quantize_rms_norm), so ggml's norm kernel is not run,
//     and the epilogue can add a residual (mv_segment::add: ggml's MUL_MAT + ADD in one launch), rotate
//     a matrix's rows as ggml's ROPE does (mv_epilogue::rope: the attention's Q and K) and write them into
//     another tensor's rows as ggml's SET_ROWS does (mv_epilogue::store: the K and V cache; EPI kernels only).
//   * Activations: one scale per 256 values (the weight block), like the CPU's Q8_K:
//     y ~= d_y * q, S = sum(q). Per block: sum_k trit_k y_k = d_y * (C - S), C = sum_k c_k q_k (int32
//     from 8 mmas), so the result is sum_b d_x[b] * (d_y[b] * C_b - d_y[b] * S_b); the quantizer stores
//     (d_y, d_y*S) per (block, column) as float2, 8 columns per block (absent columns zero).
//
// Shared memory bank check (32 banks of 4 bytes), chunks of 8: TQ2_0 row stride 132 words = 4 mod 32,
// thread (g, t) reads word t + 4u (+ pair/row offsets): bank 4g + t + const: conflict-free. TQ1_0:
// stride 108 = 12 mod 32: 12g + t covers 32 distinct banks for g < 8, t < 4. Chunks of 4: padded
// strides, see struct chunk.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unordered_map>
#include <cuda.h>         // CUtensorMap (types only: the encoder is fetched through the runtime, see tensor_map_of)
#include <cudaTypedefs.h> // PFN_cuTensorMapEncodeTiled
#include <cuda_fp16.h>

namespace tq_mmv {

enum : int { TQ2 = 0, TQ1 = 1 };

constexpr int ROWS      = 16; // rows per CTA
constexpr int MAX_COLS  = 8;  // mma N
constexpr int COPY_BULK = 0;  // tq_mmv_kernel's cpy for Hopper bulk copies (one per row and chunk)
constexpr int COPY_TMA  = 1;  // tq_mmv_kernel's cpy for Hopper tensor (TMA) copies (one per chunk of the tile's rows)

template <int type> struct traits;
template <> struct traits<TQ2> { static constexpr int bs = 66; };
template <> struct traits<TQ1> { static constexpr int bs = 54; };

// A staged chunk is CB blocks of each of the 16 rows: CB = 8 (528 / 432 bytes per row: 16-byte
// multiples, the only size bulk copies take) or CB = 4 (264 / 216 bytes: 8-byte multiples; for short
// rows, twice the warps along K and half the serial decode per warp). stride: words per row in shared
// memory, padded for CB = 4 so that thread (g, t) reading word t + 4u of row g hits 32 distinct banks
// (TQ2_0: 68 = 4 mod 32 -> bank 4g + t; TQ1_0: 60 = 28 mod 32 -> 28g mod 32 = distinct multiples of 4).
template <int type, int CB> struct chunk {
    static_assert(CB == 8 || CB == 4, "chunk of 8 or 4 blocks");
    static constexpr int bytes  = CB*traits<type>::bs;
    static constexpr int stride = CB == 8 ? bytes/4 : (type == TQ2 ? 68 : 60);
};

// Element index (within the 256-weight block) of the first of the 4 consecutive weights of group i
// (0..15) of quad thread t (0..3). Group 2j feeds the k slots (t, 0..3) of mma j, group 2j+1 the
// slots (t, 16..19). Must match the decode order in tq_mmv_decode_*.
template <int type>
static __host__ __device__ __forceinline__ int tq_mmv_elem(const int t, const int i) {
    if (type == TQ2) {
        // group i = 4*s + u: word w = t + 4u at shift s
        const int u = i % 4, s = i / 4, w = t + 4*u;
        return 128*(w/8) + 32*s + 4*(w%8);
    } else {
        // i 0..4: qs word t digit i; 5..9: qs word t+4 digit i-5; 10..14: qs word 8+t digit i-10
        // (weights 160 + 16k + 4t); 15: qh word digit t (weights 240 + 4t)
        if (i < 5)  return 32*i + 4*t;
        if (i < 10) return 32*(i - 5) + 4*(t + 4);
        if (i < 15) return 160 + 16*(i - 10) + 4*t;
        return 240 + 4*t;
    }
}

// Programmatic dependent launch (sm_90+; no-ops elsewhere): wait for the preceding kernel's results /
// allow the next kernel to launch (it still waits for our results before reading them).
static __device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

static __device__ __forceinline__ void pdl_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

// ---- activation quantizer ----
// Where the int8x4 of group i of quad thread t goes among a block's 64 output words (o = t*16 + i):
// the mat-vec reads them in that order (4 x 16-byte loads per thread and block).
struct mmv_word_order {
    __device__ __forceinline__ int operator()(const int o) const { return o; }
};

// Lane's 8 of the 256 activations of block yb (output ints 2*lane and 2*lane + 1 of quantize_block): the
// loads of quantize_block, apart so that a warp can have several blocks' loads in flight.
template <int type>
static __device__ __forceinline__ void load_block(const float * yb, const int lane, float4 (&e)[2]) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        const int o = 2*lane + h;
        e[h] = *(const float4 *) (yb + tq_mmv_elem<type>(o / 16, o % 16));
    }
}

// e (from load_block) times scale times the norm weight at the same elements (ggml's rms_norm followed by
// its weight, see tq_mmv_quantize_rms_norm): wv holds the weight's values there (load_block of the weight).
static __device__ __forceinline__ void apply_norm(float4 (&e)[2], const float4 (&wv)[2], const float scale) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        const float4 w = wv[h];
        e[h] = make_float4(e[h].x*scale*w.x, e[h].y*scale*w.y, e[h].z*scale*w.z, e[h].w*scale*w.w);
    }
}

// One block of 256 activations (one warp), loaded by load_block: out[order(t*16 + i)] = the int8x4 of
// group i of quad thread t (the kernel's K order, see tq_mmv_elem); returns (d, d*sum(q)) to every lane.
template <typename Order = mmv_word_order>
static __device__ __forceinline__ float2 quantize_loaded(const float4 (&e)[2], int * out, const int lane,
                                                         const Order order = {}) {
    // the block's amax is a warp reduction over the lanes' 8 values
    float amax = fmaxf(fmaxf(fmaxf(fabsf(e[0].x), fabsf(e[0].y)), fmaxf(fabsf(e[0].z), fabsf(e[0].w))),
                       fmaxf(fmaxf(fabsf(e[1].x), fabsf(e[1].y)), fmaxf(fabsf(e[1].z), fabsf(e[1].w))));
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        amax = fmaxf(amax, __shfl_xor_sync(0xffffffff, amax, o));
    }
    const float d  = amax / 127.0f;
    const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
    int sum = 0;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        const int q0 = __float2int_rn(e[h].x*id), q1 = __float2int_rn(e[h].y*id);
        const int q2 = __float2int_rn(e[h].z*id), q3 = __float2int_rn(e[h].w*id);
        sum += q0 + q1 + q2 + q3;
        out[order(2*lane + h)] = (q0 & 0xFF) | ((q1 & 0xFF) << 8) | ((q2 & 0xFF) << 16) | ((uint32_t) (q3 & 0xFF) << 24);
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        sum += __shfl_xor_sync(0xffffffff, sum, o);
    }
    return make_float2(d, d*(float) sum);
}

// load_block + quantize_loaded: one block, one warp.
template <int type>
static __device__ __forceinline__ float2 quantize_block(const float * yb, int * out, const int lane) {
    float4 e[2];
    load_block<type>(yb, lane, e);
    return quantize_loaded(e, out, lane);
}

// y (f32, column stride stride_col) -> yq: [col][block][64 ints], ym: [block][MAX_COLS] (d, d*sum),
// absent columns zero. grid (nb, MAX_COLS), 32 threads.
template <int type>
__global__ void __launch_bounds__(32) tq_mmv_quantize(
        const float * y, int * yq, float2 * ym, const int nb, const int ncols, const int64_t stride_col) {
    pdl_launch_dependents();
    pdl_wait(); // y comes from the preceding kernel; yq/ym may still be read by an earlier mat-vec
    const int b = blockIdx.x, col = blockIdx.y, lane = threadIdx.x;
    if (col >= ncols) {
        if (lane == 0) {
            ym[(int64_t) b*MAX_COLS + col] = make_float2(0.0f, 0.0f);
        }
        return;
    }
    const float2 dm = quantize_block<type>(y + col*stride_col + (int64_t) b*256, yq + ((int64_t) col*nb + b)*64, lane);
    if (lane == 0) {
        ym[(int64_t) b*MAX_COLS + col] = dm;
    }
}

// The same quantization of rms_norm(x)*w (ggml's RMS_NORM and MUL of the norm weight, fused into it: the
// normalized activations are never written): every CTA reduces the whole column's sum of squares (K floats
// from L2, all 4 warps' loads in flight at once), then each warp quantizes one block. A warp's own block
// (x and w) is loaded together with the sum of squares' loads, not after the reduction: one L2 round trip
// after the wait instead of two. The block's x is read twice (it is in the sum too); the arithmetic is
// unchanged, so the results are bit-identical. Measured (8B-class layer harness, H100, session 18,
// bench/results/gpu-h100-2026-12-07-s18): 0.3-1.1% per layer (TQ2_0 n = 1 42.95 vs 43.24 us).
// grid (ceil(nb/4), MAX_COLS), 4 warps.
template <int type>
__global__ void __launch_bounds__(128) tq_mmv_quantize_rms_norm(
        const float * x, const float * w, const float eps, int * yq, float2 * ym, const int nb, const int ncols,
        const int64_t stride_col) {
    pdl_launch_dependents();
    pdl_wait(); // x comes from the preceding kernel; yq/ym may still be read by an earlier mat-vec
    const int col = blockIdx.y, lane = threadIdx.x, warp = threadIdx.y;
    const int b = blockIdx.x*4 + warp;
    if (col >= ncols) {
        if (lane == 0 && b < nb) {
            ym[(int64_t) b*MAX_COLS + col] = make_float2(0.0f, 0.0f);
        }
        return;
    }
    const float * xc = x + col*stride_col;
    float4 e[2], wv[2];
    if (b < nb) {
        load_block<type>(xc + (int64_t) b*256, lane, e);
        load_block<type>(w  + (int64_t) b*256, lane, wv);
    }
    float ss = 0.0f;
#pragma unroll 8
    for (int i = warp*32 + lane; i < nb*64; i += 128) {
        const float4 v = ((const float4 *) xc)[i];
        ss += v.x*v.x + v.y*v.y + v.z*v.z + v.w*v.w;
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        ss += __shfl_xor_sync(0xffffffff, ss, o);
    }
    __shared__ float warp_ss[4];
    if (lane == 0) {
        warp_ss[warp] = ss;
    }
    __syncthreads();
    const float scale = rsqrtf((warp_ss[0] + warp_ss[1] + warp_ss[2] + warp_ss[3])/(float) (nb*256) + eps);
    if (b >= nb) {
        return;
    }
    apply_norm(e, wv, scale);
    const float2 dm = quantize_loaded(e, yq + ((int64_t) col*nb + b)*64, lane);
    if (lane == 0) {
        ym[(int64_t) b*MAX_COLS + col] = dm;
    }
}

// ---- helpers ----
// cp.async, L2 cache policies and the int8 mma need sm_80. The kernels run on cc >= 8.0 only (the host checks);
// for older targets of a multi-architecture build the helpers compile to nothing, so that the build goes through.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define TQ_MMV_AMPERE_AVAILABLE
#endif

template <int cpy>
static __device__ __forceinline__ void cp_async(void * dst_smem, const void * src) {
#ifdef TQ_MMV_AMPERE_AVAILABLE
    const unsigned int d = (unsigned int) __cvta_generic_to_shared(dst_smem);
    if (cpy == 16) {
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" :: "r"(d), "l"(src));
    } else {
        asm volatile("cp.async.ca.shared.global [%0], [%1], %2;\n" :: "r"(d), "l"(src), "n"(cpy));
    }
#endif
}

// The same with an L2 cache policy (createpolicy: see weight_policy).
template <int cpy>
static __device__ __forceinline__ void cp_async(void * dst_smem, const void * src, const uint64_t policy) {
#ifdef TQ_MMV_AMPERE_AVAILABLE
    const unsigned int d = (unsigned int) __cvta_generic_to_shared(dst_smem);
    if (cpy == 16) {
        asm volatile("cp.async.cg.shared.global.L2::cache_hint [%0], [%1], 16, %2;\n" :: "r"(d), "l"(src), "l"(policy));
    } else {
        asm volatile("cp.async.ca.shared.global.L2::cache_hint [%0], [%1], %2, %3;\n" :: "r"(d), "l"(src), "n"(cpy), "l"(policy));
    }
#endif
}

// The L2 policy of the weight copies. evict_first: a token streams every weight once (1.8 GB at 8B-class through
// a 50 MB L2), so the weights are marked to go first and the small data that is read again (KV cache, norm
// weights, activations, the residual stream) stays in L2; evict_normal: as a plain copy (A/B).
static __device__ __forceinline__ uint64_t weight_policy(const bool evict_first) {
    uint64_t p = 0;
#ifdef TQ_MMV_AMPERE_AVAILABLE
    if (evict_first) {
        asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;\n" : "=l"(p));
    } else {
        asm volatile("createpolicy.fractional.L2::evict_normal.b64 %0, 1.0;\n" : "=l"(p));
    }
#endif
    return p;
}

static __device__ __forceinline__ void cp_async_commit() {
#ifdef TQ_MMV_AMPERE_AVAILABLE
    asm volatile("cp.async.commit_group;\n" ::);
#endif
}

template <int n>
static __device__ __forceinline__ void cp_async_wait() {
#ifdef TQ_MMV_AMPERE_AVAILABLE
    asm volatile("cp.async.wait_group %0;\n" :: "n"(n));
#endif
}

// Hopper bulk copies (TMA, 1D): one instruction moves a whole row piece into shared memory and
// completes on an mbarrier. Only sm_90+ kernels take this path (the host checks the device).
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define TQ_MMV_BULK_AVAILABLE
#endif

static __device__ __forceinline__ uint32_t smem_addr(const void * p) {
    return (uint32_t) __cvta_generic_to_shared(p);
}

static __device__ __forceinline__ void mbar_init(uint64_t * bar, const uint32_t count) {
#ifdef TQ_MMV_BULK_AVAILABLE
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" :: "r"(smem_addr(bar)), "r"(count) : "memory");
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}

// Orders this thread's earlier shared-memory accesses (generic proxy; with an mbarrier wait, those of the
// threads that arrived) before its later bulk copies (async proxy): a slot's reuse after the consumers
// released it.
static __device__ __forceinline__ void fence_proxy_async() {
#ifdef TQ_MMV_BULK_AVAILABLE
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}

static __device__ __forceinline__ void mbar_expect_tx(uint64_t * bar, const uint32_t bytes) {
#ifdef TQ_MMV_BULK_AVAILABLE
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" :: "r"(smem_addr(bar)), "r"(bytes) : "memory");
#endif
}

static __device__ __forceinline__ void mbar_arrive(uint64_t * bar) {
#ifdef TQ_MMV_BULK_AVAILABLE
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" :: "r"(smem_addr(bar)) : "memory");
#endif
}

static __device__ __forceinline__ void bulk_copy(void * dst, const void * src, const uint32_t bytes, uint64_t * bar) {
#ifdef TQ_MMV_BULK_AVAILABLE
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n"
        :: "r"(smem_addr(dst)), "l"(src), "r"(bytes), "r"(smem_addr(bar)) : "memory");
#endif
}

static __device__ __forceinline__ void bulk_copy(void * dst, const void * src, const uint32_t bytes, uint64_t * bar,
                                                 const uint64_t policy) {
#ifdef TQ_MMV_BULK_AVAILABLE
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes.L2::cache_hint [%0], [%1], %2, [%3], %4;\n"
        :: "r"(smem_addr(dst)), "l"(src), "r"(bytes), "r"(smem_addr(bar)), "l"(policy) : "memory");
#endif
}

// A 2D tensor (TMA) copy of the box at element (c0, c1) of map into shared memory (128-byte aligned), completing on
// bar; map: the address of a __grid_constant__ kernel parameter.
static __device__ __forceinline__ void tensor_copy_2d(void * dst, const CUtensorMap * map, const int c0, const int c1,
                                                      uint64_t * bar, const uint64_t policy) {
#ifdef TQ_MMV_BULK_AVAILABLE
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes.L2::cache_hint"
                 " [%0], [%1, {%2, %3}], [%4], %5;\n"
        :: "r"(smem_addr(dst)), "l"((uint64_t) map), "r"(c0), "r"(c1), "r"(smem_addr(bar)), "l"(policy) : "memory");
#endif
}

// The arrival of this thread on bar, made once all of its earlier cp.asyncs have landed (.noinc: the
// arrival is one of the barrier's init count, not added to it).
static __device__ __forceinline__ void cp_async_mbar_arrive(uint64_t * bar) {
#ifdef TQ_MMV_BULK_AVAILABLE
    asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" :: "r"(smem_addr(bar)) : "memory");
#endif
}

static __device__ __forceinline__ void mbar_wait(uint64_t * bar, const uint32_t parity) {
#ifdef TQ_MMV_BULK_AVAILABLE
    asm volatile("{\n"
                 ".reg .pred done;\n"
                 "TQ_MMV_WAIT_%=:\n"
                 "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
                 "@!done bra TQ_MMV_WAIT_%=;\n"
                 "}\n" :: "r"(smem_addr(bar)), "r"(parity) : "memory");
#endif
}

// D = A*B + D, m16n8k32, int8 inputs, int32 accumulators (row.col). A signed (s8) or unsigned (u8).
template <bool a_unsigned>
static __device__ __forceinline__ void mma_i8(int (&c)[4], const int a0, const int a1, const int a2, const int a3,
                                              const int b0, const int b1) {
#ifdef TQ_MMV_AMPERE_AVAILABLE
    if (a_unsigned) {
        asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
            : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
            : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
    } else {
        asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
            : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
            : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
    }
#endif
}

static __device__ __forceinline__ float h2f_lo(const uint32_t w) {
    return __half2float(__ushort_as_half((unsigned short) (w & 0xFFFF)));
}

// TQ2_0 block of one row: 16 groups of thread t. q(j) returns qs word j of the block.
// Group 4s+u is word t+4u masked to the codes at shift s, NOT shifted down: bytes c*4^s (0..192,
// exact as u8). Every mma takes groups of one shift only (mma j: groups 2j, 2j+1, shift j/2), so its
// accumulator is 4^s times the true sum and is shifted back exactly afterwards: one AND per 4 weights.
template <typename Q>
static __device__ __forceinline__ void tq_mmv_decode_tq2(int (&a)[16], const Q & q, const int t) {
#pragma unroll
    for (int u = 0; u < 4; ++u) {
        const uint32_t w = q(t + 4*u);
#pragma unroll
        for (int s = 0; s < 4; ++s) {
            a[4*s + u] = (int) (w & (0x03030303u << (2*s)));
        }
    }
}

// Bytes 0, 2 / 1, 3 of w in the low bytes of two 16-bit lanes: one byte_perm with zero each. The mask and shift
// form took a SHF and two LOP3 per word: 8 instructions more per block (static SASS of the TQ1_0 NW4S3 kernel 2856
// -> 2792); mat-vec harness (session 15, bench/results/gpu-h100-2026-12-07-s15): 28672 x 8192 n = 1 31.06 vs 32.09
// us, 14336 x 4096 10.09 vs 10.41, 4096 x 14336 9.42 vs 9.49, 8192 x 28672 33.46 vs 33.28.
static __device__ __forceinline__ uint32_t tq1_even_bytes(const uint32_t w) {
    return __byte_perm(w, 0, 0x4240); // [w.b0, 0, w.b2, 0]
}

static __device__ __forceinline__ uint32_t tq1_odd_bytes(const uint32_t w) {
    return __byte_perm(w, 0, 0x4341); // [w.b1, 0, w.b3, 0]
}

// TQ1_0: digit k of a byte b is floor(3*((b*3^k) mod 256)/256) = H(k+1) - 3*H(k) with H(k) = floor(b*3^k/256)
// (write P = b*3^k = 256*H(k) + r: 3r = P*3 - 768*H(k)). The bytes of a word are spread over two
// 16-bit-lane words (b*3^k <= 255*243 < 2^16: no carry between lanes, no masking between digits);
// H(k) of all 4 bytes is byte 1 of each lane: one byte_perm gathers them as int8x4 in byte order,
// and H(k+1) - 3*H(k) is done on the packed word (each byte result is 0..2: no borrows).
// ~4 integer ops per 4 weights.
// Tried and removed (session 6): leaving "- 3*H(k)" to a second mma of the same A with the next digit's
// activations (sum_k (H(k+1) - 3 H(k)) y_k = sum_k H(k+1) (y_k - 3 y_{k+1})), which drops one IMAD per 4
// weights for 7 more mmas per block: 3-9% slower in the harness (28672 x 8192 n = 1 33.1 vs 32.1 us,
// 8192 x 28672 36.5 vs 33.7; bench/results/gpu-h100-2026-11-22-s6): the executed instruction count did
// not fall (15.9M vs 16.0M) and the mma dependency chains got longer.
static __device__ __forceinline__ uint32_t tq1_h4(const uint32_t e, const uint32_t o, const uint32_t p) {
    return __byte_perm(e*p, o*p, 0x7351); // [e.b1, o.b1, e.b3, o.b3]
}

template <typename Q>
static __device__ __forceinline__ void tq_mmv_decode_tq1(int (&a)[16], const Q & q, const int t) {
#pragma unroll
    for (int v = 0; v < 3; ++v) {
        const uint32_t w = q(v == 0 ? t : v == 1 ? t + 4 : 8 + t);
        const uint32_t e = tq1_even_bytes(w), o = tq1_odd_bytes(w);
        uint32_t h = 0; // H(0) = 0
        uint32_t p = 1;
#pragma unroll
        for (int k = 0; k < 5; ++k) {
            p *= 3;
            const uint32_t hn = tq1_h4(e, o, p);
            a[5*v + k] = (int) (hn - 3*h);
            h = hn;
        }
    }
    {
        const uint32_t w = q(12);
        const uint32_t e = tq1_even_bytes(w), o = tq1_odd_bytes(w);
        const uint32_t p = t == 0 ? 1 : t == 1 ? 3 : t == 2 ? 9 : 27;
        a[15] = (int) (tq1_h4(e, o, 3*p) - 3*tq1_h4(e, o, p));
    }
}

// The GLU of ggml's fused gate/up mat-vec, as ggml-cuda's unary ops compute it (GELU: tanh form).
enum : int { GLU_NONE = 0, GLU_SWIGLU = 1, GLU_GEGLU = 2 };

static __device__ __forceinline__ float glu_apply(const int glu, const float g, const float u) {
    if (glu == GLU_GEGLU) {
        return 0.5f*g*(1.0f + tanhf(0.79788456080286535587989211986876f*g*(1.0f + 0.044715f*g*g)))*u;
    }
    return g/(1.0f + expf(-g))*u;
}

// One launch covers up to MAX_SEGS matrices of the same K and layout that multiply the same
// activations (ggml's Q/K/V projections of one input): matrix s owns the tiles [tile0, tile0 +
// ceil(nrows/ROWS)) of the launch's tile range, in order, so one quantization and one launch serve all.
constexpr int MAX_SEGS = 3;

// ggml's ROPE (mode NORMAL) of a matrix's product, applied in the epilogue (the attention's Q and K):
// the product's rows are heads of head_dim rows; rows n_offs + 2i, n_offs + 2i + 1 (i < n_dims/2) of a head
// are rotated by theta = pos[col]*theta_scale^i / freq_factors[i] (ggml's rope_yarn: freq_scale, the YaRN
// ramp over corr_dims, attn_factor), the other rows pass through. A pair never crosses a 16-row tile
// (head_dim and n_offs even).
struct mv_rope {
    const int32_t * pos;          // null: no rope
    const float   * freq_factors; // null: none
    int   head_dim, n_dims, n_offs;
    float theta_scale, freq_scale, ext_factor, attn_factor, corr_lo, corr_hi;
};

// ggml's SET_ROWS of a matrix's result (after its rope) into another tensor, instead of dst (the attention's
// K/V cache stores): element (row, col) goes to base + idx[col]*row_bytes + row*elem_bytes (rows of the
// whole product: the K cache, or V with flash attention), or to base + idx[col*nrows + row]*row_bytes
// (per_element: rows of one element, the transposed V cache), as F16 or F32.
struct mv_store {
    char          * base;         // null: no store (write dst)
    const int64_t * idx;
    int64_t         row_bytes;
    bool            per_element;
    bool            f16;
};

struct mv_segment {
    const char  * x;          // nrows rows, row_bytes apart (row_bytes is the launch's, equal for all)
    float       * dst;        // dst[col*stride_dst + row]
    int64_t       stride_dst;
    int           nrows;
    int           tile0;      // first tile of this matrix in the launch
    const float * add;        // not null: dst = product + add[col*stride_add + row] (ggml's residual ADD);
    int64_t       stride_add; // may be dst itself: each element is read, then written, by one thread
};

// The rope / store of each matrix of a launch (kernels with EPI only; see tq_mmv_kernel). Kept out of
// mv_segment and out of the plain kernels: inlined into every kernel, the sinf / cosf code changed the
// main loop's register allocation (e.g. 171 -> 142 registers, enough for a third CTA per SM) and cost
// 23-50% on the 70B shapes (H100 harness, bench/results/gpu-h100-2026-11-22-s10; not profiled).
struct mv_epilogue {
    mv_rope  rope;  // rope.pos not null: the result is rope(product) (then stored, if store.base is set)
    mv_store store; // store.base not null: the result goes there, dst is not written
};

struct mv_epilogues {
    mv_epilogue e[MAX_SEGS];
};

// ggml's rope_yarn (forward): cos and sin of the rotation of pair i0/2 (i0 relative to n_offs), written
// out the same way so that results agree with ggml-cuda's rope kernels.
static __device__ __forceinline__ float2 rope_cos_sin(const mv_rope & r, const int col, const int i0) {
    float theta = r.pos[col]*powf(r.theta_scale, i0/2.0f);
    if (r.freq_factors != nullptr) {
        theta /= r.freq_factors[i0/2];
    }
    const float theta_interp = r.freq_scale*theta;
    float mscale = r.attn_factor;
    if (r.ext_factor != 0.0f) {
        const float y = (i0/2 - r.corr_lo) / fmaxf(0.001f, r.corr_hi - r.corr_lo);
        const float ramp_mix = (1.0f - fminf(1.0f, fmaxf(0.0f, y)))*r.ext_factor;
        theta = theta_interp*(1 - ramp_mix) + theta*ramp_mix;
        mscale *= 1.0f + 0.1f*logf(1.0f/r.freq_scale);
    } else {
        theta = theta_interp;
    }
    return make_float2(cosf(theta)*mscale, sinf(theta)*mscale);
}

// Writes the result v of (row, col) of segment sg with its epilogue ep: rope (partner: the value of
// row ^ 1), residual add, then dst or the store.
static __device__ __forceinline__ void write_result(const mv_segment & sg, const mv_epilogue & ep, const int row,
                                                    const int col, float v, const float partner) {
    if (ep.rope.pos != nullptr) {
        const int i = row % ep.rope.head_dim - ep.rope.n_offs;
        if (i >= 0 && i < ep.rope.n_dims) {
            const float2 cs = rope_cos_sin(ep.rope, col, i & ~1);
            const float x0 = i % 2 == 0 ? v : partner;
            const float x1 = i % 2 == 0 ? partner : v;
            v = i % 2 == 0 ? x0*cs.x - x1*cs.y : x0*cs.y + x1*cs.x;
        }
    }
    if (sg.add != nullptr) {
        v += sg.add[col*sg.stride_add + row];
    }
    if (ep.store.base == nullptr) {
        sg.dst[col*sg.stride_dst + row] = v;
        return;
    }
    char * d = ep.store.base;
    if (ep.store.per_element) {
        d += ep.store.idx[(int64_t) col*sg.nrows + row]*ep.store.row_bytes;
    } else {
        d += ep.store.idx[col]*ep.store.row_bytes + (int64_t) row*(ep.store.f16 ? 2 : 4);
    }
    if (ep.store.f16) {
        *(half *) d = __float2half(v);
    } else {
        *(float *) d = v;
    }
}

struct mv_segments {
    mv_segment s[MAX_SEGS];
    int        n;            // 1..MAX_SEGS
};

// Entry v[s] of a per-matrix array, s the matrix that tile belongs to (constant indices only: no local-memory copy
// of the kernel parameter that v lives in).
template <typename T, int N>
static __device__ __forceinline__ T of_segment(const T (&v)[N], const mv_segments & p, const int tile) {
    static_assert(N >= MAX_SEGS && MAX_SEGS == 3, "one branch per segment");
    if (p.n > 2 && tile >= p.s[2].tile0) {
        return v[2];
    }
    if (p.n > 1 && tile >= p.s[1].tile0) {
        return v[1];
    }
    return v[0];
}

// The matrix that tile belongs to.
static __device__ __forceinline__ mv_segment segment_of(const mv_segments & p, const int tile) {
    return of_segment(p.s, p, tile);
}

// The index of the matrix that tile belongs to (the conditions of of_segment; selecting from a {0, 1, 2} array through
// of_segment cost the TMA kernels 8 more static instructions).
static __device__ __forceinline__ int segment_index(const mv_segments & p, const int tile) {
    return p.n > 2 && tile >= p.s[2].tile0 ? 2 : p.n > 1 && tile >= p.s[1].tile0 ? 1 : 0;
}

// The tensor maps of a launch's matrices for its TMA copies (COPY_TMA kernels; see tensor_map_of): m[s] is
// segment s's matrix, m[MAX_SEGS] the x_up matrix. Each map: uint32 elements, row_bytes/4 x nrows, box of one
// chunk of ROWS rows (CB*BS/4 x ROWS, written to shared memory densely: the chunk's row stride CW).
struct mv_tmaps {
    CUtensorMap m[MAX_SEGS + 1];
};

// sm_70+ (every architecture a toolkit with TMA support still builds); the TMA path runs on sm_90 only.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 700
#define TQ_MMV_GRID_CONSTANT
#else
#define TQ_MMV_GRID_CONSTANT __grid_constant__
#endif

// The epilogue of the matrix that tile belongs to.
static __device__ __forceinline__ mv_epilogue epilogue_of(const mv_epilogues & e, const mv_segments & p, const int tile) {
    return of_segment(e.e, p, tile);
}

// One weight block (both row halves of the tile) times the activation block: accumulates acc.
template <int type>
static __device__ __forceinline__ void tq_mmv_block(
        float (&acc)[4], const uint32_t * __restrict__ r0, const uint32_t * __restrict__ r1, const bool odd,
        const int t, const int4 (&yv)[4], const float4 m) {
    constexpr int DW = type == TQ2 ? 16 : 13; // word (of the pair) holding d of the even block (low half)
    int a0[16], a1[16];
    float dx0, dx1;
    if (!odd) {
        auto q0 = [&](int j) { return r0[j]; };
        auto q1 = [&](int j) { return r1[j]; };
        if (type == TQ2) { tq_mmv_decode_tq2(a0, q0, t); tq_mmv_decode_tq2(a1, q1, t); }
        else             { tq_mmv_decode_tq1(a0, q0, t); tq_mmv_decode_tq1(a1, q1, t); }
        dx0 = h2f_lo(r0[DW]);
        dx1 = h2f_lo(r1[DW]);
    } else {
        auto q0 = [&](int j) { return __funnelshift_r(r0[DW + j], r0[DW + j + 1], 16); };
        auto q1 = [&](int j) { return __funnelshift_r(r1[DW + j], r1[DW + j + 1], 16); };
        if (type == TQ2) { tq_mmv_decode_tq2(a0, q0, t); tq_mmv_decode_tq2(a1, q1, t); }
        else             { tq_mmv_decode_tq1(a0, q0, t); tq_mmv_decode_tq1(a1, q1, t); }
        dx0 = h2f_lo(r0[2*DW] >> 16); // word 2*DW holds d of the odd block (high half)
        dx1 = h2f_lo(r1[2*DW] >> 16);
    }
    const int * y = (const int *) yv;
    int c[4];
    if (type == TQ2) {
        // one accumulator per shift s (= mma pair): 4 independent mma chains
        int cs[4][4] = {};
#pragma unroll
        for (int j = 0; j < 8; ++j) {
            mma_i8<true>(cs[j/2], a0[2*j], a1[2*j], a0[2*j + 1], a1[2*j + 1], y[2*j], y[2*j + 1]);
        }
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            c[k] = cs[0][k] + (cs[1][k] >> 2) + (cs[2][k] >> 4) + (cs[3][k] >> 6);
        }
    } else {
        int e[4] = {0, 0, 0, 0}; // two accumulator chains: halves the mma dependency chain
        c[0] = c[1] = c[2] = c[3] = 0;
#pragma unroll
        for (int j = 0; j < 8; j += 2) {
            mma_i8<false>(c, a0[2*j], a1[2*j], a0[2*j + 1], a1[2*j + 1], y[2*j], y[2*j + 1]);
            mma_i8<false>(e, a0[2*j + 2], a1[2*j + 2], a0[2*j + 3], a1[2*j + 3], y[2*j + 2], y[2*j + 3]);
        }
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            c[k] += e[k];
        }
    }
    // (float) c is an I2F on the otherwise idle conversion unit. Tried and removed (session 7): the
    // 0x4B400000 + c float trick on the integer/FMA pipes: 2-8% slower on the 70B shapes (TQ2_0 8192 x
    // 28672 n = 1 30.90 vs 29.46 us; bench/results/gpu-h100-2026-11-22-s7).
    acc[0] += dx0*(m.x*(float) c[0] - m.y);
    acc[1] += dx0*(m.z*(float) c[1] - m.w);
    acc[2] += dx1*(m.x*(float) c[2] - m.y);
    acc[3] += dx1*(m.z*(float) c[3] - m.w);
}

// segs: the matrices (rows of nb blocks, row stride row_bytes) and their outputs, ntiles tiles in all;
// yq/ym from tq_mmv_quantize. Grid: at most ntiles CTAs (launch_k sizes it to one resident wave); needs
// NW <= chunks per row.
// cpy: bytes per cp.async (16, 8, 4), or COPY_BULK: one bulk copy per row and chunk, or COPY_TMA: one TMA copy (tmaps) per
// chunk of the tile's rows; both complete on a per-stage mbarrier (sm_90+, CB = 8, full chunks only: nb % 8 == 0,
// 16-byte aligned rows).
// x_up (not null, one segment only): a second matrix of the segment's shape and layout (the FFN up
// projection, the segment the gate); a tile then has the chunks of both matrices (chunk c >= nchunks:
// x_up) and the epilogue writes glu(gate row, up row) (GLU_SWIGLU: silu(g)*u, GLU_GEGLU: gelu(g)*u), as
// ggml's fused MUL_MAT x2 + GLU.
// EPI: the epilogue applies epis (the rope / store of each matrix; no x_up): a separate instantiation, so
// that the other launches keep their code (see mv_epilogue).
// DEEP: activations prefetched 3 blocks ahead across chunk boundaries instead of 1 block ahead within a
// chunk (see deep_prefetch_rule).
template <int type, int cpy, int NW, int STAGES, int CB, bool DEEP, bool EPI>
__global__ void __launch_bounds__(NW*32) tq_mmv_kernel(
        const mv_segments segs, const int ntiles, const int * yq, const float2 * ym,
        const int nb, const int64_t row_bytes, const int ncols, const char * __restrict__ x_up, const int glu,
        const mv_epilogues epis, const bool evict_first, const TQ_MMV_GRID_CONSTANT mv_tmaps tmaps) {
    constexpr int BS  = traits<type>::bs;
    constexpr int PW  = BS/2;              // words per block pair (33 / 27)
    constexpr int CW  = chunk<type, CB>::stride; // words per row per stage in shared memory
    constexpr bool TMA  = cpy == COPY_TMA;
    constexpr bool BULK = cpy == COPY_BULK || TMA; // mbarrier-completed copies
    constexpr int CPR = BULK ? 1 : CB*BS/cpy; // cp.async copies per row of a full chunk
    extern __shared__ __align__(128) uint32_t tq_mmv_smem[]; // TMA destinations: 128-byte aligned stages

    const int lane = threadIdx.x, warp = threadIdx.y;
    const int g = lane / 4, t = lane % 4;
    const uint64_t wpol = weight_policy(evict_first);
    uint32_t * wbuf = tq_mmv_smem + warp*STAGES*ROWS*CW;
    float    * red  = (float *) (tq_mmv_smem + NW*STAGES*ROWS*CW); // [2][NW][2 matrices][ROWS][MAX_COLS]
    uint64_t * bars = (uint64_t *) (red + 4*NW*ROWS*MAX_COLS) + warp*STAGES; // BULK: one per stage
    if (BULK) {
        if (lane == 0) {
#pragma unroll
            for (int s = 0; s < STAGES; ++s) {
                mbar_init(&bars[s], 1);
            }
        }
        __syncwarp();
    }

    const int nchunks  = (nb + CB - 1) / CB;
    const int nmat     = x_up != nullptr ? 2 : 1;
    const int my_tiles = (ntiles - (int) blockIdx.x + (int) gridDim.x - 1) / (int) gridDim.x;
    const int per_tile = (nmat*nchunks - warp + NW - 1) / NW; // this warp's chunks of every tile (>= 1)
    const int nitems   = my_tiles*per_tile;
    // item j of this warp: tile blockIdx.x + (j / per_tile)*gridDim.x, chunk warp + NW*(j % per_tile) of
    // the tile's nmat*nchunks chunks (matrix c / nchunks, first block (c % nchunks)*CB)
    auto tile_of  = [&](const int j) { return (int) blockIdx.x + (j / per_tile)*(int) gridDim.x; };
    auto chunk_of = [&](const int j) { return warp + NW*(j % per_tile); };

    auto issue = [&](const int j, const int stage) {
        if (j < nitems) {
            const int tile = tile_of(j);
            const mv_segment sg = segment_of(segs, tile);
            const int row0  = (tile - sg.tile0)*ROWS;
            const int nrows = sg.nrows;
            const int c     = chunk_of(j);
            const int kb0   = (c < nchunks ? c : c - nchunks)*CB;
            const char * src = (c < nchunks ? sg.x : x_up) + (int64_t) kb0*BS;
            char * sb = (char *) (wbuf + stage*ROWS*CW);
            if (TMA) {
                // one TMA copy of the chunk's 16 rows (rows past nrows are zero-filled and never stored). The per-lane
                // bulk copies below take a 16-pass elect loop of uniform-register moves per item (~180 instructions).
                if (lane == 0) {
                    mbar_expect_tx(&bars[stage], ROWS*CB*BS);
                    tensor_copy_2d(sb, &tmaps.m[c < nchunks ? segment_index(segs, tile) : MAX_SEGS], kb0*BS/4, row0,
                                   &bars[stage], wpol);
                }
                return;
            }
            if (BULK) {
                if (lane == 0) {
                    mbar_expect_tx(&bars[stage], ROWS*CB*BS);
                }
                __syncwarp(); // the expected byte count is set before any copy can complete
                if (lane < ROWS) {
                    bulk_copy(sb + lane*CW*4, src + (int64_t) min(row0 + lane, nrows - 1)*row_bytes, CB*BS, &bars[stage], wpol);
                }
                return;
            }
            const int ncp = min(CB, nb - kb0)*BS/(BULK ? 1 : cpy); // copies per row of this chunk
            if (ncp == CPR) { // full chunk: constant divisor
#pragma unroll 4
                for (int i = lane; i < ROWS*CPR; i += 32) {
                    const int r = i / CPR, o = (i - r*CPR)*cpy;
                    cp_async<BULK ? 16 : cpy>(sb + r*CW*4 + o, src + (int64_t) min(row0 + r, nrows - 1)*row_bytes + o, wpol);
                }
            } else {
                for (int i = lane; i < ROWS*ncp; i += 32) {
                    const int r = i / ncp, o = (i - r*ncp)*cpy;
                    cp_async<BULK ? 16 : cpy>(sb + r*CW*4 + o, src + (int64_t) min(row0 + r, nrows - 1)*row_bytes + o, wpol);
                }
            }
        }
        if (!BULK) {
            cp_async_commit(); // always, so that wait_group counts stay uniform
        }
    };

    // STAGES - 1 items before the wait (weights are never written by a preceding kernel). Measured (session 14,
    // bench/results/gpu-h100-2026-11-22-s14, 8B-class tg128, three interleaved rounds): at most 1 item per warp
    // before the wait, TQ2_0 593.0 vs 605.8 t/s; none, 528.9. The early weight stream does not delay the quantizer
    // enough to matter; the head start is worth more.
    // Tried and removed (session 19, bench/results/gpu-h100-2026-12-07-s19, proto-prewait.diff, 8B-class layer
    // harness, two rounds, against the same binary without the setting): fewer items per warp before the wait for
    // one kind of launch, to see whether their copies slow the preceding quantizer's L2 reads. TQ2_0 n = 1, us per
    // layer, 43.34 as built: gate/up pairs 1 item 43.37, none 44.72; single matrices of 32+ blocks (down) 1 item
    // 44.55, none 46.19; Q/K/V and O none 45.76. TQ1_0 and n = 4 lost in every case (up to 8.7%).
    // Tried and removed (session 15, bench/results/gpu-h100-2026-12-07-s15, 8B-class layer harness, two rounds):
    //   * 2, 4, 8 or 32 more items per warp prefetched into L2 (cp.async.bulk.prefetch.L2) before the wait, also
    //     kept that far ahead in the main loop, also with evict_normal: each step alone 1-4% faster, the layer
    //     sequence 5% slower whatever the depth (TQ2_0 n = 1 45.8-46.1 vs 43.6 us per layer);
    //   * pdl_launch_dependents() before the wait instead of after it (the next quantizer, and through it the next
    //     mat-vec, launched sooner): TQ2_0 43.3 vs 43.6 us, TQ1_0 51.8 vs 48.0 (n = 1), 55.5 vs 50.0 (n = 4).
#pragma unroll
    for (int s = 0; s < STAGES - 1; ++s) {
        issue(s, s);
    }
    pdl_wait(); // yq, ym: written by tq_mmv_quantize
    pdl_launch_dependents();

    float acc[4]    = {0.0f, 0.0f, 0.0f, 0.0f}; // x (gate), this tile
    float acc_up[4] = {0.0f, 0.0f, 0.0f, 0.0f}; // x_up
    // B fragment: lane (g, t) feeds activation column g. Lanes of absent columns (g >= ncols) read
    // column ncols - 1 instead of loading predicated zeros: their mma output column is never stored,
    // and unpredicated loads keep the activation stream to 5 loads per block and lane.
    const int4 * yrow = (const int4 *) yq + ((int64_t) min(g, ncols - 1)*nb*4 + t)*4; // + kb*16 int4

    // Activations (and their scales) come from L2 (shared by all CTAs): their latency is hidden by
    // loading them PF blocks ahead into a ring of R = PF + 1 register sets (20 registers each). DEEP: 3
    // blocks ahead and across chunk boundaries (the last blocks of an item load the first ones of the
    // warp's next item, so no item starts on an L2 round trip); else 1 block ahead, the first block of a
    // chunk loaded just before waiting for its weights. Block b of a chunk sits in slot b % R (R | CB).
    constexpr int PF = DEEP ? 3 : 1;
    constexpr int R  = PF + 1;
    static_assert(CB % R == 0, "the activation ring must divide the chunk");
    auto load_y = [&](const int kb, int4 (&yv)[4], float4 & m) {
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            yv[k] = yrow[(int64_t) kb*16 + k];
        }
        m = *((const float4 *) (ym + (int64_t) kb*MAX_COLS) + t);
    };
    auto kb0_of = [&](const int j) { // first block of item j's chunk
        const int c = chunk_of(j);
        return (c < nchunks ? c : c - nchunks)*CB;
    };
    int4   yv[R][4];
    float4 ymv[R];
    auto prefetch_first = [&](const int j) { // slots 0..PF-1: the first blocks of item j (clamped: always valid)
        const int kb0 = kb0_of(j < nitems ? j : nitems - 1);
#pragma unroll
        for (int b = 0; b < PF; ++b) {
            load_y(min(kb0 + b, nb - 1), yv[b], ymv[b]);
        }
    };
    if (DEEP) {
        prefetch_first(0);
    }

    int buf = 0; // reduction buffer of the current tile
    for (int j = 0; j < nitems; ++j) {
        issue(j + STAGES - 1, (j + STAGES - 1) % STAGES); // refills the slot consumed at j - 1

        const bool up   = chunk_of(j) >= nchunks; // chunk of x_up
        const int  kb0  = kb0_of(j);
        const int  kb0n = kb0_of(j + 1 < nitems ? j + 1 : j); // the next item's (prefetched in this one)
        const int  nblk = min(CB, nb - kb0); // even, >= 2
        if (!DEEP) {
            prefetch_first(j);
        }

        if (BULK) {
            mbar_wait(&bars[j % STAGES], (j / STAGES) & 1); // the k-th use of a stage completes phase k
        } else {
            cp_async_wait<STAGES - 1>();
        }
        __syncwarp();

        const uint32_t * sb = wbuf + (j % STAGES)*ROWS*CW;
        const uint32_t * r0 = sb + g*CW;
        const uint32_t * r1 = sb + (g + 8)*CW;
        float cacc[4] = {0.0f, 0.0f, 0.0f, 0.0f}; // this chunk's sums, added to its matrix's below
        if (BULK || nblk == CB) { // full chunk: no per-block bounds, activations PF blocks ahead
#pragma unroll
            for (int b = 0; b < CB; ++b) {
                if (b + PF < CB) {
                    load_y(kb0 + b + PF, yv[(b + PF) % R], ymv[(b + PF) % R]);
                } else if (DEEP) {
                    load_y(min(kb0n + b + PF - CB, nb - 1), yv[(b + PF) % R], ymv[(b + PF) % R]);
                }
                tq_mmv_block<type>(cacc, r0 + (b/2)*PW, r1 + (b/2)*PW, b % 2, t, yv[b % R], ymv[b % R]);
            }
        } else { // the last, partial chunk of a row (cp.async layouts only): block pairs, loads in line
#pragma unroll 1
            for (int b = 0; b < nblk; b += 2) {
                load_y(kb0 + b, yv[0], ymv[0]);
                load_y(kb0 + b + 1, yv[1], ymv[1]);
                tq_mmv_block<type>(cacc, r0 + (b/2)*PW, r1 + (b/2)*PW, false, t, yv[0], ymv[0]);
                tq_mmv_block<type>(cacc, r0 + (b/2)*PW, r1 + (b/2)*PW, true,  t, yv[1], ymv[1]);
            }
            if (DEEP) {
                prefetch_first(j + 1);
            }
        }
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            if (up) {
                acc_up[i] += cacc[i];
            } else {
                acc[i] += cacc[i];
            }
        }
        __syncwarp(); // this slot is refilled by the next iteration's issue

        if (j % per_tile == per_tile - 1) { // this warp's last chunk of the tile: cross-warp reduction
            float * rb = red + buf*NW*2*ROWS*MAX_COLS; // [NW][matrix][ROWS][MAX_COLS]
#pragma unroll
            for (int m = 0; m < 2; ++m) {
                const float * a = m == 0 ? acc : acc_up;
                float * rw = rb + (warp*2 + m)*ROWS*MAX_COLS;
                rw[ g     *MAX_COLS + 2*t    ] = a[0];
                rw[ g     *MAX_COLS + 2*t + 1] = a[1];
                rw[(g + 8)*MAX_COLS + 2*t    ] = a[2];
                rw[(g + 8)*MAX_COLS + 2*t + 1] = a[3];
            }
            acc[0] = acc[1] = acc[2] = acc[3] = 0.0f;
            acc_up[0] = acc_up[1] = acc_up[2] = acc_up[3] = 0.0f;
            // Every warp reaches this barrier once per tile. The other buffer is rewritten only after
            // the next tile's barrier, which every reader of this one has passed.
            __syncthreads();
            const int tile = tile_of(j);
            const mv_segment sg = segment_of(segs, tile);
            const int row0 = (tile - sg.tile0)*ROWS;
            if constexpr (EPI) {
                const mv_epilogue ep = epilogue_of(epis, segs, tile);
                auto result = [&](const int r, const int col) { // the warps' sums of row r
                    float v = 0.0f;
#pragma unroll
                    for (int w = 0; w < NW; ++w) {
                        v += rb[(w*2*ROWS + r)*MAX_COLS + col];
                    }
                    return v;
                };
                for (int idx = warp*32 + lane; idx < ROWS*MAX_COLS; idx += NW*32) {
                    const int r = idx / MAX_COLS, col = idx % MAX_COLS;
                    if (col < ncols && row0 + r < sg.nrows) {
                        write_result(sg, ep, row0 + r, col, result(r, col), ep.rope.pos != nullptr ? result(r ^ 1, col) : 0.0f);
                    }
                }
            } else {
                for (int idx = warp*32 + lane; idx < ROWS*MAX_COLS; idx += NW*32) {
                    const int r = idx / MAX_COLS, col = idx % MAX_COLS;
                    float v = 0.0f;
#pragma unroll
                    for (int w = 0; w < NW; ++w) {
                        v += rb[(w*2*ROWS + r)*MAX_COLS + col];
                    }
                    if (nmat == 2) {
                        float u = 0.0f;
#pragma unroll
                        for (int w = 0; w < NW; ++w) {
                            u += rb[((w*2 + 1)*ROWS + r)*MAX_COLS + col];
                        }
                        v = glu_apply(glu, v, u);
                    }
                    if (col < ncols && row0 + r < sg.nrows) {
                        if (sg.add != nullptr) {
                            v += sg.add[col*sg.stride_add + row0 + r];
                        }
                        sg.dst[col*sg.stride_dst + row0 + r] = v;
                    }
                }
            }
            buf ^= 1;
        }
    }
    if (!BULK) {
        cp_async_wait<0>(); // only empty groups can be left
    }
}

template <int type, int NW, int STAGES, int CB>
constexpr int smem_bytes() {
    return NW*STAGES*ROWS*chunk<type, CB>::stride*4 + 4*NW*ROWS*MAX_COLS*4 + NW*STAGES*8;
}

// Whether the kernel handles this shape/alignment: even number of blocks per row (block pairs are
// word aligned), 4-byte aligned rows.
static inline bool supported(const int nb, const int64_t row_bytes, const uintptr_t x) {
    return nb >= 2 && nb % 2 == 0 && row_bytes % 4 == 0 && x % 4 == 0;
}

// Per device and kernel instantiation: whether launches may use PDL, and one resident wave of CTAs.
struct launch_info {
    bool init = false;
    bool pdl  = false; // programmatic dependent launch
    bool bulk = false; // Hopper bulk copies (cc >= 9.0)
    int  max_ctas = 0;
};

// cache: the caller's static array, one per kernel instantiation (function pointer types of the
// instantiations are alike, so the cache cannot live in a template on the kernel's type).
template <typename Kernel>
static const launch_info & get_launch_info(launch_info (&cache)[64], Kernel kernel, const int threads, const int smem) {
    int dev = 0;
    cudaGetDevice(&dev);
    launch_info & li = cache[dev >= 0 && dev < 64 ? dev : 0];
    if (!li.init) {
        if (smem > 48*1024) {
            cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
        }
        int cc_major = 0, nsm = 0, occ = 0;
        cudaDeviceGetAttribute(&cc_major, cudaDevAttrComputeCapabilityMajor, dev);
        cudaDeviceGetAttribute(&nsm, cudaDevAttrMultiProcessorCount, dev);
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&occ, kernel, threads, smem);
        cudaFuncAttributes fa = {};
        cudaFuncGetAttributes(&fa, kernel);
        // as ggml-cuda decides for its own kernels (GGML_CUDA_PDL=0 turns it off); PDL code is only
        // emitted for PTX >= 9.0
        const char * env = getenv("GGML_CUDA_PDL");
        li.pdl      = cc_major >= 9 && fa.ptxVersion >= 90 && (env == nullptr || atoi(env) != 0);
        li.bulk     = cc_major >= 9 && fa.ptxVersion >= 90;
        li.max_ctas = (occ > 0 ? occ : 1)*nsm;
        li.init     = true;
    }
    return li;
}

// Thread-block clusters of n CTAs along x (sm_90; 0: a launch without the cluster attribute).
struct cluster_x {
    int n = 0;
};

template <typename... KArgs, typename... Args>
static void launch(void (*kernel)(KArgs...), const dim3 grid, const dim3 block, const int smem, cudaStream_t stream,
                   const bool pdl, const cluster_x cluster, Args... args) {
    if (!pdl && cluster.n == 0) {
        kernel<<<grid, block, smem, stream>>>(args...);
        return;
    }
    cudaLaunchAttribute attrs[2] = {};
    unsigned int nattrs = 0;
    if (cluster.n > 0) {
        attrs[nattrs].id = cudaLaunchAttributeClusterDimension;
        attrs[nattrs].val.clusterDim.x = cluster.n;
        attrs[nattrs].val.clusterDim.y = 1;
        attrs[nattrs].val.clusterDim.z = 1;
        ++nattrs;
    }
    if (pdl) {
        attrs[nattrs].id = cudaLaunchAttributeProgrammaticStreamSerialization;
        attrs[nattrs].val.programmaticStreamSerializationAllowed = 1;
        ++nattrs;
    }
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim          = grid;
    cfg.blockDim         = block;
    cfg.dynamicSmemBytes = smem;
    cfg.stream           = stream;
    cfg.attrs            = attrs;
    cfg.numAttrs         = nattrs;
    cudaLaunchKernelEx(&cfg, kernel, args...);
}

template <typename... KArgs, typename... Args>
static void launch(void (*kernel)(KArgs...), const dim3 grid, const dim3 block, const int smem, cudaStream_t stream,
                   const bool pdl, Args... args) {
    launch(kernel, grid, block, smem, stream, pdl, cluster_x{}, args...);
}

// What a mat-vec call does besides dst = x y for every segment (see mul_mat_vec_segments).
struct mv_options {
    int  variant  = 0;              // harness only: a fixed launch shape
    bool quantize = true;           // false (harness): yq/ym already hold y's quantization; time the mat-vec alone
    const char * x_up = nullptr;    // gate/up pair: x is the gate, dst gets glu(x row, x_up row)
    int glu = GLU_NONE;
    const float * norm_w = nullptr; // not null: y is the input of rms_norm(y, norm_eps)*norm_w (fused)
    float norm_eps = 0.0f;
    const mv_epilogues * epi = nullptr; // not null (no x_up): each matrix's rope / store (the EPI kernels)
};

// One mat-vec call: the operands and what the launch may do.
struct mv_args {
    mv_segments segs; // the matrices and outputs (add_segment)
    const float * y; int * yq; float2 * ym;
    int nb; int64_t row_bytes; int ncols; int64_t stride_col_y;
    cudaStream_t stream;
    mv_options opt;
    bool allow_bulk = true; // Hopper bulk copies where the layout allows
};

static inline int total_tiles(const mv_args & a) {
    const mv_segment & last = a.segs.s[a.segs.n - 1];
    return last.tile0 + (last.nrows + ROWS - 1) / ROWS;
}

// An on/off switch from the environment (the TQ_GGUF_CUDA_* A/B switches): on unless the variable is set
// to a number equal to 0 ("0", "00"); any other value leaves it on.
static inline bool env_switch_on(const char * name) {
    const char * e = getenv(name);
    if (e == nullptr) {
        return true;
    }
    char * end = nullptr;
    const long v = strtol(e, &end, 10);
    return end == e || *end != '\0' || v != 0;
}

// TQ_GGUF_CUDA_LOG set: true the first time for each `logged` flag (a fusion says once that it applies).
static inline bool log_first_time(bool & logged) {
    static const bool on = getenv("TQ_GGUF_CUDA_LOG") != nullptr;
    if (!on || logged) {
        return false;
    }
    logged = true;
    return true;
}

// TQ_GGUF_CUDA_MMV_EVICT_FIRST=0: the weight copies without the evict-first L2 policy (A/B; see weight_policy).
// Measured (H100, bench/results/gpu-h100-2026-11-22-s14): 8B-class tg128 without flash attention, three interleaved
// rounds, TQ2_0 609.0 vs 596.0 t/s (the rounds apart), TQ1_0 540.6 vs 536.7; the kernels alone (mat-vec harness,
// layer harness) unchanged: what it keeps in L2 is read by the other kernels (cache, norm weights, residual).
static inline bool weights_evict_first() {
    static const bool on = env_switch_on("TQ_GGUF_CUDA_MMV_EVICT_FIRST");
    return on;
}

// The driver's cuTensorMapEncodeTiled, fetched once through the runtime (no link against the driver library); null
// where the driver has none.
static inline PFN_cuTensorMapEncodeTiled_v12000 tensor_map_encoder() {
    static const PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
        void * p = nullptr;
        cudaDriverEntryPointQueryResult q = cudaDriverEntryPointSymbolNotFound;
#if CUDART_VERSION >= 12050
        const cudaError_t err = cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &q);
#else
        const cudaError_t err = cudaGetDriverEntryPoint("cuTensorMapEncodeTiled", &p, cudaEnableDefault, &q);
#endif
        if (err != cudaSuccess || q != cudaDriverEntryPointSuccess) {
            (void) cudaGetLastError();
            return (PFN_cuTensorMapEncodeTiled_v12000) nullptr;
        }
        return (PFN_cuTensorMapEncodeTiled_v12000) p;
    }();
    return fn;
}

// The tensor map of a matrix for the TMA copies of chunks of CB blocks (see mv_tmaps); false where it cannot be made.
// Encoded once per (matrix, shape) and thread: a token's launches reuse the maps of its weights, so the host pays
// a hash lookup per launch (ggml-cuda records its CUDA graphs on the host every token).
template <int type, int CB>
static bool tensor_map_of(CUtensorMap & m, const char * x, const int nrows, const int64_t row_bytes) {
    struct key {
        const char * x; int64_t row_bytes; int nrows, box;
        bool operator==(const key & o) const { return x == o.x && row_bytes == o.row_bytes && nrows == o.nrows && box == o.box; }
    };
    struct key_hash {
        size_t operator()(const key & k) const {
            return std::hash<const void *>()(k.x) ^ (size_t) (k.row_bytes*31 + k.nrows*7 + k.box);
        }
    };
    thread_local std::unordered_map<key, CUtensorMap, key_hash> cache;
    const key k = {x, row_bytes, nrows, CB*traits<type>::bs/4};
    const auto it = cache.find(k);
    if (it != cache.end()) {
        m = it->second;
        return true;
    }
    const PFN_cuTensorMapEncodeTiled_v12000 encode = tensor_map_encoder();
    static bool warned = false; // once per (type, CB): the launches fall back to per-lane bulk copies
    if (encode == nullptr) {
        if (!warned) {
            warned = true;
            fprintf(stderr, "tq_mmv: the driver has no cuTensorMapEncodeTiled: mat-vec weights are copied without TMA\n");
        }
        return false;
    }
    const cuuint64_t dims[2]    = {(cuuint64_t) (row_bytes/4), (cuuint64_t) nrows};
    const cuuint64_t strides[1] = {(cuuint64_t) row_bytes}; // of dimension 1, in bytes (multiple of 16)
    const cuuint32_t box[2]     = {(cuuint32_t) k.box, (cuuint32_t) ROWS};
    const cuuint32_t estr[2]    = {1, 1};
    // 256-byte L2 promotion: against none (session 22, H100, bench/results/gpu-h100-2026-12-07-s22) the same in the
    // mat-vec harness (TQ1_0 28672 x 8192 n = 1 26.01 vs 26.18 us) and ahead on the 8B layer's short launches
    // (Q/K/V n = 1 7.69 vs 7.93 us, O + add n = 4 7.45 vs 7.90).
    if (encode(&m, CU_TENSOR_MAP_DATA_TYPE_UINT32, 2, (void *) x, dims, strides, box, estr, CU_TENSOR_MAP_INTERLEAVE_NONE,
               CU_TENSOR_MAP_SWIZZLE_NONE, CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) != CUDA_SUCCESS) {
        if (!warned) {
            warned = true;
            fprintf(stderr, "tq_mmv: cuTensorMapEncodeTiled failed (%d x %d, row %lld bytes): mat-vec weights are copied without TMA\n",
                    nrows, (int) (row_bytes/4), (long long) row_bytes);
        }
        return false;
    }
    cache.emplace(k, m);
    return true;
}

// Quantize (unless a.opt.quantize is false) and launch; false, launching nothing, where this is the bulk-copy
// instantiation and the device or the loaded code has no bulk copies.
template <int type, int cpy, int NW, int STAGES, int CB, bool DEEP, bool EPI>
static bool launch_k(const mv_args & a) {
    constexpr int smem = smem_bytes<type, NW, STAGES, CB>();
    const auto kernel = tq_mmv_kernel<type, cpy, NW, STAGES, CB, DEEP, EPI>;
    static launch_info cache[64];
    const launch_info & li = get_launch_info(cache, kernel, NW*32, smem);
    if ((cpy == COPY_BULK || cpy == COPY_TMA) && !li.bulk) {
        return false;
    }
    mv_tmaps tmaps = {}; // COPY_TMA: the matrices' tensor maps (unused otherwise)
    if (cpy == COPY_TMA) {
        for (int s = 0; s < a.segs.n; ++s) {
            const mv_segment & sg = a.segs.s[s];
            if (!tensor_map_of<type, CB>(tmaps.m[s], sg.x, sg.nrows, a.row_bytes)) {
                return false;
            }
        }
        if (a.opt.x_up != nullptr && !tensor_map_of<type, CB>(tmaps.m[MAX_SEGS], a.opt.x_up, a.segs.s[0].nrows, a.row_bytes)) {
            return false;
        }
    }
    const mv_options & o = a.opt;
    if (o.quantize && o.norm_w != nullptr) {
        const auto quantize = tq_mmv_quantize_rms_norm<type>;
        static launch_info qcache[64];
        const launch_info & qi = get_launch_info(qcache, quantize, 128, 0);
        launch(quantize, dim3((a.nb + 3) / 4, MAX_COLS, 1), dim3(32, 4, 1), 0, a.stream, qi.pdl,
               a.y, o.norm_w, o.norm_eps, a.yq, a.ym, a.nb, a.ncols, a.stride_col_y);
    } else if (o.quantize) {
        const auto quantize = tq_mmv_quantize<type>;
        static launch_info qcache[64];
        const launch_info & qi = get_launch_info(qcache, quantize, 32, 0);
        launch(quantize, dim3(a.nb, MAX_COLS, 1), dim3(32, 1, 1), 0, a.stream, qi.pdl,
               a.y, a.yq, a.ym, a.nb, a.ncols, a.stride_col_y);
    }
    const int ntiles = total_tiles(a);
    const dim3 grid(ntiles < li.max_ctas ? ntiles : li.max_ctas, 1, 1);
    launch(kernel, grid, dim3(32, NW, 1), smem, a.stream, li.pdl,
           a.segs, ntiles, (const int *) a.yq, (const float2 *) a.ym, a.nb, a.row_bytes, a.ncols, o.x_up, o.glu,
           o.epi != nullptr ? *o.epi : mv_epilogues{}, weights_evict_first(), tmaps);
    return true;
}

// Deep activation prefetch (DEEP of tq_mmv_kernel) by launch shape, from the harness (H100, session 5,
// bench/results/gpu-h100-2026-11-22-s5): chunks of 8 gain 12-46% (TQ2_0 28672 x 8192 n = 1: 31.3 ->
// 25.9 us, n = 8: 45.8 -> 32.4; 8192 x 28672 33.3 -> 29.8; TQ1_0 28672 x 8192 33.4 -> 32.1), and so do
// chunks of 4 with 4 warps and 4 stages (2048 x 5632: 5.4 -> 4.5 us); the other chunk-of-4 shapes lose
// up to 20% (3072 x 3072, 8192 x 3072, TQ1_0 4096 x 14336: 20 more registers, more index work per short
// chunk). TQ_GGUF_CUDA_MMV_DEEP_PF=0 turns it off (A/B).
template <int NW, int STAGES, int CB>
constexpr bool deep_prefetch_rule() {
    return CB == 8 || (CB == 4 && NW == 4 && STAGES == 4);
}

static inline bool deep_prefetch_enabled() {
    static const bool on = env_switch_on("TQ_GGUF_CUDA_MMV_DEEP_PF");
    return on;
}

// Launches with an epilogue (opt.epi) run without the deep prefetch: with the epilogue's code the deep
// kernels get another register allocation, the one that cost 23-50% in the plain mat-vec (see
// mv_epilogue); the 3B/8B Q/K/V shapes, where the epilogue was measured, take non-deep kernels anyway.
template <int type, int cpy, int NW, int STAGES, int CB>
static bool launch_kp(const mv_args & a) {
    if (a.opt.epi != nullptr) {
        return launch_k<type, cpy, NW, STAGES, CB, false, true>(a);
    }
    if constexpr (deep_prefetch_rule<NW, STAGES, CB>()) {
        if (deep_prefetch_enabled()) {
            return launch_k<type, cpy, NW, STAGES, CB, true, false>(a);
        }
    }
    return launch_k<type, cpy, NW, STAGES, CB, false, false>(a);
}

// Which chunk-of-8 kernels copy with TMA (the others take the per-lane bulk copies). TQ1_0, whose decode is bound by
// instruction issue, gains; TQ2_0, bound by memory latency, loses at the same occupancy; TQ1_0's 2-warp 2-stage launch
// (8192 x 28672: 512 tiles) loses at 7 CTAs per SM. H100 (session 22, bench/results/gpu-h100-2026-12-07-s22.md;
// quantizer + mat-vec, against per-lane bulk copies): TQ1_0 28672 x 8192 1.18x (n = 1) to 1.14x (n = 4), 1.01x at n = 8;
// 14336 x 4096 1.01-1.03x; the gate/up pair 1.01-1.04x; 8B layer 1.026x (n = 1), 1.024x (n = 4). TMA for TQ2_0 too:
// 28672 x 8192 1.04x at n = 1 but 0.80-0.82x from n = 3, 8192 x 28672 0.83-0.90x, 8B layer 0.68-0.97x; TQ1_0 NW2S2
// 0.96-1.00x. (Session 20's H200 run agrees: bench/results/gpu-h200-2026-12-07-s20.md.)
template <int type, int NW, int STAGES>
constexpr bool tma_rule() {
    return type == TQ1 && !(NW == 2 && STAGES == 2);
}

// TQ_GGUF_CUDA_MMV_TMA, if set, lists the types whose chunk-of-8 kernels all copy with TMA instead of tma_rule: digits
// 1 (TQ1_0) and 2 (TQ2_0); "0" or empty: none (A/B).
template <int type, int NW, int STAGES>
static inline bool tma_copies_on() {
    static const char * env = getenv("TQ_GGUF_CUDA_MMV_TMA");
    if (env == nullptr) {
        return tma_rule<type, NW, STAGES>();
    }
    return strchr(env, type == TQ1 ? '1' : '2') != nullptr;
}

template <int type, int NW, int STAGES, int CB = 8>
static void launch_nw(const mv_args & a) {
    constexpr int BS    = traits<type>::bs;
    constexpr int bytes = chunk<type, CB>::bytes; // of a full chunk, per row
    const int tail = (a.nb % CB)*BS;              // bytes of a partial last chunk (0 if none)
    uintptr_t xa = (uintptr_t) a.opt.x_up; // alignment of every matrix: the OR of their addresses
    for (int s = 0; s < a.segs.n; ++s) {
        xa |= (uintptr_t) a.segs.s[s].x;
    }
    if (CB == 8 && xa % 16 == 0 && a.row_bytes % 16 == 0 && tail == 0 && a.allow_bulk) {
        if (tma_copies_on<type, NW, STAGES>() && launch_kp<type, COPY_TMA, NW, STAGES, CB>(a)) {
            return;
        }
        if (launch_kp<type, COPY_BULK, NW, STAGES, CB>(a)) {
            return;
        }
    }
    if (xa % 16 == 0 && a.row_bytes % 16 == 0 && bytes % 16 == 0 && tail % 16 == 0) {
        launch_kp<type, 16, NW, STAGES, CB>(a);
    } else if (xa % 8 == 0 && a.row_bytes % 8 == 0 && bytes % 8 == 0 && tail % 8 == 0) {
        launch_kp<type,  8, NW, STAGES, CB>(a);
    } else {
        launch_kp<type,  4, NW, STAGES, CB>(a);
    }
}

// The launch shape by measurement (harness variants; H200 bench/results/gpu-h200-2026-11-22-r2.md, H100
// gpu-h100-2026-11-22-s3 and -s4, n = 1 and 8):
//   * long rows want more warps along K (8192 x 28672: NW8S2 33 us vs NW4S2 40 us for TQ2_0), but not
//     with the deep prefetch (session 5, harness-variants-call8.log: NW4S2 30.3 vs NW8S2 32.3 us at n = 1,
//     39.2 vs 44.1 at n = 8);
//     4..7 chunks per row want a third stage when a tile has several chunks per warp;
//   * short_chunks: rows of at most 16 blocks in chunks of 4, one warp per chunk (measured: only
//     14336 x 4096 gains, 11.3 -> 9.9 us; the others within +-5%); not for TQ1_0 with 16 blocks and
//     many rows (14336 x 4096: chunks of 8 11.3-12.3 us vs 13.2-13.4);
//   * 16..31 blocks not a multiple of 8 (2048 x 5632): chunks of 4, NW4S4 (7.1-7.7 vs 9.8-10.0 us);
//   * TQ1_0 from 48 blocks, or 32 with fewer than 1024 tiles: chunks of 4, NW8S3: the base-3 decode wants
//     more warps (4096 x 14336 10.6 vs 13.5 us, 8192 x 28672 36.0 vs 43.3, 3072 x 8192 6.5-7.2 vs 8.4; but
//     28672 x 8192 35.8 vs 35.0 in the harness and 34.3 vs 31.9 in test-backend-ops perf);
//   * TQ2_0 with 6..7 chunks of 8 (4096 x 14336): chunks of 4, NW8S2 (11.4-11.5 vs 13.5-14.0 us);
//   * rows of 12 or more full chunks of 8 over at least 512 tiles (8192 x 28672), session 16
//     (bench/results/gpu-h100-2026-12-07-s16, H100, two harness runs): chunks of 8, NW2S2 (one tile per CTA,
//     7 chunks per warp; few tiles would leave SMs idle). TQ1_0 at every n, instead of the bullet before: 33.0-33.1
//     vs 36.0-36.2 us at n = 1, 38.0-38.2 vs 42.4 at n = 8 (session 5's run of every variant: 34.7 vs 36.6). TQ2_0
//     from n = 4 (NW4S2 below stays faster at n = 1, 2): 33.2 vs 34.4-34.8 us at n = 4, 34.9-35.0 vs 38.1-38.2 at
//     n = 8.
// TQ_GGUF_CUDA_MMV_RULES=0 leaves out the rules measured in sessions 4 and 16 (TQ1_0 with 16 blocks and many
// rows, and the last four bullets), for A/B runs.
static inline bool launch_rules_s4() {
    static const bool on = env_switch_on("TQ_GGUF_CUDA_MMV_RULES");
    return on;
}

// Rules from the 8B-class layer sequence (bench/cuda_layer_harness.cu, H100, session 12: a layer's four
// mat-vecs back to back as in the model, where the rules above were measured one shape repeated), TQ2_0
// only (TQ1_0 did not gain): gate/up pairs of rows of 16 blocks in chunks of 8 with 2 warps and 3 stages,
// and rows of 6..7 chunks of 8 (4096 x 14336) in chunks of 8 with 4 warps and 3 stages, instead of the
// session-4 chunks of 4: 44.0 vs 45.8 us per layer at n = 1, 47.8 vs 50.4 at n = 4; 8B tg128 with flash
// attention, three interleaved rounds: 597.6 vs 591.2 t/s (bench/results/gpu-h100-2026-11-22-s12).
// TQ_GGUF_CUDA_MMV_RULES_S12=0 leaves them out (A/B).
inline int mmv_layer_rules_s12 = -1; // -1: from the environment on first use; the harness sets 0 / 1

static inline bool layer_rules_s12() {
    if (mmv_layer_rules_s12 < 0) {
        mmv_layer_rules_s12 = env_switch_on("TQ_GGUF_CUDA_MMV_RULES_S12") ? 1 : 0;
    }
    return mmv_layer_rules_s12 != 0;
}

template <int type, bool short_chunks>
static void launch_default(const mv_args & a) {
    const bool tuned = short_chunks && launch_rules_s4(); // the session-4 rules below
    // layer_rules_s12: TQ2_0 gate/up pairs of 16 blocks skip the chunks of 4 (-> chunks of 8, NW2S3) and
    // full rows of 6..7 chunks of 8 the session-4 rule for them (-> NW4S3)
    const bool s12 = type == TQ2 && short_chunks && layer_rules_s12();
    if (short_chunks && a.nb <= 16 && !(tuned && type == TQ1 && a.nb == 16 && total_tiles(a) >= 512) &&
            !(s12 && a.opt.x_up != nullptr && a.nb == 16)) {
        switch ((a.nb + 3) / 4) {
            case 4:  launch_nw<type, 4, 2, 4>(a); return;
            case 3:  launch_nw<type, 3, 3, 4>(a); return;
            case 2:  launch_nw<type, 2, 3, 4>(a); return;
            default: launch_nw<type, 1, 4, 4>(a); return;
        }
    }
    const int nchunks = (a.nb + 7) / 8;
    if (tuned && a.nb >= 16 && a.nb < 32 && a.nb % 8 != 0) {
        launch_nw<type, 4, 4, 4>(a);
        return;
    }
    if (tuned && a.nb >= 96 && a.nb % 8 == 0 && total_tiles(a) >= 512 && (type == TQ1 || a.ncols >= 4)) {
        launch_nw<type, 2, 2>(a);
        return;
    }
    if (tuned && type == TQ1 && (a.nb >= 48 || (a.nb >= 32 && total_tiles(a) < 1024))) {
        launch_nw<type, 8, 3, 4>(a);
        return;
    }
    if (tuned && type == TQ2 && (nchunks == 6 || nchunks == 7) && !(s12 && a.nb % 8 == 0)) {
        launch_nw<type, 8, 2, 4>(a);
        return;
    }
    if (nchunks >= 8) {
        if (type == TQ2 && deep_prefetch_enabled()) {
            launch_nw<type, 4, 2>(a); // with the deep prefetch's registers (173): 8 warps fit once per SM
        } else if (type == TQ2) {
            launch_nw<type, 8, 2>(a);
        } else {
            launch_nw<type, 4, 3>(a);
        }
    } else if (nchunks >= 6) {
        launch_nw<type, 4, 3>(a);
    } else if (nchunks >= 4) {
        launch_nw<type, 4, 2>(a);
    } else if (nchunks >= 2) {
        launch_nw<type, 2, 3>(a);
    } else {
        launch_nw<type, 1, 4>(a);
    }
}

// Quantize y (ncols <= 8 columns of nb*256 floats, column stride stride_col_y) into yq (ncols*nb*256
// bytes) and ym (nb*8 float2), then the mat-vec of every matrix of segs (add_segment). Caller checks
// supported() for each. Options (mv_options):
//   * x_up (not null, one segment): gate/up pair with x_up of the segment's layout, dst = glu(x y, x_up y)
//     elementwise (one quantization, one launch);
//   * norm_w (not null): the activations are rms_norm(y, norm_eps)*norm_w (norm_w: nb*256 floats),
//     computed inside the quantization;
//   * quantize false (harness): yq/ym are already there;
//   * variant (harness only): 0 = default; 1..7: fixed (NW, STAGES) for comparisons; 8: chunks of 8
//     only; 9..11: chunks of 4 on long rows (NW, STAGES) = (8, 3), (4, 4), (8, 2); 12: (2, 2).
//
// Tried four times and removed: quantizing the activations inside the mat-vec (no separate kernel).
//   1. each warp its own blocks: 3072 x 3072 5.6 vs 8.8 us alone, but llama-bench tg128 slower (H200,
//      3B TQ2_0 476 vs 526 t/s, 8B 331 vs 360);
//   2. every CTA the whole activation, all warps, 4 blocks' loads in flight per warp, 1-2 columns of
//      rows up to 32 blocks (H100, bench/results/gpu-h100-2026-11-22-s3.md): only 3072 x 3072 and
//      4096 x 4096 gain (5.9 vs 7.0 us); 8192 x 3072 8.6 vs 7.2, 3072 x 8192 10.5 vs 7.8, n = 2 up to
//      2x slower; 3B tg128 TQ2_0 429 vs 484 t/s. Each of hundreds of CTAs repeats the quantization
//      before it can decode, while the separate kernel runs once and overlaps through PDL.
//   3. (session 18, bench/results/gpu-h100-2026-12-07-s18, proto-selfq.diff) each warp the blocks of its own
//      chunks, written to yq/ym (every CTA the same words) and read back, for O and down only (no norm), in
//      the 8B layer harness: TQ2_0 n = 1 69.7 vs 43.0 us per layer (O alone 11.4 vs 5.8, down 28.8 vs 11.2).
//   4. (session 19, bench/results/gpu-h100-2026-12-07-s19, proto-fused-quant.diff) the first ceil(nb/NW) CTAs
//      quantize (one block per warp, with the RMS norm where there is one) after the mat-vec's own
//      griddepcontrol.wait, fence and count themselves in a global counter; the other CTAs poll it, and the last
//      CTA past the poll zeroes it. That replaces the quantizer's kernel boundary with a fence, an atomic and a
//      poll; a separate instantiation, so the other kernels kept their code. Correct (harness float64 checks,
//      fails: 0), but 8B layer harness TQ2_0 n = 1 48.5 vs 42.7 us per layer, n = 4 65.3 vs 46.6 (the columns
//      are quantized one after another by the same warps); TQ1_0 54.2 vs 45.9. Only the steps of 16 blocks
//      without a norm gained (O + add alone 7.24 vs 7.93 us; 3072 x 3072 quantize + mat-vec 6.45 vs 7.88): the
//      fence, the atomic and the poll cost more than the boundary they replace on every longer step
//      (28672 x 8192 29.6 vs 27.2 us, down + add alone 12.4 vs 11.1).
// Tried and removed (session 18, same results): the epilogue's residual (mv_segment::add) loaded when a warp
// starts a tile instead of after the reduction. The register array changed the main loops' allocation (TQ2_0
// deep NW4S2 175 registers, TQ1_0 181): 8B layer, TQ2_0 n = 1, 45.53 vs 43.29 us (same run).
// Tried and removed (session 11, bench/results/gpu-h100-2026-11-22-s11): 8B-class gate/up pairs (rows of 16
// blocks) in chunks of 8 with 4 warps (one chunk per warp and tile, bulk copies, deep prefetch, as the 70B
// rows of 32 blocks) instead of the single-matrix rule's chunks of 4. Harness, pair + quantizer 2 x 14336 x
// 4096: 19.19 vs 20.03 us at n = 1, 23.22 vs 24.56 at n = 8; but 8B tg128, three interleaved rounds: TQ2_0
// 441.0 vs 444.5 t/s, TQ1_0 412.3 vs 417.2 (not faster in the model).
// Tried and removed (session 11, bench/results/gpu-h100-2026-11-22-s11): quantizer grids of the present
// columns only (not MAX_COLS), and the RMS-norm quantizer loading the norm weight before its PDL wait and
// reading x once. 8B tg128 critical-path time of the quantizers (CUPTI trace): 164.4 -> 163.3 us per token
// (norm) and 88.5 -> 89.2 (plain) without flash attention, 161.8 -> 156.2 and 96.6 -> 93.4 with it: no
// measurable change, so the simpler kernels stay.
// Tried and removed (session 12, bench/results/gpu-h100-2026-11-22-s12; bench/cuda_layer_harness.cu: the
// four mat-vecs of an 8B-class layer in sequence, TQ2_0 n = 1, us per layer):
//   * bulk copies for chunks of 4 (copied from the 16-byte boundary below the chunk, 272 / 224 bytes, the
//     reader skipping the 8-byte offset), which replace the ~330 cp.async-issue instructions per item
//     that ncu counted in the 8B gate/up pair (a third of its 7.4M): 45.79 / 45.83 vs 45.85 / 45.81. The
//     kernel is not bound by instruction issue (48% issue-active; long-scoreboard and fixed-latency waits);
//   * at most 1, 2 or 3 mat-vec CTAs per SM, so that the next kernels' CTAs are resident and prefetch
//     during a mat-vec: 88.6, 63.3, 53.2 vs 46.6 (one full wave);
//   * the RMS-norm quantizer split per block (each warp quantizes its block of x*w and writes the block's
//     sum of squares; the mat-vec multiplies by the column's 1/rms in its epilogue, a NORM instantiation):
//     46.8 vs 44.0 with the launch rules of layer_rules_s12. The NORM kernels were slower (without the
//     quantizers 39.8 vs 37.7) by more than the quantizer's column reduction saved.
// Tried and removed (session 15, bench/results/gpu-h100-2026-12-07-s15; 8B-class layer harness, three runs): the
// producing mat-vec quantizing its output for the next one (no quantizer kernel between two mat-vecs: O -> FFN
// norm + gate/up, gate/up + GLU -> down, down -> attention norm + Q/K/V). Each tile's CTA stored its rows, fenced
// and counted the tile on its 256-row block; the CTA completing a block quantized it (with the norm, as x*w, and the
// CTA completing the last block scaled every block's (d, d*sum) by 1/rms). Outputs agreed with the quantizers' to
// 1e-7, but the sequence got slower with every producer: TQ2_0 n = 1 42.8 us per layer, 47.2 with down's input
// quantized by gate/up, 50.2 with gate/up's too, 52.6 with all three (TQ1_0 46.2 -> 54.2). The fence and count of
// every tile stall the CTA for two L2 round trips, and the last block's quantization is a chain of dependent round
// trips at the kernel's end: more than the ~2.2 us per step that the quantizer kernels cost (43.3 vs 34.6 us per
// layer with stale activations).
// Tried and removed (session 6, bench/results/gpu-h100-2026-11-22-s6): capping the 4-warp deep-prefetch
// kernels at 168 registers (__launch_bounds__ min 3 CTAs) for 3 CTAs per SM instead of 2: TQ2_0 28672 x
// 8192 28.9 vs 25.7 us at n = 1, 42.2 vs 32.2 at n = 8; 8192 x 28672 37.8 vs 29.4. A one-wave grid of
// 396 CTAs owning whole tiles splits them unevenly (1792 tiles: 4 or 5 each; 512: 1 or 2), and the
// third CTA's shared memory comes out of L1 (activation hit rate 96% -> 78% on 8192 x 28672).
// The same for the TQ1_0 4-warp chunk-of-8 kernels only (session 19, bench/results/gpu-h100-2026-12-07-s19,
// harness-tq1lb-*; 176 -> 168 registers, no spills): 28672 x 8192 n = 1 mat-vec alone 30.1 vs 30.8 us but with
// its quantizer 39.2 vs 32.7; gate/up pair 14336 x 4096 21.7 vs 22.3. Not kept. The TQ1_0 block product in four
// mma accumulator chains (as TQ2_0; proto-tq1-4chain.diff) met the same: ptxas put that kernel at 168 registers (3 CTAs
// per SM), mat-vec alone 30.3 vs 31.0 us, with its quantizer 38.7 vs 33.0, 8B layer 46.95 vs 45.83 us (without the
// quantizers 37.84 vs 37.98). Likely cause, not measured: 3 CTAs fill the register file, so the next quantizer
// kernel cannot be resident early. Four chains on top of the TMA copies (session 23, bench/results/
// gpu-h100-2026-12-07-s23, proto-tq1-4chain-tma.diff of -s22; 130 -> 136 registers, 3 CTAs per SM either way):
// quantizer + mat-vec 28672 x 8192 0.98x (n = 1..4), 0.91x (n = 8); 8B layer 0.969x (n = 1), 0.976x (n = 4). Not kept. Four
// chains at 2 CTAs per SM are not measured yet.
// Tried and removed (session 6): dealing the chunks of a CTA's tiles to its warps round-robin as one
// sequence (the extra chunk of a tile rotating between warps) with the per-tile reduction on named
// barriers (the reducing warp waits, the others go on) instead of __syncthreads. Registers fell to
// 134-136 (3 CTAs per SM); TQ1_0 gained (28672 x 8192 29.5 vs 32.0 us, 8192 x 28672 32.6 vs 33.6),
// TQ2_0 lost 9-32% (28672 x 8192 28.4 vs 25.9, 8192 x 28672 38.9 vs 29.5), also capped at 2 CTAs.
// Tried and removed (session 16, bench/results/gpu-h100-2026-12-07-s16, harness): the same dealing without any barrier
// (each warp stored its partial sums of a tile in one of 4 buffers and counted itself in with a shared-memory atomic;
// the last warp to arrive reduced the tile and freed the buffer), 168-172 registers. TQ2_0 NW4S2: 8192 x 28672
// 30.15 vs 29.74 us at n = 1, 38.92 vs 38.20 at n = 8; 28672 x 8192 29.24 vs 27.59. The chunk imbalance of
// 8192 x 28672 (4, 4, 3, 3 chunks per tile) is not what holds that shape back. TQ1_0 NW4S2 gained (8192 x 28672
// 32.95 vs 36.57), but no more than NW2S2 without it (33.14; now the rule for that shape).
// Tried and removed (session 6): every CTA bulk-copying the quantized activations into shared memory
// once (an mbarrier per chunk) and reading the B fragments from there. Registers fell from 100-173 to
// 64-80, but occupancy stays bound by the weight rings' shared memory, the L2 stall was not where the
// time goes (ncu long-scoreboard stalls 1.24 -> 1.09 cycles per instruction: it is the weight wait) and
// each CTA starts on its copy: TQ2_0 28672 x 8192 25.7 vs 25.0 us, 3072 x 8192 5.8 vs 4.6; only TQ1_0
// 28672 x 8192 gained (30.4 vs 31.8).
template <int type>
static void mul_mat_vec_segments(const mv_segments & segs, const float * y, int * yq, float2 * ym, int nb,
                                 int64_t row_bytes, int ncols, int64_t stride_col_y, cudaStream_t stream,
                                 const mv_options & opt = {}) {
    mv_args a = {segs, y, yq, ym, nb, row_bytes, ncols, stride_col_y, stream, opt};
#ifdef TQ_MMV_VARIANTS
    const int nchunks = (nb + 7) / 8; // every warp needs at least one chunk of each row: NW <= nchunks
    switch (opt.variant) {
        case 1: if (nchunks >= 4) { launch_nw<type, 4, 2>(a); return; } break;
        case 2: if (nchunks >= 4) { launch_nw<type, 4, 3>(a); return; } break;
        case 3: if (nchunks >= 2) { launch_nw<type, 2, 3>(a); return; } break;
        case 4: if (nchunks >= 8) { launch_nw<type, 8, 2>(a); return; } break;
        case 5: if (nchunks >= 2) { launch_nw<type, 2, 4>(a); return; } break;
        case 6: launch_nw<type, 1, 4>(a); return;
        case 7: if (nchunks >= 4) { a.allow_bulk = false; launch_nw<type, 4, 2>(a); return; } break;
        case 8: launch_default<type, false>(a); return;
        // chunks of 4 on long rows: smaller rings, so more warps per SM (cp.async, 8-byte copies)
        case 9:  if (nb >= 32) { launch_nw<type, 8, 3, 4>(a); return; } break;
        case 10: if (nb >= 16) { launch_nw<type, 4, 4, 4>(a); return; } break;
        case 11: if (nb >= 32) { launch_nw<type, 8, 2, 4>(a); return; } break;
        case 12: if (nchunks >= 2) { launch_nw<type, 2, 2>(a); return; } break;
        default: break;
    }
#endif
    launch_default<type, true>(a);
}

// Appends a matrix to segs (its tiles follow those of the matrices before it); add (not null): the residual
// added to its product.
static inline void add_segment(mv_segments & segs, const char * x, float * dst, const int nrows, const int64_t stride_dst,
                               const float * add = nullptr, const int64_t stride_add = 0) {
    const mv_segment * prev = segs.n > 0 ? &segs.s[segs.n - 1] : nullptr;
    const int tile0 = prev ? prev->tile0 + (prev->nrows + ROWS - 1) / ROWS : 0;
    segs.s[segs.n++] = {x, dst, stride_dst, nrows, tile0, add, stride_add};
}

// One matrix: dst[col*stride_dst + row].
template <int type>
static void mul_mat_vec(const char * x, const float * y, int * yq, float2 * ym, float * dst, int nb, int64_t row_bytes,
                        int nrows, int ncols, int64_t stride_col_y, int64_t stride_dst, cudaStream_t stream,
                        const mv_options & opt = {}) {
    mv_segments segs = {};
    add_segment(segs, x, dst, nrows, stride_dst);
    mul_mat_vec_segments<type>(segs, y, yq, ym, nb, row_bytes, ncols, stride_col_y, stream, opt);
}

} // namespace tq_mmv
