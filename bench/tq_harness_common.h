#pragma once
// tq_gguf: host helpers shared by the CUDA kernel harnesses (bench/cuda_mmv_harness.cu,
// bench/cuda_mmb_harness.cu): GGUF block encoders, a reference decoder written from the block
// definitions (independent of the kernels' K order), and random device data.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

enum : int { TQ_HOST_TQ2 = 0, TQ_HOST_TQ1 = 1 }; // = tq_mmv::TQ2 / TQ1

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { \
    fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); exit(1); } } while (0)

static float h2f(uint16_t h) { __half_raw r; r.x = h; return __half2float(__half(r)); }
static uint16_t f2h(float f) { __half h = __float2half(f); return ((__half_raw) h).x; }

// encode one block of 256 trits (-1,0,1) + d into GGUF bytes
static void encode_tq2(uint8_t * blk, const int8_t * tr, float d) {
    memset(blk, 0, 66);
    for (int n = 0; n < 256; ++n) {
        const int byte = 32*(n/128) + n%32, sh = 2*((n%128)/32);
        blk[byte] |= (uint8_t) ((tr[n] + 1) << sh);
    }
    const uint16_t h = f2h(d); memcpy(blk + 64, &h, 2);
}
static void encode_tq1(uint8_t * blk, const int8_t * tr, float d) {
    // ggml quantize_row_tq1_0_ref
    for (int m = 0; m < 32; ++m) {
        unsigned q = 0;
        for (int n = 0; n < 5; ++n) q = q*3 + (tr[m + 32*n] + 1);
        blk[m] = (uint8_t) ((q*256 + 242)/243);
    }
    for (int m = 0; m < 16; ++m) {
        unsigned q = 0;
        for (int n = 0; n < 5; ++n) q = q*3 + (tr[160 + m + 16*n] + 1);
        blk[32 + m] = (uint8_t) ((q*256 + 242)/243);
    }
    for (int j = 0; j < 4; ++j) {
        unsigned q = 0;
        for (int m = 0; m < 4; ++m) q = q*3 + (tr[240 + j + 4*m] + 1);
        q *= 3;
        blk[48 + j] = (uint8_t) ((q*256 + 242)/243);
    }
    const uint16_t h = f2h(d); memcpy(blk + 52, &h, 2);
}
// decode per the block definition (ggml dequantize_row_tq*_0), independent of the kernel's mapping
static void decode_blk(int type, const uint8_t * blk, double * out) {
    if (type == TQ_HOST_TQ2) {
        uint16_t h; memcpy(&h, blk + 64, 2); const double d = h2f(h);
        for (int n = 0; n < 256; ++n) {
            const int c = (blk[32*(n/128) + n%32] >> (2*((n%128)/32))) & 3;
            out[n] = d*(c - 1);
        }
    } else {
        uint16_t h; memcpy(&h, blk + 52, 2); const double d = h2f(h);
        static const int p3[6] = {1, 3, 9, 27, 81, 243};
        for (int n = 0; n < 256; ++n) {
            int b, k;
            if (n < 160)      { b = blk[n%32];                 k = n/32; }
            else if (n < 240) { b = blk[32 + (n - 160)%16];    k = (n - 160)/16; }
            else              { b = blk[48 + (n - 240)%4];     k = (n - 240)/4; }
            const int c = ((((b*p3[k]) & 0xFF))*3) >> 8;
            out[n] = d*(c - 1);
        }
    }
}

// n floats from N(0, 1) on the device (and in *host where given)
static float * device_normal(std::mt19937 & rng, const size_t n, std::vector<float> * host = nullptr) {
    std::vector<float> h(n);
    std::normal_distribution<float> nd(0.f, 1.f);
    for (auto & v : h) v = nd(rng);
    float * d; CK(cudaMalloc(&d, n*4)); CK(cudaMemcpy(d, h.data(), n*4, cudaMemcpyHostToDevice));
    if (host) *host = std::move(h);
    return d;
}

// nblocks random blocks of bs bytes on the device: bytes valid for TQ1_0 (any byte is valid TQ2_0), scale 0x2000
static char * device_random_blocks(std::mt19937 & rng, const int bs, const int64_t nblocks) {
    std::vector<uint8_t> hw((size_t) (nblocks*bs));
    for (auto & v : hw) v = (uint8_t) (rng() % 243);
    for (size_t r = bs - 2; r < hw.size(); r += bs) { const uint16_t h = 0x2000; memcpy(hw.data() + r, &h, 2); }
    char * d; CK(cudaMalloc(&d, hw.size())); CK(cudaMemcpy(d, hw.data(), hw.size(), cudaMemcpyHostToDevice));
    return d;
}


// Random ternary weights of m rows x nb blocks of type (TQ_HOST_TQ2 / TQ_HOST_TQ1; scales 0.005..0.05):
// the host bytes, and on the device ncopy back-to-back copies (rotate: > 240 MB in all so that L2
// does not serve the timed launches) where timed, else one.
struct harness_weights {
    std::vector<uint8_t> host;
    char * dev = nullptr;
    size_t bytes = 0; // of one copy
    int ncopy = 1;
};

static harness_weights make_random_weights(std::mt19937 & rng, const int type, const int m, const int nb, const bool timed) {
    const int bs = type == TQ_HOST_TQ2 ? 66 : 54;
    harness_weights w;
    w.bytes = (size_t) nb*bs*m;
    w.host.resize(w.bytes);
    std::vector<int8_t> tr(256);
    std::uniform_real_distribution<float> ud(0.005f, 0.05f);
    for (int64_t b = 0; b < (int64_t) m*nb; ++b) {
        for (int n = 0; n < 256; ++n) tr[n] = (int8_t) ((int) (rng() % 3) - 1);
        (type == TQ_HOST_TQ2 ? encode_tq2 : encode_tq1)(w.host.data() + b*bs, tr.data(), ud(rng));
    }
    w.ncopy = timed ? (int) std::max<size_t>(1, (240ull << 20)/w.bytes + 1) : 1;
    CK(cudaMalloc(&w.dev, w.bytes*w.ncopy));
    CK(cudaMemcpy(w.dev, w.host.data(), w.bytes, cudaMemcpyHostToDevice));
    for (int c = 1; c < w.ncopy; ++c) CK(cudaMemcpy(w.dev + c*w.bytes, w.dev, w.bytes, cudaMemcpyDeviceToDevice));
    return w;
}

// A matrix shape of a harness run; time: also timed (else only checked).
struct harness_shape { int m, k; bool time; };

// One (type, shape) case: the row layout and fresh random weights.
struct harness_case {
    int type;          // TQ_HOST_TQ2 / TQ_HOST_TQ1
    harness_shape sh;
    int bs;            // bytes per block
    int nb;            // blocks per row
    int64_t rb;        // bytes per row
    harness_weights w;
};

// A case's activations for ncols columns: N(0, 1) floats on the device (dy) and the host (hy), then
// buffers for their quantization (yq, ym) and for the product (dd: m x ncols floats). Freed with it.
struct harness_io {
    std::vector<float> hy;
    float  * dy;
    int    * yq;
    float2 * ym;
    float  * dd;
    harness_io(std::mt19937 & rng, const harness_case & hc, const int ncols) {
        dy = device_normal(rng, (size_t) hc.sh.k*ncols, &hy);
        CK(cudaMalloc(&yq, (size_t) hc.sh.k*ncols));
        CK(cudaMalloc(&ym, (size_t) hc.nb*ncols*sizeof(float2)));
        CK(cudaMalloc(&dd, (size_t) hc.sh.m*ncols*4));
    }
    harness_io(const harness_io &) = delete;
    harness_io & operator=(const harness_io &) = delete;
    ~harness_io() {
        CK(cudaFree(dy)); CK(cudaFree(yq)); CK(cudaFree(ym)); CK(cudaFree(dd));
    }
};

// Microseconds per call of fn(i) on stream st: 3 warm-up calls, then reps calls between two events (fn may
// use i to rotate weight copies, so that L2 does not serve them).
template <typename Fn>
static double time_us(cudaStream_t st, cudaEvent_t e0, cudaEvent_t e1, const int reps, Fn && fn) {
    for (int i = 0; i < 3; ++i) fn(i);
    CK(cudaEventRecord(e0, st));
    for (int i = 0; i < reps; ++i) fn(i);
    CK(cudaEventRecord(e1, st)); CK(cudaEventSynchronize(e1));
    CK(cudaGetLastError());
    float ms; CK(cudaEventElapsedTime(&ms, e0, e1));
    return ms*1e3/reps;
}

// fn(c) for every type and shape the command line selects (only_type < 0: both types; only_m, only_k: the
// shapes of that m, k; 0: any), each with new weights (drawn from rng in this order), freed after fn returns.
template <typename Shapes, typename Fn>
static void for_each_case(std::mt19937 & rng, const Shapes & shapes, const int only_type, const int only_m,
                          const int only_k, Fn && fn) {
    for (int type : {TQ_HOST_TQ2, TQ_HOST_TQ1}) {
        if (only_type >= 0 && type != only_type) continue;
        for (const harness_shape & sh : shapes) {
            if ((only_m && sh.m != only_m) || (only_k && sh.k != only_k)) continue;
            harness_case c = {type, sh, type == TQ_HOST_TQ2 ? 66 : 54, sh.k/256, 0, {}};
            c.rb = (int64_t) c.nb*c.bs;
            c.w  = make_random_weights(rng, type, sh.m, c.nb, sh.time);
            fn(c);
            CK(cudaFree(c.w.dev));
        }
    }
}

// float64 reference products: ref[ri*stride + col] = row rows[ri] of c's weights (decoded from the block
// definitions) times column col of hy (columns of k floats), for col < ncols.
static std::vector<double> reference_products(const harness_case & c, const std::vector<int> & rows,
                                              const std::vector<float> & hy, const int ncols, const int stride) {
    std::vector<double> ref(rows.size()*stride, 0.0), deq(256);
    for (size_t ri = 0; ri < rows.size(); ++ri) {
        for (int b = 0; b < c.nb; ++b) {
            decode_blk(c.type, c.w.host.data() + (int64_t) rows[ri]*c.rb + (int64_t) b*c.bs, deq.data());
            for (int col = 0; col < ncols; ++col) {
                double s = 0; const float * yc = hy.data() + (size_t) col*c.sh.k + b*256;
                for (int n = 0; n < 256; ++n) s += deq[n]*yc[n];
                ref[ri*stride + col] += s;
            }
        }
    }
    return ref;
}

// Relative RMS error of dst (m rows, column-major, ncols columns, on the device) on the reference rows
// (1e30 if not finite).
static double rel_rms_error(const float * dst, const int m, const int ncols, const std::vector<int> & rows,
                            const std::vector<double> & ref, const int stride) {
    std::vector<float> out((size_t) m*ncols);
    CK(cudaMemcpy(out.data(), dst, out.size()*4, cudaMemcpyDeviceToHost));
    double se = 0, sr = 0;
    for (size_t ri = 0; ri < rows.size(); ++ri) for (int col = 0; col < ncols; ++col) {
        const double e = out[(size_t) col*m + rows[ri]] - ref[ri*stride + col];
        se += e*e; sr += ref[ri*stride + col]*ref[ri*stride + col];
    }
    const double rel = std::sqrt(se/std::max(sr, 1e-30));
    return std::isfinite(rel) ? rel : 1e30;
}
