// tq_gguf: standalone harness for cuda/tq-mmb-kernel.cuh (TQ2_0 / TQ1_0 times 9..512 columns).
//
//   nvcc -arch=sm_90 -O3 -std=c++17 -Icuda -Ibench bench/cuda_mmb_harness.cu -o /tmp/tq_mmb_harness && /tmp/tq_mmb_harness
//
// Random GGUF-layout rows and N(0, 1) activations; checks every launch shape against a float64 CPU
// reference from the block definitions (bench/tq_harness_common.h) on a subset of rows and all columns
// (relative RMS error ~1e-3 from the int8 activations; a layout bug gives O(1)), then times them with
// CUDA events on rotating weight copies (> 200 MB: not served by L2). The mat-vec (cuda/tq-mmv-kernel.cuh)
// at 8 columns is timed beside them as the same-run reference: n/8 such calls are what a batch would
// cost without this kernel.
#define TQ_MMB_VARIANTS
#include "tq-mmb-kernel.cuh"
#include "tq_harness_common.h"

#include <algorithm>
#include <cmath>
#include <string>

using tq_mmv::TQ2;
using tq_mmv::TQ1;

static bool run_mmb(int type, const char * x, const float * y, int * yq, float2 * ym, float * dst, int nb, int64_t rb,
                    int nrows, int ncols, cudaStream_t st, int variant, bool quantize) {
    tq_mmb::mmb_args a = {x, rb, nrows, nb, y, nb*256, ncols, yq, ym, dst, nrows, st};
    a.variant  = variant;
    a.quantize = quantize;
    return type == TQ2 ? tq_mmb::mul_mat<TQ2>(a) : tq_mmb::mul_mat<TQ1>(a);
}

int main(int argc, char ** argv) {
    // usage: harness [reps [M K [TYPE [NMIN NMAX]]]] (M or K = 0: any; TYPE 2 = TQ2_0, 1 = TQ1_0, 0 = both)
    const int reps = argc > 1 ? atoi(argv[1]) : 20;
    const int only_m = argc > 3 ? atoi(argv[2]) : 0, only_k = argc > 3 ? atoi(argv[3]) : 0;
    const int only_type = argc > 4 && atoi(argv[4]) != 0 ? (atoi(argv[4]) == 1 ? TQ1 : TQ2) : -1;
    const int nmin = argc > 6 ? atoi(argv[5]) : 0, nmax = argc > 6 ? atoi(argv[6]) : 1 << 30;
    cudaDeviceProp prop; CK(cudaGetDeviceProperties(&prop, 0));
    printf("device: %s, %d SMs, L2 %d MB\n", prop.name, prop.multiProcessorCount, prop.l2CacheSize >> 20);
    std::mt19937 rng(4321);
    cudaStream_t st; CK(cudaStreamCreate(&st));
    cudaEvent_t e0, e1; CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));

    const harness_shape shapes[] = {
        {67, 2048, false}, {200, 4096, false}, {300, 16384, false}, // odd row counts, 1..8 chunks
        {67, 1024, false}, {200, 3072, false}, {100, 9216, false},  // cp.async weights: 1, 3, 9 stages of 4
        {3072, 3072, true}, {8192, 3072, true},                     // 3B (cp.async weights)
        {3072, 8192, true}, {4096, 4096, true}, {14336, 4096, true}, {4096, 14336, true}, // 3B / 8B
        {28672, 8192, true}, {8192, 28672, true},                                         // 70B
    };
    const int cols[] = {9, 16, 24, 32, 48, 64, 65, 128, 256, 512};
    const int variants[] = {0, 1, 2, 3, 4, 5, 6, 7};
    constexpr int MAXN = 512;
    std::vector<std::string> table;
    int fails = 0;
    int nref = 0; // reference columns: the widest batch run
    for (int n : cols) if (n >= nmin && n <= nmax) nref = std::max(nref, n);

    for_each_case(rng, shapes, only_type, only_m, only_k, [&](const harness_case & hc) {
        const int type = hc.type, nb = hc.nb;
        const harness_shape & sh = hc.sh;
        const int64_t rb = hc.rb;
        const size_t wbytes = hc.w.bytes;
        const int ncopy = hc.w.ncopy;
        char * dw = hc.w.dev;
        const harness_io io(rng, hc, MAXN);
        const std::vector<float> & hy = io.hy;
        float * dy = io.dy, * dd = io.dd;
        int * yq = io.yq;
        float2 * ym = io.ym;
        // mat-vec reference timing buffers (8 columns)
        int * yq8; CK(cudaMalloc(&yq8, (size_t) sh.k*8));
        float2 * ym8; CK(cudaMalloc(&ym8, (size_t) nb*8*sizeof(float2)));

        std::vector<int> rows;
        for (int r = 0; r < sh.m; r += (sh.m > 1000 ? 97 : 1)) rows.push_back(r);
        rows.push_back(sh.m - 1);
        const std::vector<double> ref = reference_products(hc, rows, hy, nref, MAXN);
        auto check = [&](const int n, const int v) {
            CK(cudaMemset(dd, 0xFF, (size_t) sh.m*MAXN*4));
            if (!run_mmb(type, dw, dy, yq, ym, dd, nb, rb, sh.m, n, st, v, true)) return -1.0;
            CK(cudaGetLastError()); CK(cudaStreamSynchronize(st));
            return rel_rms_error(dd, sh.m, n, rows, ref, MAXN);
        };
        double mv8 = -1;
        if (sh.time) {
            mv8 = time_us(st, e0, e1, reps, [&](int i) {
                tq_mmv::mv_options opt;
                if (type == TQ2) tq_mmv::mul_mat_vec<TQ2>(dw + (i % ncopy)*wbytes, dy, yq8, ym8, dd, nb, rb, sh.m, 8, sh.k, sh.m, st, opt);
                else             tq_mmv::mul_mat_vec<TQ1>(dw + (i % ncopy)*wbytes, dy, yq8, ym8, dd, nb, rb, sh.m, 8, sh.k, sh.m, st, opt);
            });
        }
        for (int n : cols) {
            if (n < nmin || n > nmax) continue;
            char buf[256];
            snprintf(buf, sizeof buf, "| %s | %5d x %5d | %2d | %7.2f |", type == TQ2 ? "TQ2_0" : "TQ1_0", sh.m, sh.k, n, mv8*((n + 7)/8));
            std::string line = buf;
            double rel0 = 0;
            for (int v : variants) {
                const double r = check(n, v);
                if (r < 0) { printf("variant %d: no bulk copies on this device\n", v); fails++; continue; }
                const bool ok = r < 2e-2;
                if (!ok || (!sh.time && v == 0)) printf("check %s %dx%d n=%d variant %d: rel rms err %.2e %s\n", type == TQ2 ? "TQ2_0" : "TQ1_0", sh.m, sh.k, n, v, r, ok ? "ok" : "FAIL");
                fails += !ok;
                if (v == 0) rel0 = r;
                if (!sh.time) continue;
                if (v == 0) {
                    const double us = time_us(st, e0, e1, reps, [&](int i) { run_mmb(type, dw + (i % ncopy)*wbytes, dy, yq, ym, dd, nb, rb, sh.m, n, st, 0, true); });
                    snprintf(buf, sizeof buf, " %7.2f |", us); line += buf;
                }
                const double us = time_us(st, e0, e1, reps, [&](int i) { run_mmb(type, dw + (i % ncopy)*wbytes, dy, yq, ym, dd, nb, rb, sh.m, n, st, v, false); });
                snprintf(buf, sizeof buf, " %7.2f |", us); line += buf;
            }
            snprintf(buf, sizeof buf, " %.1e |", rel0);
            if (sh.time) table.push_back(line + buf);
        }
        CK(cudaFree(yq8)); CK(cudaFree(ym8));
    });
    printf("\nus per call; mv8 x ceil(n/8): the mat-vec at 8 columns times the calls n columns would need\n"
           "| type | m x k | n | mv8 x ceil(n/8) | quant+mmb | mmb only | v1 | v2 | v3 | v4 | v5 | v6 | v7 | rel err |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (auto & l : table) printf("%s\n", l.c_str());
    printf("fails: %d\n", fails);
    return fails ? 1 : 0;
}
