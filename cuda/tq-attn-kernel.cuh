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
//   1. the query row (HD floats) goes to shared memory;
//   2. scores: thread i takes cache positions i, i + 128, ..; a K row is HD contiguous halves (16-byte loads,
//      all of a row in flight) dotted with the query; s = dot*scale + mask, kept in shared memory;
//   3. softmax: the CTA's max, exp(s - max) in place, the CTA's sum;
//   4. output: with the V cache transposed, head dimension d is a row of n_kv contiguous halves; 128/HD
//      threads per row each dot every (128/HD)-th chunk of 8 of it with the exps (shared memory, the same
//      words for every thread of a warp; 16 loads in flight), then one of them adds the parts and scales
//      by 1/sum.
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

// Dot of 8 halves (one 16-byte load) with 8 floats of shared memory, into two accumulators.
static __device__ __forceinline__ void dot8(const uint4 w, const float * x, float & a0, float & a1) {
    const half2 * h = (const half2 *) &w;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
        const float2 f = __half22float2(h[j]);
        a0 = fmaf(f.x, x[2*j],     a0);
        a1 = fmaf(f.y, x[2*j + 1], a1);
    }
}

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
    constexpr int SPLIT = THREADS / HD; // threads per V row in step 4
    __shared__ __align__(16) float q_s[HD];
    __shared__ __align__(16) float s_s[MAX_KV];
    __shared__ float red_s[2][THREADS/32];
    __shared__ float part_s[THREADS];

    const int h = blockIdx.x, t = blockIdx.y, s = blockIdx.z, tid = threadIdx.x;
    const int hk = h / p.head_ratio, sk = s / p.stream_ratio;
    const float * q = p.q + t*p.q_nb1 + h*p.q_nb2 + s*p.q_nb3;
    const half  * k = p.k + hk*p.k_nb2 + sk*p.k_nb3;
    const half  * v = p.v + hk*p.v_nb2 + sk*p.v_nb3;
    const int64_t m_off = t*p.m_nb1 + (h % p.m_ne2)*p.m_nb2 + (s % p.m_ne3)*p.m_nb3;
    const int n_kv = p.n_kv;
    const int d = tid % HD, part = tid / HD; // step 4: row d, chunks part, part + SPLIT, ..

    tq_mmv::pdl_launch_dependents();
    if (PREFETCH) { // 0. the rows of steps 2 and 4, in 128-byte lines
        for (int i = tid; i < n_kv; i += THREADS) {
#pragma unroll
            for (int o = 0; o < HD*2; o += 128) {
                prefetch_l2((const char *) (k + i*p.k_nb1) + o);
            }
        }
        for (int o = part*128; o < 2*n_kv; o += SPLIT*128) {
            prefetch_l2((const char *) (v + d*p.v_nb1) + o);
        }
    }
    tq_mmv::pdl_wait(); // q and the caches' newest positions come from the preceding kernels

    for (int j = tid; j < HD; j += THREADS) { // 1.
        q_s[j] = q[j];
    }
    __syncthreads();

    // 2. scores (a row's HD/8 loads in flight at once)
    float mx = -INFINITY;
    for (int i = tid; i < n_kv; i += THREADS) {
        const uint4 * kr = (const uint4 *) (k + i*p.k_nb1);
        uint4 w[HD/8];
#pragma unroll
        for (int c = 0; c < HD/8; ++c) {
            w[c] = kr[c];
        }
        float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
#pragma unroll
        for (int c = 0; c < HD/8; c += 2) {
            dot8(w[c],     q_s + 8*c,     a0, a1);
            dot8(w[c + 1], q_s + 8*c + 8, a2, a3);
        }
        float m = 0.0f;
        if (p.mask != nullptr) {
            m = p.mask_f16 ? __half2float(((const half *) p.mask)[m_off + i]) : ((const float *) p.mask)[m_off + i];
        }
        const float si = ((a0 + a1) + (a2 + a3))*p.scale + m;
        s_s[i] = si;
        mx = fmaxf(mx, si);
    }

    // 3. softmax (each thread rereads only the scores it wrote)
    mx = cta_reduce<true>(mx, red_s[0]);
    float sum = 0.0f;
    for (int i = tid; i < n_kv; i += THREADS) {
        const float e = expf(s_s[i] - mx);
        s_s[i] = e;
        sum += e;
    }
    sum = cta_reduce<false>(sum, red_s[1]); // its barrier also publishes the exps

    // 4. output rows: thread tid takes row d, chunks of 8 positions part, part + SPLIT, ..
    const uint4 * vr = (const uint4 *) (v + d*p.v_nb1);
    constexpr int UNROLL = 16; // loads in flight per thread
    float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
    const int nc = n_kv / 8;
    int c = part;
#pragma unroll 1
    for (; c + (UNROLL - 1)*SPLIT < nc; c += UNROLL*SPLIT) {
        uint4 w[UNROLL];
#pragma unroll
        for (int u = 0; u < UNROLL; ++u) {
            w[u] = vr[c + u*SPLIT];
        }
#pragma unroll
        for (int u = 0; u < UNROLL; u += 2) {
            dot8(w[u],     s_s + 8*(c + u*SPLIT),       a0, a1);
            dot8(w[u + 1], s_s + 8*(c + (u + 1)*SPLIT), a2, a3);
        }
    }
    for (; c < nc; c += SPLIT) {
        dot8(vr[c], s_s + 8*c, a0, a1);
    }
    float o = (a0 + a1) + (a2 + a3);
    part_s[tid] = o;
    __syncthreads();
    if (part != 0) {
        return;
    }
#pragma unroll
    for (int j = 1; j < SPLIT; ++j) {
        o += part_s[tid + j*HD];
    }
    p.dst[d + t*p.d_nb1 + h*p.d_nb2 + s*p.d_nb3] = o / sum;
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
