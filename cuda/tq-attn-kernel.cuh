#pragma once
// tq_gguf: decode attention without flash attention in one launch: llama.cpp's KQ = mul_mat(K, Q),
// softmax(KQ*scale + mask) and KQV = mul_mat(V, softmax) with the V cache transposed, for batches of 1..8
// tokens. Self-contained (CUDA runtime + cuda_fp16, and tq-mmv-kernel.cuh's launch helpers) so that a
// harness can include it; cuda/tq-attn.cu wires it into ggml-cuda's fusion pass.
//
// Why: without flash attention ggml-cuda runs these as three kernels (mul_mat_vec_f twice and soft_max_f32)
// whose grids of tiny CTAs each wait on a cache read: 602 us of an 8B-class TQ2_0 token's 2087 us of GPU
// time at tg128 (n_kv = 256; CUPTI trace, bench/results/gpu-h100-2026-11-22-s11), for under 1 MB of cache per
// layer. Nothing here is specific to TQ weights: every model with F16 caches and flash attention off runs it.
//
// Two kernels: attn_split_kernel (sm_90, the default there; see its section below) splits a head's cache
// positions over a thread-block cluster; attn_vec_kernel (below; other GPUs, and TQ_GGUF_CUDA_ATTN_SPLIT=0)
// runs a head in one CTA.
//
// attn_vec_kernel's layout: one CTA of 128 threads per (query head, token, stream); the CTAs of one KV head's
// query heads read the same cache rows (from L2 after the first).
//   0. before waiting for the preceding kernel (PDL), the CTA asks L2 for its K and V rows (prefetch.L2: the
//      cache's old positions; the newest, still being stored, is read after the wait). At most 168 registers
//      and 5 KB of shared memory per CTA, so that the CTAs fit beside the Q/K/V mat-vec's and prefetch while
//      it streams its weights;
//   1. each lane keeps its slice of the query in registers;
//   2. scores: 8 lanes per K row (HD contiguous halves; a warp reads 4 whole rows per load, 8 such loads in
//      flight), reduced over the 8 lanes; s = dot*scale + mask, kept in shared memory;
//   3. softmax: the CTA's max, exp(s - max) in place, the CTA's sum;
//   4. output: with the V cache transposed, head dimension d is a row of n_kv contiguous halves; a warp takes
//      16 rows at a time, each lane every 32nd chunk of 8 positions of each (coalesced), dotted with the exps
//      (shared memory), reduced over the warp and scaled by 1/sum.
// Measured (H100, 8B-class, bench/results/gpu-h100-2026-11-22-s13): tg128 without flash attention +19-22% for
// TQ2_0 over ggml's three kernels. The first versions gave each thread whole K and V rows (32 sectors per
// warp load); the coalesced reads here measured the same: the kernel ends 10-11 us after the Q/K/V launch
// that feeds it (CUPTI critical path) either way, because its cache reads queue in DRAM behind the weight
// prefetches of the projections that PDL has already launched. Tried and removed: letting the next kernel
// launch only at this kernel's end (no early weight prefetch behind it): 507.2 vs 536.0 t/s, slower. The
// round trips, not the queueing, were the cost: the split kernel below, one round trip per chunk, ends ~4.8 us
// after the Q/K/V mat-vec.
// The sums run in F32 like ggml's (mul_mat_vec_f converts the halves, soft_max_f32 uses expf); only their
// order differs.

#include "tq-mmv-kernel.cuh"

#include <cooperative_groups.h>
#include <cstdint>
#include <cuda_fp16.h>

namespace tq_attn {

constexpr int THREADS = 128;
constexpr int MAX_KV  = 1024; // cache positions (shared scores); longer caches stay with ggml's kernels
constexpr int MAX_TOKENS = 8;

// Element strides of the four operands (ggml's nb / element size). Indices: q (d, token, head, stream),
// k (d, position, kv head, stream), v (position, d, kv head, stream), mask (position, token, head % m_ne2,
// stream % m_ne3), dst (d, token, head, stream).
struct params {
    const float * q;
    const half  * k;
    const half  * v;
    const void  * mask;       // null: no mask
    float       * dst;
    int64_t q_nb1, q_nb2, q_nb3;
    int64_t k_nb1, k_nb2, k_nb3;
    int64_t v_nb1, v_nb2, v_nb3;
    int64_t m_nb1, m_nb2, m_nb3;
    int64_t d_nb1, d_nb2, d_nb3;
    int     m_ne2, m_ne3;
    bool    mask_f16;
    int     n_kv;             // multiple of 8, <= MAX_KV
    int     head_ratio;       // query heads per KV head
    int     stream_ratio;     // query streams per KV stream
    float   scale;
};

// The max or sum of v over each group of WIDTH consecutive lanes (WIDTH a power of 2 up to 32; every lane of
// the group gets it).
template <bool is_max, int WIDTH = 32>
static __device__ __forceinline__ float lanes_reduce(float v) {
#pragma unroll
    for (int o = WIDTH/2; o > 0; o >>= 1) {
        const float u = __shfl_xor_sync(0xffffffff, v, o);
        v = is_max ? fmaxf(v, u) : v + u;
    }
    return v;
}

// The CTA's max or sum of v (every thread gets it); red: THREADS/32 floats of shared memory, free on entry.
template <bool is_max>
static __device__ __forceinline__ float cta_reduce(float v, float * red) {
    v = lanes_reduce<is_max>(v);
    if (threadIdx.x % 32 == 0) {
        red[threadIdx.x / 32] = v;
    }
    __syncthreads();
    float r = red[0];
#pragma unroll
    for (int w = 1; w < THREADS/32; ++w) {
        r = is_max ? fmaxf(r, red[w]) : r + red[w];
    }
    return r;
}

// The dot product of a K row with the query, the row spread over 8 consecutive lanes (HPL halves each, in
// 16-byte pieces w; qv: the lane's HPL query values), reduced over the 8 lanes (all of them get it).
template <int HPL>
static __device__ __forceinline__ float k_row_dot(const uint4 (&w)[HPL/8], const float (&qv)[HPL]) {
    float a0 = 0.0f, a1 = 0.0f;
#pragma unroll
    for (int j = 0; j < HPL/8; ++j) {
        const half2 * hw = (const half2 *) &w[j];
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            const float2 f = __half22float2(hw[e]);
            a0 = fmaf(f.x, qv[8*j + 2*e],     a0);
            a1 = fmaf(f.y, qv[8*j + 2*e + 1], a1);
        }
    }
    return lanes_reduce<false, 8>(a0 + a1);
}

// This lane's HPL query values: q points at them (16-byte aligned).
template <int HPL>
static __device__ __forceinline__ void load_query_slice(const float * q, float (&qv)[HPL]) {
#pragma unroll
    for (int j = 0; j < HPL; j += 4) {
        const float4 f = *(const float4 *) (q + j);
        qv[j] = f.x; qv[j + 1] = f.y; qv[j + 2] = f.z; qv[j + 3] = f.w;
    }
}

static __device__ __forceinline__ void prefetch_l2(const void * ptr) {
    asm volatile("prefetch.global.L2 [%0];" :: "l"(ptr));
}

// grid (n_head, n_tokens, n_stream), THREADS threads. PREFETCH: step 0 (TQ_GGUF_CUDA_ATTN_PREFETCH=0: off, A/B).
template <int HD, bool PREFETCH>
__global__ void __launch_bounds__(THREADS, 3) attn_vec_kernel(const params p) {
    static_assert(HD == 64 || HD == 128, "head sizes 64 and 128");
    constexpr int NW    = THREADS / 32;
    constexpr int HPL   = HD / 8;       // step 2: halves per lane (8 lanes per K row)
    constexpr int KROWS = NW * 4;       // K rows per CTA step
    constexpr int KUNR  = 8;            // K steps in flight
    constexpr int VUNR  = 16;           // step 4: V rows in flight per warp
    __shared__ __align__(16) float s_s[MAX_KV];
    __shared__ float red_s[2][NW];

    const int h = blockIdx.x, t = blockIdx.y, s = blockIdx.z, tid = threadIdx.x;
    const int lane = tid % 32, warp = tid / 32;
    const int hk = h / p.head_ratio, sk = s / p.stream_ratio;
    const float * q = p.q + t*p.q_nb1 + h*p.q_nb2 + s*p.q_nb3;
    const half  * k = p.k + hk*p.k_nb2 + sk*p.k_nb3;
    const half  * v = p.v + hk*p.v_nb2 + sk*p.v_nb3;
    const int64_t m_off = t*p.m_nb1 + (h % p.m_ne2)*p.m_nb2 + (s % p.m_ne3)*p.m_nb3;
    const int n_kv = p.n_kv;

    tq_mmv::pdl_launch_dependents();
    if (PREFETCH) { // 0. the K rows, then the V rows, in 128-byte lines
        for (int i = tid; i < n_kv; i += THREADS) {
#pragma unroll
            for (int o = 0; o < HD*2; o += 128) {
                prefetch_l2((const char *) (k + i*p.k_nb1) + o);
            }
        }
        for (int i = tid; i < HD*(n_kv/64); i += THREADS) { // row i / (n_kv/64), line i % (n_kv/64)
            const int r = i / (n_kv/64), l = i % (n_kv/64);
            prefetch_l2((const char *) (v + r*p.v_nb1) + 128*l);
        }
    }
    tq_mmv::pdl_wait(); // q and the caches' newest positions come from the preceding kernels

    // 1. this lane's slice of the query: halves [HPL*(lane % 8), +HPL) of a K row
    const int kl = lane % 8;
    float qv[HPL];
    load_query_slice<HPL>(q + HPL*kl, qv);

    // 2. scores: 8 lanes per K row (HPL halves each, coalesced), a warp 4 rows, KUNR steps' loads in flight
    float mx = -INFINITY;
    for (int r0 = warp*4 + lane/8; r0 < n_kv; r0 += KROWS*KUNR) {
        uint4 w[KUNR][HPL/8];
#pragma unroll
        for (int u = 0; u < KUNR; ++u) {
            const int r = min(r0 + u*KROWS, n_kv - 1);
            const uint4 * kr = (const uint4 *) (k + r*p.k_nb1 + HPL*kl);
#pragma unroll
            for (int j = 0; j < HPL/8; ++j) {
                w[u][j] = kr[j];
            }
        }
#pragma unroll
        for (int u = 0; u < KUNR; ++u) {
            const float dot = k_row_dot<HPL>(w[u], qv);
            const int r = r0 + u*KROWS;
            if (r < n_kv) {
                float m = 0.0f;
                if (p.mask != nullptr) {
                    m = p.mask_f16 ? __half2float(((const half *) p.mask)[m_off + r]) : ((const float *) p.mask)[m_off + r];
                }
                const float si = dot*p.scale + m;
                if (kl == 0) {
                    s_s[r] = si;
                }
                mx = fmaxf(mx, si);
            }
        }
    }

    // 3. softmax
    mx = cta_reduce<true>(mx, red_s[0]); // its barrier also publishes the scores
    float sum = 0.0f;
    for (int i = tid; i < n_kv; i += THREADS) {
        const float e = expf(s_s[i] - mx);
        s_s[i] = e;
        sum += e;
    }
    sum = cta_reduce<false>(sum, red_s[1]); // its barrier also publishes the exps
    const float inv_sum = 1.0f / sum;

    // 4. output: warp w takes rows w, w + NW, ..; lane l chunks of 8 positions l, l + 32, .. of a row
    // (coalesced), VUNR rows' loads in flight, each row's sum reduced over the warp
    const int nc = n_kv / 8;
    for (int d0 = warp; d0 < HD; d0 += NW*VUNR) {
        float acc[VUNR];
#pragma unroll
        for (int u = 0; u < VUNR; ++u) {
            acc[u] = 0.0f;
        }
        for (int c = lane; c < nc; c += 32) {
            const float4 e0 = *(const float4 *) (s_s + 8*c);
            const float4 e1 = *(const float4 *) (s_s + 8*c + 4);
            uint4 w[VUNR];
#pragma unroll
            for (int u = 0; u < VUNR; ++u) {
                const int d = min(d0 + u*NW, HD - 1);
                w[u] = ((const uint4 *) (v + d*p.v_nb1))[c];
            }
#pragma unroll
            for (int u = 0; u < VUNR; ++u) {
                const half2 * hw = (const half2 *) &w[u];
                const float2 f0 = __half22float2(hw[0]), f1 = __half22float2(hw[1]);
                const float2 f2 = __half22float2(hw[2]), f3 = __half22float2(hw[3]);
                acc[u] += ((f0.x*e0.x + f0.y*e0.y) + (f1.x*e0.z + f1.y*e0.w)) +
                          ((f2.x*e1.x + f2.y*e1.y) + (f3.x*e1.z + f3.y*e1.w));
            }
        }
#pragma unroll
        for (int u = 0; u < VUNR; ++u) {
            acc[u] = lanes_reduce<false>(acc[u]);
            const int d = d0 + u*NW;
            if (lane == 0 && d < HD) {
                p.dst[d + t*p.d_nb1 + h*p.d_nb2 + s*p.d_nb3] = acc[u]*inv_sum;
            }
        }
    }
}

// ---- the split kernel (sm_90): the cache positions of a (query head, token, stream) over a cluster ----
// Why: the kernel above makes ~5 dependent cache round trips per CTA (K in two steps of 128 rows, the softmax,
// V in two steps of 64 rows) with 32 CTAs at 8B-class, and ends 10-11 us after the Q/K/V mat-vec (CUPTI).
// Here a cluster of up to MAX_SPLIT CTAs shares the positions in chunks of SPLIT_CHUNK: a CTA issues all
// of a chunk's K and V loads at once (8 + 8 16-byte loads per thread at head size 128), so a chunk costs
// one round trip; each CTA keeps its softmax partial (max m, sum l, unnormalised output o) with the
// running-max rescale of flash attention, and rank 0 combines the cluster's partials through distributed
// shared memory: out = sum_r exp(m_r - M) o_r / sum_r exp(m_r - M) l_r. No global scratch, no second launch.
// Measured (H100, 8B-class tg128 without flash attention, bench/results/gpu-h100-2026-11-22-s14): TQ2_0 594.3 vs
// 523.1 t/s with attn_vec_kernel (three interleaved rounds); CUPTI: it ends ~4.8 us after the Q/K/V mat-vec
// instead of ~11.
//   K: 8 lanes per row (HPL halves each), 16 rows per pass, SPLIT_CHUNK/16 passes;
//   V (transposed): head dimension d is a row of positions; lane l8 of a row takes positions 8*l8 .. +7 of
//   the chunk (a row piece is 8 x 16 bytes, coalesced), 16 rows per pass, HD/16 passes, reduced over the 8
//   lanes at the end;
//   scores of a chunk in shared memory, the chunk's max and sum computed by every warp alike (no barrier).
// Tried and removed (session 14): ggml's FLASH_ATTN_EXT at decode on this kernel (V by position, read like K, each
// thread keeping the partials of its HPL dimensions, reduced over lanes and warps at the end; hooked at the top of
// ggml_cuda_flash_attn_ext). Upstream's 377 F16 FLASH_ATTN_EXT cases at 1 and 3 tokens passed, but 8B TQ2_0
// tg128 with flash attention gained nothing: 609.9 vs 607.5 t/s with ggml's kernels (three interleaved rounds),
// CUPTI critical path 196.6 us per token against 156.3 for this kernel on the transposed V cache.
// Tried and removed (session 16, bench/results/gpu-h100-2026-12-07-s16): this kernel quantizing the output projection's
// input itself (a cluster spanning the 256/HD query heads of one activation block along y, its first CTA combining
// them and quantizing the block as tq_mmv_quantize does), so that the projection ran without its quantizer kernel.
// Correct (test-backend-ops ATTN_NO_FA with the TQ projection behind, 32/32), but 8B-class tg128 without flash
// attention, three interleaved rounds: TQ2_0 618.4 vs 622.4 t/s, TQ1_0 550.0 vs 557.6 (slower, like session 15's
// producer quantization in the mat-vecs).
constexpr int SPLIT_CHUNK = 64;
constexpr int MAX_SPLIT   = 8; // the portable cluster size

static inline int split_ctas(const int n_kv) {
    const int chunks = (n_kv + SPLIT_CHUNK - 1) / SPLIT_CHUNK;
    return chunks < MAX_SPLIT ? chunks : MAX_SPLIT;
}

// grid (split_ctas(n_kv), n_head, n_tokens*n_stream), clusters of (split_ctas(n_kv), 1, 1), THREADS threads.
template <int HD>
__global__ void __launch_bounds__(THREADS, 4) attn_split_kernel(const params p, const int n_tokens) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    static_assert(HD == 64 || HD == 128, "head sizes 64 and 128");
    static_assert(SPLIT_CHUNK == 64, "a chunk's V row piece is one 16-byte load per lane of 8");
    constexpr int HPL   = HD / 8;                // halves of a K row per lane
    constexpr int KV16  = HPL / 8;               // 16-byte loads per lane and K row
    constexpr int RPP   = THREADS / 8;           // K or V rows per pass
    constexpr int KPASS = SPLIT_CHUNK / RPP;
    constexpr int VPASS = HD / RPP;
    __shared__ __align__(16) float s_s[SPLIT_CHUNK];
    __shared__ float  o_s[HD];
    __shared__ float2 ml_s;

    namespace cg = cooperative_groups;
    const cg::cluster_group cluster = cg::this_cluster();
    const int rank = (int) cluster.block_rank(), nsplit = (int) cluster.num_blocks();
    const int h = blockIdx.y, t = blockIdx.z % n_tokens, s = blockIdx.z / n_tokens, tid = threadIdx.x;
    const int lane = tid % 32, l8 = tid % 8, r8 = tid / 8;
    const int hk = h / p.head_ratio, sk = s / p.stream_ratio;
    const float * q = p.q + t*p.q_nb1 + h*p.q_nb2 + s*p.q_nb3;
    const half  * k = p.k + hk*p.k_nb2 + sk*p.k_nb3;
    const half  * v = p.v + hk*p.v_nb2 + sk*p.v_nb3;
    const int64_t m_off = t*p.m_nb1 + (h % p.m_ne2)*p.m_nb2 + (s % p.m_ne3)*p.m_nb3;
    const int n_kv = p.n_kv, nchunks = (n_kv + SPLIT_CHUNK - 1) / SPLIT_CHUNK;

    tq_mmv::pdl_launch_dependents();
    for (int c = rank; c < nchunks; c += nsplit) { // this CTA's cache lines into L2 (old positions: see above)
        const int base = c*SPLIT_CHUNK, len = min(SPLIT_CHUNK, n_kv - base);
        for (int i = tid; i < len*(HD/64); i += THREADS) {
            prefetch_l2((const char *) (k + (base + i/(HD/64))*p.k_nb1) + 128*(i % (HD/64)));
        }
        for (int d = tid; d < HD; d += THREADS) { // a row piece spans at most two lines
            prefetch_l2(v + d*p.v_nb1 + base);
            prefetch_l2(v + d*p.v_nb1 + base + len - 1);
        }
    }
    tq_mmv::pdl_wait(); // q and the caches' newest positions come from the preceding kernels

    float qv[HPL];
    load_query_slice<HPL>(q + HPL*l8, qv);

    float m_run = -INFINITY, l_run = 0.0f; // the same in every thread
    float acc[VPASS];                     // partial output of rows u*RPP + r8 over this lane's positions
#pragma unroll
    for (int u = 0; u < VPASS; ++u) {
        acc[u] = 0.0f;
    }
    for (int c = rank; c < nchunks; c += nsplit) {
        const int base = c*SPLIT_CHUNK, len = min(SPLIT_CHUNK, n_kv - base);
        // all loads of the chunk first; rows and pieces past len are clamped into it (their scores are -inf,
        // so their exps are 0)
        uint4 wk[KPASS][KV16];
        float mk[KPASS];
#pragma unroll
        for (int u = 0; u < KPASS; ++u) {
            const int r = base + min(u*RPP + r8, len - 1);
            const uint4 * kr = (const uint4 *) (k + r*p.k_nb1 + HPL*l8);
#pragma unroll
            for (int j = 0; j < KV16; ++j) {
                wk[u][j] = kr[j];
            }
            mk[u] = 0.0f;
            if (p.mask != nullptr) {
                mk[u] = p.mask_f16 ? __half2float(((const half *) p.mask)[m_off + r]) : ((const float *) p.mask)[m_off + r];
            }
        }
        const int pc = base + min(8*l8, len - 8);
        uint4 wv[VPASS];
#pragma unroll
        for (int u = 0; u < VPASS; ++u) {
            wv[u] = *(const uint4 *) (v + (u*RPP + r8)*p.v_nb1 + pc);
        }

        // scores of the chunk: each row's dot reduced over its 8 lanes
#pragma unroll
        for (int u = 0; u < KPASS; ++u) {
            const float dot = k_row_dot<HPL>(wk[u], qv);
            const int r = u*RPP + r8;
            if (l8 == 0) {
                s_s[r] = r < len ? dot*p.scale + mk[u] : -INFINITY;
            }
        }
        __syncthreads();

        // the chunk's max and exp-sum (every warp alike), the running rescale
        const float sa = s_s[lane], sb = s_s[lane + 32];
        const float cmax = lanes_reduce<true>(fmaxf(sa, sb));
        const float m_new = fmaxf(m_run, cmax);
        const float m_use = m_new == -INFINITY ? 0.0f : m_new; // everything so far masked out: exps are 0
        const float alpha = expf(m_run - m_use);
        const float csum = lanes_reduce<false>(expf(sa - m_use) + expf(sb - m_use));
        l_run = l_run*alpha + csum;
        m_run = m_new;

        // this lane's 8 positions times the rows of its passes
        const float4 s0 = *(const float4 *) (s_s + 8*l8), s1 = *(const float4 *) (s_s + 8*l8 + 4);
        const float e[8] = {expf(s0.x - m_use), expf(s0.y - m_use), expf(s0.z - m_use), expf(s0.w - m_use),
                            expf(s1.x - m_use), expf(s1.y - m_use), expf(s1.z - m_use), expf(s1.w - m_use)};
#pragma unroll
        for (int u = 0; u < VPASS; ++u) {
            const half2 * hw = (const half2 *) &wv[u];
            const float2 f0 = __half22float2(hw[0]), f1 = __half22float2(hw[1]);
            const float2 f2 = __half22float2(hw[2]), f3 = __half22float2(hw[3]);
            acc[u] = acc[u]*alpha + (((f0.x*e[0] + f0.y*e[1]) + (f1.x*e[2] + f1.y*e[3])) +
                                     ((f2.x*e[4] + f2.y*e[5]) + (f3.x*e[6] + f3.y*e[7])));
        }
        if (c + nsplit < nchunks) {
            __syncthreads(); // s_s is rewritten by the next chunk
        }
    }

    // this CTA's partial into shared memory, then rank 0 combines the cluster's
#pragma unroll
    for (int u = 0; u < VPASS; ++u) {
        const float a = lanes_reduce<false, 8>(acc[u]);
        if (l8 == 0) {
            o_s[u*RPP + r8] = a;
        }
    }
    if (tid == 0) {
        ml_s = make_float2(m_run, l_run);
    }
    cluster.sync();
    if (rank == 0 && tid < HD) {
        float2 ml[MAX_SPLIT];
        float  o[MAX_SPLIT];
        float  mx = -INFINITY;
#pragma unroll
        for (int r = 0; r < MAX_SPLIT; ++r) {
            if (r < nsplit) {
                ml[r] = *cluster.map_shared_rank(&ml_s, r);
                o[r]  = cluster.map_shared_rank(o_s, r)[tid];
                mx = fmaxf(mx, ml[r].x);
            }
        }
        const float m_use = mx == -INFINITY ? 0.0f : mx;
        float num = 0.0f, den = 0.0f;
#pragma unroll
        for (int r = 0; r < MAX_SPLIT; ++r) {
            if (r < nsplit) {
                const float w = expf(ml[r].x - m_use);
                num += w*o[r];
                den += w*ml[r].y;
            }
        }
        p.dst[tid + t*p.d_nb1 + h*p.d_nb2 + s*p.d_nb3] = num/den;
    }
    cluster.sync(); // the other ranks' shared memory stays until rank 0 has read it
#else
    (void) p;
    (void) n_tokens;
#endif
}

static inline bool prefetch_enabled() {
    static const bool on = tq_mmv::env_switch_on("TQ_GGUF_CUDA_ATTN_PREFETCH");
    return on;
}

static inline bool split_enabled() {
    static const bool on = tq_mmv::env_switch_on("TQ_GGUF_CUDA_ATTN_SPLIT");
    return on;
}

template <int HD, bool PREFETCH>
static void launch_hd(const params & p, const dim3 grid, cudaStream_t stream) {
    static tq_mmv::launch_info cache[64];
    const auto kernel = attn_vec_kernel<HD, PREFETCH>;
    const tq_mmv::launch_info & li = tq_mmv::get_launch_info(cache, kernel, THREADS, 0);
    tq_mmv::launch(kernel, grid, dim3(THREADS, 1, 1), 0, stream, li.pdl, p);
}

// The split kernel where the device runs sm_90 code (li.bulk: cc >= 9.0 and PTX >= 9.0); false: not launched.
template <int HD>
static bool launch_split(const params & p, const int n_head, const int n_tokens, const int n_stream, cudaStream_t stream) {
    static tq_mmv::launch_info cache[64];
    const auto kernel = attn_split_kernel<HD>;
    const tq_mmv::launch_info & li = tq_mmv::get_launch_info(cache, kernel, THREADS, 0);
    if (!li.bulk) {
        return false;
    }
    const int nsplit = split_ctas(p.n_kv);
    tq_mmv::launch(kernel, dim3(nsplit, n_head, n_tokens*n_stream), dim3(THREADS, 1, 1), 0, stream, li.pdl,
                   tq_mmv::cluster_x{nsplit}, p, n_tokens);
    return true;
}

// Launches the split kernel (sm_90; TQ_GGUF_CUDA_ATTN_SPLIT=0: off, A/B) or else the one-CTA kernel for head
// size hd (64 or 128) over n_head x n_tokens x n_stream (query heads, tokens, streams). Returns the CTAs per
// (head, token, stream): split_ctas(n_kv) or 1.
static inline int attn_vec(const params & p, const int hd, const int n_head, const int n_tokens, const int n_stream,
                           cudaStream_t stream) {
    if (split_enabled() && (hd == 64 ? launch_split<64>(p, n_head, n_tokens, n_stream, stream)
                                     : launch_split<128>(p, n_head, n_tokens, n_stream, stream))) {
        return split_ctas(p.n_kv);
    }
    const dim3 grid(n_head, n_tokens, n_stream);
    const bool pf = prefetch_enabled();
    if (hd == 64) {
        pf ? launch_hd<64, true>(p, grid, stream) : launch_hd<64, false>(p, grid, stream);
    } else {
        pf ? launch_hd<128, true>(p, grid, stream) : launch_hd<128, false>(p, grid, stream);
    }
    return 1;
}

} // namespace tq_attn
