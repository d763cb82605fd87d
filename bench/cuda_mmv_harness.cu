// tq_gguf: standalone harness for cuda/tq-mmv-kernel.cuh (TQ2_0 / TQ1_0 decode mat-vec).
//
//   nvcc -arch=sm_90 -O3 -std=c++17 -Icuda bench/cuda_mmv_harness.cu -o /tmp/tq_mmv_harness && /tmp/tq_mmv_harness
//
// Random GGUF-layout rows (codes 0..2, fp16 d) and f32 activations; checks the GPU result against
// a float64 CPU reference built from the block definitions (unquantized activations, so the error
// is the int8 activation quantization: ~1e-3 of the output RMS; a layout bug gives O(1)) on a subset
// of rows, then times quantize+mat-vec with CUDA events, rotating weight copies (> 200 MB in all)
// so that L2 does not serve them, next to a device-to-device copy (bandwidth ceiling).
#define TQ_MMV_VARIANTS
#include "tq-mmv-kernel.cuh"
#include "tq_harness_common.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

using namespace tq_mmv;

// variant: a launch shape of mul_mat_vec_segments; NO_QUANT: the default one without the quantize kernel
constexpr int NO_QUANT = -1000;

static void run_mv(int type, const char * x, const float * y, int * yq, float2 * ym, float * dst, int nb, int64_t rb,
                   int nrows, int ncols, int64_t sy, int64_t sd, cudaStream_t st, int variant = 0) {
    mv_options opt;
    opt.variant  = variant == NO_QUANT ? 0 : variant;
    opt.quantize = variant != NO_QUANT;
    if (type == TQ2) mul_mat_vec<TQ2>(x, y, yq, ym, dst, nb, rb, nrows, ncols, sy, sd, st, opt);
    else             mul_mat_vec<TQ1>(x, y, yq, ym, dst, nb, rb, nrows, ncols, sy, sd, st, opt);
}

static void run_segments(int type, const mv_segments & segs, const float * y, int * yq, float2 * ym, int nb, int64_t rb,
                         int ncols, int64_t sy, cudaStream_t st) {
    if (type == TQ2) mul_mat_vec_segments<TQ2>(segs, y, yq, ym, nb, rb, ncols, sy, st);
    else             mul_mat_vec_segments<TQ1>(segs, y, yq, ym, nb, rb, ncols, sy, st);
}

int main(int argc, char ** argv) {
    // usage: harness [reps [M K [TYPE]]]: with M K, only that shape, with TYPE (2 or 1) only TQ2_0 or
    // TQ1_0 (for profiling one kernel under ncu: its first launch is the default kernel at n = 1)
    const int reps = argc > 1 ? atoi(argv[1]) : 30;
    const int only_m = argc > 3 ? atoi(argv[2]) : 0, only_k = argc > 3 ? atoi(argv[3]) : 0;
    const int only_type = argc > 4 ? (atoi(argv[4]) == 1 ? TQ1 : TQ2) : -1;
    // TQ_HARNESS_DEFAULT_ONLY=1: time only the default launch (with and without the quantizer); every
    // variant is still checked
    const bool default_only = getenv("TQ_HARNESS_DEFAULT_ONLY") != nullptr && atoi(getenv("TQ_HARNESS_DEFAULT_ONLY")) != 0;
    cudaDeviceProp prop; CK(cudaGetDeviceProperties(&prop, 0));
    printf("device: %s, %d SMs, L2 %d MB\n", prop.name, prop.multiProcessorCount, prop.l2CacheSize >> 20);
    std::mt19937 rng(1234);
    cudaStream_t st; CK(cudaStreamCreate(&st));
    cudaEvent_t e0, e1; CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));

    // copy bandwidth ceiling
    double copy_gbs = 0;
    {
        const size_t sz = 512ull << 20;
        char *a, *b; CK(cudaMalloc(&a, sz)); CK(cudaMalloc(&b, sz));
        CK(cudaMemsetAsync(a, 1, sz, st));
        CK(cudaMemcpyAsync(b, a, sz, cudaMemcpyDeviceToDevice, st));
        CK(cudaEventRecord(e0, st));
        for (int i = 0; i < 10; ++i) CK(cudaMemcpyAsync(b, a, sz, cudaMemcpyDeviceToDevice, st));
        CK(cudaEventRecord(e1, st)); CK(cudaEventSynchronize(e1));
        float ms; CK(cudaEventElapsedTime(&ms, e0, e1));
        copy_gbs = 2.0*sz*10/(ms*1e-3)/1e9;
        printf("d2d copy: %.0f GB/s (read+write)\n", copy_gbs);
        CK(cudaFree(a)); CK(cudaFree(b));
    }

    const harness_shape shapes[] = {
        {67, 1536, false}, {80, 3072, false}, {48, 1024, false}, {72, 5632, false},
        {40, 9216, false}, // 36 blocks: chunks of 8, partial last chunk, deep prefetch
        {3072, 3072, true}, {8192, 3072, true}, {3072, 8192, true}, {2048, 5632, true}, // 3B, TriLM 1.1B
        {4096, 4096, true}, {14336, 4096, true}, {4096, 14336, true},                  // 8B
        {28672, 8192, true}, {8192, 28672, true},                                      // 70B
    };
    const int cols[] = {1, 2, 3, 4, 8};
    std::vector<std::string> table;
    int fails = 0;

    for_each_case(rng, shapes, only_type, only_m, only_k, [&](const harness_case & hc) {
        const int type = hc.type, nb = hc.nb;
        const harness_shape & sh = hc.sh;
        const int64_t rb = hc.rb;
        const size_t wbytes = hc.w.bytes;
        const int ncopy = hc.w.ncopy;
        char * dw = hc.w.dev;
        const harness_io io(rng, hc, 8); // activations: 8 columns
        const std::vector<float> & hy = io.hy;
        float * dy = io.dy, * dd = io.dd;
        int * yq = io.yq;
        float2 * ym = io.ym;

        // reference rows
        std::vector<int> rows;
        for (int r = 0; r < sh.m; r += (sh.m > 1000 ? 61 : 1)) rows.push_back(r);
        rows.push_back(sh.m - 1);
        const std::vector<double> ref = reference_products(hc, rows, hy, 8, 8);
        // relative RMS error of variant v (>= 0: with the quantize kernel) against the float64 reference
        auto check = [&](const int n, const int v) {
            CK(cudaMemset(dd, 0xFF, (size_t) sh.m*8*4));
            run_mv(type, dw, dy, yq, ym, dd, nb, rb, sh.m, n, sh.k, sh.m, st, v);
            CK(cudaGetLastError()); CK(cudaStreamSynchronize(st));
            return rel_rms_error(dd, sh.m, n, rows, ref, 8);
        };
        // timing columns: 0 = quantize + default kernel; NO_QUANT = default kernel alone; 1..7 = fixed
        // launch shapes (NWxSTAGES, see mul_mat_vec; 7 = NW4S2 with cp.async instead of bulk copies;
        // 8 = chunks of 8 blocks only, the rule before short rows got chunks of 4; 9..11 = chunks of 4 on
        // long rows, NW8S3, NW4S4, NW8S2; 12 = NW2S2)
        const int variants[] = {0, NO_QUANT, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
        for (int n : cols) {
            double rel = 0;
            bool ok = true;
            for (int v : variants) {
                if (v == NO_QUANT) continue;
                const double r = check(n, v);
                const bool okv = r < 2e-2;
                if (!okv || (!sh.time && v == 0)) printf("check %s %dx%d n=%d variant %d: rel rms err %.2e %s\n", type == TQ2 ? "TQ2_0" : "TQ1_0", sh.m, sh.k, n, v, r, okv ? "ok" : "FAIL");
                fails += !okv;
                ok = ok && okv;
                if (v == 0) rel = r;
            }
            if (!sh.time || !ok) continue;
            std::string line = "";
            char buf[256];
            snprintf(buf, sizeof buf, "| %s | %5d x %5d | %d |", type == TQ2 ? "TQ2_0" : "TQ1_0", sh.m, sh.k, n);
            line += buf;
            for (int v : variants) {
                if (default_only && v != 0 && v != NO_QUANT) {
                    line += "       - |";
                    continue;
                }
                const double us = time_us(st, e0, e1, reps, [&](int i) {
                    run_mv(type, dw + (i % ncopy)*wbytes, dy, yq, ym, dd, nb, rb, sh.m, n, sh.k, sh.m, st, v);
                });
                if (v == 0) {
                    snprintf(buf, sizeof buf, " %7.2f | %6.0f | %4.0f%% |", us, wbytes/(us*1e-6)/1e9, 100.0*wbytes/(us*1e-6)/1e9/copy_gbs);
                } else {
                    snprintf(buf, sizeof buf, " %7.2f |", us);
                }
                line += buf;
            }
            snprintf(buf, sizeof buf, " %.1e |", rel);
            table.push_back(line + buf);
        }
    });
    // Mat-vecs of one input (Q/K/V of 3B- and 8B-class layers): one launch over the three matrices
    // (mul_mat_vec_segments) must give bit-identical outputs to three launches (same quantization, same
    // per-tile sums), and takes the time below against three separate quantize + mat-vec calls.
    std::vector<std::string> qkv_table;
    if (!only_m) {
        struct Qkv { int k, mq, mkv; };
        for (int type : {TQ2, TQ1}) {
            if (only_type >= 0 && type != only_type) continue;
            const int bs = type == TQ2 ? 66 : 54;
            for (const Qkv & q : {Qkv{3072, 3072, 1024}, Qkv{4096, 4096, 1024}}) {
                const int nb = q.k/256;
                const int64_t rb = (int64_t) nb*bs;
                const int m[3] = {q.mq, q.mkv, q.mkv};
                char * dw[3]; float * dd[3]; float * dref[3];
                for (int s = 0; s < 3; ++s) {
                    dw[s] = device_random_blocks(rng, bs, (int64_t) m[s]*nb);
                    CK(cudaMalloc(&dd[s], (size_t) m[s]*8*4)); CK(cudaMalloc(&dref[s], (size_t) m[s]*8*4));
                }
                float * dy = device_normal(rng, (size_t) q.k*8);
                int * yq; CK(cudaMalloc(&yq, (size_t) q.k*8));
                float2 * ym; CK(cudaMalloc(&ym, (size_t) nb*8*sizeof(float2)));
                for (int n : {1, 4}) {
                    auto separate = [&](float * const * out) {
                        for (int s = 0; s < 3; ++s) run_mv(type, dw[s], dy, yq, ym, out[s], nb, rb, m[s], n, q.k, m[s], st);
                    };
                    auto fused = [&]() {
                        mv_segments segs = {};
                        for (int s = 0; s < 3; ++s) add_segment(segs, dw[s], dd[s], m[s], m[s]);
                        run_segments(type, segs, dy, yq, ym, nb, rb, n, q.k, st);
                    };
                    separate(dref);
                    for (int s = 0; s < 3; ++s) CK(cudaMemset(dd[s], 0xFF, (size_t) m[s]*8*4));
                    fused();
                    CK(cudaStreamSynchronize(st)); CK(cudaGetLastError());
                    size_t diff = 0;
                    for (int s = 0; s < 3; ++s) {
                        std::vector<float> a((size_t) m[s]*n), b((size_t) m[s]*n);
                        CK(cudaMemcpy(a.data(), dd[s], a.size()*4, cudaMemcpyDeviceToHost));
                        CK(cudaMemcpy(b.data(), dref[s], b.size()*4, cudaMemcpyDeviceToHost));
                        diff += memcmp(a.data(), b.data(), a.size()*4) != 0;
                    }
                    printf("check %s Q/K/V %d+%d+%d x %d n=%d one launch vs three: %s\n", type == TQ2 ? "TQ2_0" : "TQ1_0",
                           m[0], m[1], m[2], q.k, n, diff ? "DIFFER" : "identical");
                    fails += diff != 0;
                    const double us[2] = {time_us(st, e0, e1, reps, [&](int) { separate(dref); }),
                                          time_us(st, e0, e1, reps, [&](int) { fused(); })};
                    char buf[200];
                    snprintf(buf, sizeof buf, "| %s | %d+%d+%d x %d | %d | %.2f | %.2f | %.2fx |", type == TQ2 ? "TQ2_0" : "TQ1_0",
                             m[0], m[1], m[2], q.k, n, us[0], us[1], us[0]/us[1]);
                    qkv_table.push_back(buf);
                }
                for (int s = 0; s < 3; ++s) { CK(cudaFree(dw[s])); CK(cudaFree(dd[s])); CK(cudaFree(dref[s])); }
                CK(cudaFree(dy)); CK(cudaFree(yq)); CK(cudaFree(ym));
            }
        }
    }
    // Gate/up pair + SwiGLU in one launch (x_up), 8B-class FFN (14336 x 4096 each): output against
    // silu(gate y)*(up y) from two plain launches (same quantization; another launch shape sums in another
    // order), and its time against those two, rotating 8 copies of the pair (240 MB: not L2-resident).
    // Launch rules as the default.
    std::vector<std::string> pair_table;
    for (int type : {TQ2, TQ1}) {
        if ((only_m && !(only_m == 14336 && only_k == 4096)) || (only_type >= 0 && type != only_type)) continue;
        const int bs = type == TQ2 ? 66 : 54, m = 14336, k = 4096, nb = k/256, ncp = 8;
        const int64_t rb = (int64_t) nb*bs;
        char * dg0 = device_random_blocks(rng, bs, (int64_t) m*nb*ncp);
        char * du0 = device_random_blocks(rng, bs, (int64_t) m*nb*ncp);
        char * dg = dg0, * du = du0; // the copy in use
        float * dy = device_normal(rng, (size_t) k*8);
        float *dp, *dq, *dglu; int * yq; float2 * ym;
        CK(cudaMalloc(&dp, (size_t) m*8*4)); CK(cudaMalloc(&dq, (size_t) m*8*4)); CK(cudaMalloc(&dglu, (size_t) m*8*4));
        CK(cudaMalloc(&yq, (size_t) k*8)); CK(cudaMalloc(&ym, (size_t) nb*8*sizeof(float2)));
        for (int n : {1, 4, 8}) {
            auto pair = [&]() {
                mv_options opt;
                opt.x_up = du;
                opt.glu  = GLU_SWIGLU;
                if (type == TQ2) mul_mat_vec<TQ2>(dg, dy, yq, ym, dglu, nb, rb, m, n, k, m, st, opt);
                else             mul_mat_vec<TQ1>(dg, dy, yq, ym, dglu, nb, rb, m, n, k, m, st, opt);
            };
            auto two = [&]() {
                run_mv(type, dg, dy, yq, ym, dp, nb, rb, m, n, k, m, st);
                run_mv(type, du, dy, yq, ym, dq, nb, rb, m, n, k, m, st);
            };
            two();
            pair();
            CK(cudaStreamSynchronize(st)); CK(cudaGetLastError());
            std::vector<float> g((size_t) m*n), u((size_t) m*n), o((size_t) m*n);
            CK(cudaMemcpy(g.data(), dp, g.size()*4, cudaMemcpyDeviceToHost));
            CK(cudaMemcpy(u.data(), dq, u.size()*4, cudaMemcpyDeviceToHost));
            CK(cudaMemcpy(o.data(), dglu, o.size()*4, cudaMemcpyDeviceToHost));
            double err = 0, norm = 0;
            for (size_t i = 0; i < o.size(); ++i) {
                const double r = g[i]/(1.0 + exp(-(double) g[i]))*u[i];
                err += (o[i] - r)*(o[i] - r);
                norm += r*r;
            }
            const double rel = sqrt(err/(norm > 0 ? norm : 1));
            const bool ok = rel < 1e-4;
            printf("check %s gate/up pair %d x %d n=%d vs two launches: rel rms err %.2e %s\n", type == TQ2 ? "TQ2_0" : "TQ1_0",
                   m, k, n, rel, ok ? "ok" : "FAIL");
            fails += !ok;
            auto copy = [&](const int i) { // the pair copy used by call i
                dg = dg0 + (i % ncp)*m*rb;
                du = du0 + (i % ncp)*m*rb;
            };
            const double us[2] = {time_us(st, e0, e1, reps, [&](int i) { copy(i); two(); }),
                                  time_us(st, e0, e1, reps, [&](int i) { copy(i); pair(); })};
            copy(0);
            char buf[200];
            snprintf(buf, sizeof buf, "| %s | 2 x %d x %d | %d | %.2f | %.2f | %.0f |", type == TQ2 ? "TQ2_0" : "TQ1_0",
                     m, k, n, us[0], us[1], 2.0*m*rb/(us[1]*1e-6)/1e9);
            pair_table.push_back(buf);
        }
        CK(cudaFree(dg0)); CK(cudaFree(du0)); CK(cudaFree(dy)); CK(cudaFree(dp)); CK(cudaFree(dq)); CK(cudaFree(dglu));
        CK(cudaFree(yq)); CK(cudaFree(ym));
    }
    // Residual ADD in the epilogue (ggml's MUL_MAT + ADD): writing x*y + r over r in place must give
    // exactly the float sum of the plain product and r.
    for (int type : {TQ2, TQ1}) {
        if (only_m || (only_type >= 0 && type != only_type)) continue;
        const int bs = type == TQ2 ? 66 : 54, m = 1000, k = 4096, nb = k/256;
        const int64_t rb = (int64_t) nb*bs;
        char * dw = device_random_blocks(rng, bs, (int64_t) m*nb);
        float * dy = device_normal(rng, (size_t) k*8);
        std::vector<float> hr;
        float * ds = device_normal(rng, (size_t) m*8, &hr); // the residual, overwritten by the sum
        float * dp; int * yq; float2 * ym;
        CK(cudaMalloc(&dp, hr.size()*4));
        CK(cudaMalloc(&yq, (size_t) k*8)); CK(cudaMalloc(&ym, (size_t) nb*8*sizeof(float2)));
        for (int n : {1, 5, 8}) {
            CK(cudaMemcpy(ds, hr.data(), hr.size()*4, cudaMemcpyHostToDevice));
            run_mv(type, dw, dy, yq, ym, dp, nb, rb, m, n, k, m, st);
            mv_segments segs = {};
            add_segment(segs, dw, ds, m, m, ds, m);
            run_segments(type, segs, dy, yq, ym, nb, rb, n, k, st);
            CK(cudaStreamSynchronize(st)); CK(cudaGetLastError());
            std::vector<float> p((size_t) m*n), sum((size_t) m*n);
            CK(cudaMemcpy(p.data(), dp, p.size()*4, cudaMemcpyDeviceToHost));
            CK(cudaMemcpy(sum.data(), ds, sum.size()*4, cudaMemcpyDeviceToHost));
            size_t bad = 0;
            for (size_t i = 0; i < p.size(); ++i) bad += sum[i] != p[i] + hr[i];
            printf("check %s %dx%d n=%d residual add in place: %s\n", type == TQ2 ? "TQ2_0" : "TQ1_0", m, k, n,
                   bad ? "DIFFER" : "exact");
            fails += bad != 0;
        }
        CK(cudaFree(dw)); CK(cudaFree(dy)); CK(cudaFree(dp)); CK(cudaFree(ds)); CK(cudaFree(yq)); CK(cudaFree(ym));
    }
    printf("\n| type | m x k | n | us (quant+mv) | weight GB/s | of copy | mv only | v1 | v2 | v3 | v4 | v5 | v6 | v7 | v8 | v9 | v10 | v11 | v12 | rel err |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (auto & l : table) printf("%s\n", l.c_str());
    if (!qkv_table.empty()) {
        printf("\nQ/K/V of one input, us per call (stream-ordered back to back; each side quantizes):\n"
               "| type | rows x k | n | three launches | one launch | speedup |\n|---|---|---|---|---|---|\n");
        for (auto & l : qkv_table) printf("%s\n", l.c_str());
    }
    if (!pair_table.empty()) {
        printf("\nGate/up pair + SwiGLU, us per call (each side quantizes):\n"
               "| type | matrices | n | two launches | one launch | weight GB/s |\n|---|---|---|---|---|---|\n");
        for (auto & l : pair_table) printf("%s\n", l.c_str());
    }
    printf("fails: %d\n", fails);
    return fails ? 1 : 0;
}
