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
// Layout: one CTA of 128 threads per (query head, token, stream); the CTAs of one KV head's query heads read
// the same cache rows (from L2 after the first).
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
// launch only at this kernel's end (no early weight prefetch behind it): 507.2 vs 536.0 t/s, slower. Not
// done: copying the old cache cells into shared memory before the PDL wait.
// The sums run in F32 like ggml's (mul_mat_vec_f converts the halves, soft_max_f32 uses expf); only their
// order differs.

#include "tq-mmv-kernel.cuh"

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

// The CTA's max or sum of v (every thread gets it); red: THREADS/32 floats of shared memory, free on entry.
template <bool is_max>
static __device__ __forceinline__ float cta_reduce(float v, float * red) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const float u = __shfl_xor_sync(0xffffffff, v, o);
        v = is_max ? fmaxf(v, u) : v + u;
    }
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
#pragma unroll
    for (int j = 0; j < HPL; j += 4) {
        const float4 f = *(const float4 *) (q + HPL*kl + j);
        qv[j] = f.x; qv[j + 1] = f.y; qv[j + 2] = f.z; qv[j + 3] = f.w;
    }

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
            float a0 = 0.0f, a1 = 0.0f;
#pragma unroll
            for (int j = 0; j < HPL/8; ++j) {
                const half2 * hw = (const half2 *) &w[u][j];
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const float2 f = __half22float2(hw[e]);
                    a0 = fmaf(f.x, qv[8*j + 2*e],     a0);
                    a1 = fmaf(f.y, qv[8*j + 2*e + 1], a1);
                }
            }
            float dot = a0 + a1;
            dot += __shfl_xor_sync(0xffffffff, dot, 4);
            dot += __shfl_xor_sync(0xffffffff, dot, 2);
            dot += __shfl_xor_sync(0xffffffff, dot, 1);
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
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) {
                acc[u] += __shfl_xor_sync(0xffffffff, acc[u], o);
            }
            const int d = d0 + u*NW;
            if (lane == 0 && d < HD) {
                p.dst[d + t*p.d_nb1 + h*p.d_nb2 + s*p.d_nb3] = acc[u]*inv_sum;
            }
        }
    }
}

static inline bool prefetch_enabled() {
    static const bool on = tq_mmv::env_switch_on("TQ_GGUF_CUDA_ATTN_PREFETCH");
    return on;
}

template <int HD, bool PREFETCH>
static void launch_hd(const params & p, const dim3 grid, cudaStream_t stream) {
    static tq_mmv::launch_info cache[64];
    const auto kernel = attn_vec_kernel<HD, PREFETCH>;
    const tq_mmv::launch_info & li = tq_mmv::get_launch_info(cache, kernel, THREADS, 0);
    tq_mmv::launch(kernel, grid, dim3(THREADS, 1, 1), 0, stream, li.pdl, p);
}

// Launches the kernel for head size hd (64 or 128) over n_head x n_tokens x n_stream CTAs.
static inline void attn_vec(const params & p, const int hd, const int n_head, const int n_tokens, const int n_stream,
                            cudaStream_t stream) {
    const dim3 grid(n_head, n_tokens, n_stream);
    const bool pf = prefetch_enabled();
    if (hd == 64) {
        pf ? launch_hd<64, true>(p, grid, stream) : launch_hd<64, false>(p, grid, stream);
    } else {
        pf ? launch_hd<128, true>(p, grid, stream) : launch_hd<128, false>(p, grid, stream);
    }
}

} // namespace tq_attn
