// tq_gguf: an 8B-class decoder layer's mat-vecs in sequence, as a decoded token runs them (attention left
// out), against a read-only stream of the same bytes.
//
//   nvcc -arch=sm_90 -O3 -std=c++17 -Icuda -Ibench bench/cuda_layer_harness.cu -o /tmp/tq_layer_harness
//   /tmp/tq_layer_harness [passes]
//
// Per layer (Llama 3 8B shapes, K = 4096, FFN 14336): RMS-norm quantizer + Q/K/V (one launch), quantizer +
// O with the residual ADD, RMS-norm quantizer + gate/up pair + SwiGLU, quantizer + down with the residual
// ADD: 8 kernels, all with programmatic dependent launch as in the model. 32 layers of their own weights
// (1.8 GB of TQ2_0: L2 serves none of it). Printed per layer, in us:
//   * the sequence with the default launch shapes;
//   * the sequence without the quantizers (the mat-vecs read stale activations): what they cost;
//   * the sequence with and without the launch rules measured here (layer_rules_s12), and with
//     TQ_LAYER_SWEEP set, with each step's launch shape replaced by every variant (those a shape cannot
//     take fall back to the default), the default between them;
//   * the ceiling: a read-only kernel streaming the layer's weights with the same kernel boundaries (4
//     kernels per layer) and in one kernel per layer;
//   * each step alone (back to back over the 32 layers, its quantizer included), and taken apart: without
//     its quantizer, with L2-resident weights (layer 0's every time), without the residual ADD (O, down),
//     and a read-only stream of its bytes.
// Correctness of every launch is bench/cuda_mmv_harness.cu's job; this checks the fused RMS norm (against the
// same launch on rms_norm(x)*w computed on the host) and that the sequence's output is finite.
#define TQ_MMV_VARIANTS
#include "tq-mmv-kernel.cuh"
#include "tq_harness_common.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

using namespace tq_mmv;

constexpr int K = 4096, KV = 1024, FF = 14336, NLAYER = 32;

// Random ternary blocks filled on the device (a host generator would take minutes for 1.8 GB): bytes
// 0..242 (valid base-3 TQ1_0 bytes, any byte is valid TQ2_0), scale 0x2000 (fp16 2^-7).
__global__ void fill_blocks(uint8_t * p, const int64_t n, const int bs, const uint32_t seed) {
    for (int64_t i = blockIdx.x*(int64_t) blockDim.x + threadIdx.x; i < n; i += (int64_t) gridDim.x*blockDim.x) {
        const int o = (int) (i % bs);
        uint32_t h = (uint32_t) i*2654435761u ^ seed;
        h ^= h >> 15; h *= 2246822519u; h ^= h >> 13;
        p[i] = o == bs - 2 ? 0x00 : o == bs - 1 ? 0x20 : (uint8_t) (h % 243);
    }
}

// The read ceiling: every thread streams 16-byte loads, 4 in flight, and folds them into one word that is
// stored only if it equals a value it never takes (so the loads stay). PDL as the mat-vec: dependents may
// launch at once; the store waits for the preceding kernel.
__global__ void __launch_bounds__(256) stream_read(const int4 * p, const int64_t n, int * out) {
    pdl_launch_dependents();
    const int64_t stride = (int64_t) gridDim.x*blockDim.x;
    int64_t i = blockIdx.x*(int64_t) blockDim.x + threadIdx.x;
    int acc = 0;
    for (; i + 3*stride < n; i += 4*stride) {
        const int4 a = __ldcs(p + i), b = __ldcs(p + i + stride), c = __ldcs(p + i + 2*stride), d = __ldcs(p + i + 3*stride);
        acc ^= a.x ^ a.y ^ a.z ^ a.w ^ b.x ^ b.y ^ b.z ^ b.w ^ c.x ^ c.y ^ c.z ^ c.w ^ d.x ^ d.y ^ d.z ^ d.w;
    }
    for (; i < n; i += stride) {
        const int4 a = __ldcs(p + i);
        acc ^= a.x ^ a.y ^ a.z ^ a.w;
    }
    pdl_wait();
    if (acc == 0x7fffffff) {
        out[0] = acc;
    }
}

struct layer_weights {
    char * base; // q | k | v | o | gate | up | down, contiguous (the read ceiling streams ranges of it)
    char * q, * k, * v, * o, * gate, * up, * down;
};

int main(int argc, char ** argv) {
    const int passes = argc > 1 ? atoi(argv[1]) : 5;
    cudaDeviceProp prop; CK(cudaGetDeviceProperties(&prop, 0));
    printf("device: %s, %d SMs, L2 %d MB\n", prop.name, prop.multiProcessorCount, prop.l2CacheSize >> 20);
    cudaStream_t st; CK(cudaStreamCreate(&st));
    cudaEvent_t e0, e1; CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));

    int read_occ = 0;
    CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&read_occ, stream_read, 256, 0));
    const int read_grid = read_occ*prop.multiProcessorCount;
    int * dsink; CK(cudaMalloc(&dsink, 4));
    auto read = [&](const char * p, const size_t bytes) {
        launch(stream_read, dim3(read_grid), dim3(256), 0, st, true, (const int4 *) p, (int64_t) (bytes/16), dsink);
    };

    std::vector<std::string> table, step_table;
    int fails = 0;
    for (const int type : {TQ2, TQ1}) {
        const int bs = type == TQ2 ? 66 : 54;
        const int64_t rb = (int64_t) K/256*bs, rb_down = (int64_t) FF/256*bs;
        const size_t sq = (size_t) K*rb, skv = (size_t) KV*rb, so = sq, sff = (size_t) FF*rb, sdown = (size_t) K*rb_down;
        const size_t layer_bytes = sq + 2*skv + so + 2*sff + sdown;
        std::vector<layer_weights> L(NLAYER);
        for (int l = 0; l < NLAYER; ++l) {
            layer_weights & w = L[l];
            CK(cudaMalloc(&w.base, layer_bytes));
            fill_blocks<<<1024, 256, 0, st>>>((uint8_t *) w.base, (int64_t) layer_bytes, bs, 0x9E3779B9u*(l + 1) + type);
            w.q = w.base; w.k = w.q + sq; w.v = w.k + skv; w.o = w.v + skv; w.gate = w.o + so; w.up = w.gate + sff;
            w.down = w.up + sff;
        }
        CK(cudaGetLastError());
        std::mt19937 rng(7);
        float * norm_attn = device_normal(rng, K), * norm_ffn = device_normal(rng, K);
        float *x, *dq, *dk, *dv, *h; int * yq; float2 * ym;
        CK(cudaMalloc(&dq, (size_t) K*8*4)); CK(cudaMalloc(&dk, (size_t) KV*8*4)); CK(cudaMalloc(&dv, (size_t) KV*8*4));
        CK(cudaMalloc(&h, (size_t) FF*8*4)); CK(cudaMalloc(&yq, (size_t) FF*8)); CK(cudaMalloc(&ym, (size_t) FF/256*8*sizeof(float2)));

        for (const int n : {1, 4}) {
            std::vector<float> hx;
            x = device_normal(rng, (size_t) K*n, &hx); // the residual stream
            int variant[4] = {0, 0, 0, 0}; // launch shape per step (mv_options::variant)
            bool skip_quantizers = false;  // the mat-vecs alone (stale activations): what the quantizers cost
            bool residual_add = true;      // O and down add the residual stream in their epilogue
            auto run = [&](const int stepi, const mv_segments & segs, const float * y, const int nb, const int64_t row_bytes,
                           mv_options opt) {
                opt.variant  = variant[stepi];
                opt.quantize = !skip_quantizers;
                if (type == TQ2) mul_mat_vec_segments<TQ2>(segs, y, yq, ym, nb, row_bytes, n, nb*256, st, opt);
                else             mul_mat_vec_segments<TQ1>(segs, y, yq, ym, nb, row_bytes, n, nb*256, st, opt);
            };
            mv_options norm_opt;
            norm_opt.norm_w = norm_attn; norm_opt.norm_eps = 1e-5f;
            mv_options ffn_opt;
            ffn_opt.norm_w = norm_ffn; ffn_opt.norm_eps = 1e-5f; ffn_opt.glu = GLU_SWIGLU;
            auto qkv = [&](const layer_weights & w) {
                mv_segments s = {};
                add_segment(s, w.q, dq, K, K); add_segment(s, w.k, dk, KV, KV); add_segment(s, w.v, dv, KV, KV);
                run(0, s, x, K/256, rb, norm_opt);
            };
            auto out_proj = [&](const layer_weights & w) { // dq stands in for the attention output
                mv_segments s = {};
                add_segment(s, w.o, x, K, K, residual_add ? x : nullptr, K);
                run(1, s, dq, K/256, rb, {});
            };
            auto gate_up = [&](const layer_weights & w) {
                mv_segments s = {};
                add_segment(s, w.gate, h, FF, FF);
                mv_options o = ffn_opt;
                o.x_up = w.up;
                run(2, s, x, K/256, rb, o);
            };
            auto down = [&](const layer_weights & w) {
                mv_segments s = {};
                add_segment(s, w.down, x, K, K, residual_add ? x : nullptr, K);
                run(3, s, h, FF/256, rb_down, {});
            };
            auto layer = [&](const int i) {
                const layer_weights & w = L[i % NLAYER];
                qkv(w); out_proj(w); gate_up(w); down(w);
            };
            const char * tname = type == TQ2 ? "TQ2_0" : "TQ1_0";
            char buf[256];
            // The fused RMS norm (Q/K/V: plain segments; gate/up: the pair) against the same launch on
            // rms_norm(x)*w computed here: both quantize the same values up to rounding, so the outputs
            // agree to ~1e-5 of their RMS; a wrong scale or a column mix-up gives O(1).
            {
                std::vector<float> hw(K), hxn(hx.size());
                CK(cudaMemcpy(hw.data(), norm_attn, K*4, cudaMemcpyDeviceToHost));
                for (int c = 0; c < n; ++c) {
                    double ss = 0;
                    for (int k = 0; k < K; ++k) ss += (double) hx[c*K + k]*hx[c*K + k];
                    const float sc = (float) (1.0/sqrt(ss/K + 1e-5));
                    for (int k = 0; k < K; ++k) hxn[c*K + k] = hx[c*K + k]*sc*hw[k];
                }
                float * dxn; CK(cudaMalloc(&dxn, hxn.size()*4));
                CK(cudaMemcpy(dxn, hxn.data(), hxn.size()*4, cudaMemcpyHostToDevice));
                CK(cudaMemcpy(x, hx.data(), hx.size()*4, cudaMemcpyHostToDevice));
                float * ref; CK(cudaMalloc(&ref, (size_t) FF*8*4));
                auto compare = [&](const char * what, const float * a, const float * b, const int m) {
                    std::vector<float> ha((size_t) m*n), hb((size_t) m*n);
                    CK(cudaMemcpy(ha.data(), a, ha.size()*4, cudaMemcpyDeviceToHost));
                    CK(cudaMemcpy(hb.data(), b, hb.size()*4, cudaMemcpyDeviceToHost));
                    double se = 0, sr = 0;
                    for (size_t i = 0; i < ha.size(); ++i) { se += (ha[i] - hb[i])*(ha[i] - hb[i]); sr += (double) hb[i]*hb[i]; }
                    const double rel = sqrt(se/(sr > 0 ? sr : 1));
                    const bool ok = std::isfinite(rel) && rel < 1e-3;
                    printf("check %s n=%d %s: fused RMS norm vs normalized input: rel rms err %.2e %s\n", tname, n, what, rel, ok ? "ok" : "FAIL");
                    fails += !ok;
                };
                for (const int pair : {0, 1}) {
                    mv_segments sf = {}, sr = {};
                    add_segment(sf, L[0].gate, h, FF, FF);
                    add_segment(sr, L[0].gate, ref, FF, FF);
                    mv_options of = pair ? ffn_opt : norm_opt, orf;
                    of.norm_w = norm_attn;
                    if (pair) { of.x_up = orf.x_up = L[0].up; orf.glu = GLU_SWIGLU; }
                    run(0, sf, x, K/256, rb, of);
                    run(0, sr, dxn, K/256, rb, orf);
                    CK(cudaStreamSynchronize(st)); CK(cudaGetLastError());
                    compare(pair ? "gate/up pair 14336 x 4096" : "14336 x 4096", h, ref, FF);
                }
                CK(cudaFree(dxn)); CK(cudaFree(ref));
            }
            // weights: the step's matrices, contiguous from there (the read ceiling of the step alone)
            struct step { const char * name; std::function<void(const layer_weights &)> fn; size_t bytes;
                          char * layer_weights::*weights; bool adds; };
            const step steps[] = {{"Q/K/V (norm)", qkv, sq + 2*skv, &layer_weights::q, false},
                                  {"O + add", out_proj, so, &layer_weights::o, true},
                                  {"gate/up + SwiGLU (norm)", gate_up, 2*sff, &layer_weights::gate, false},
                                  {"down + add", down, sdown, &layer_weights::down, true}};
            auto sequence = [&](const char * what) {
                CK(cudaMemcpy(x, hx.data(), hx.size()*4, cudaMemcpyHostToDevice));
                const double us = time_us(st, e0, e1, passes*NLAYER, layer);
                std::vector<float> out((size_t) K*n);
                CK(cudaMemcpy(out.data(), x, out.size()*4, cudaMemcpyDeviceToHost));
                size_t bad = 0;
                for (float f : out) bad += !std::isfinite(f);
                snprintf(buf, sizeof buf, "| %s | %d | %s | %.2f | %.0f |%s", tname, n, what, us, layer_bytes/(us*1e-6)/1e9,
                         bad ? " NOT FINITE" : "");
                table.push_back(buf);
            };
            sequence("sequence, default launches");
            // Where a step's time goes, each alone over the 32 layers: without its quantizer (stale activations),
            // with layer 0's weights every time (from L2: 4-30 MB of the 50), without the residual ADD, and a
            // read-only stream of its bytes (same PDL chaining, one kernel per step).
            for (const step & s : steps) {
                auto alone = [&](const bool one_layer) {
                    return time_us(st, e0, e1, passes*NLAYER, [&](int i) { s.fn(L[one_layer ? 0 : i % NLAYER]); });
                };
                const double us_all = alone(false);
                skip_quantizers = true;
                const double us_noq = alone(false);
                skip_quantizers = false;
                const double us_l2 = alone(true);
                residual_add = false;
                const double us_noadd = s.adds ? alone(false) : 0.0;
                residual_add = true;
                const double us_read = time_us(st, e0, e1, passes*NLAYER, [&](int i) { read(L[i % NLAYER].*s.weights, s.bytes); });
                char noadd[32] = "-";
                if (s.adds) snprintf(noadd, sizeof noadd, "%.2f", us_noadd);
                snprintf(buf, sizeof buf, "| %s | %d | %s | %.2f | %.2f | %.2f | %s | %.2f |", tname, n, s.name, us_all, us_noq,
                         us_l2, noadd, us_read);
                step_table.push_back(buf);
            }
            skip_quantizers = true;
            sequence("sequence, default launches, no quantizers");
            skip_quantizers = false;
            for (const int round : {0, 1}) { // A/B/A/B
                for (const int rules : {0, 1}) {
                    mmv_layer_rules_s12 = rules;
                    char what[128];
                    snprintf(what, sizeof what, "sequence, round %d, layer rules (session 12) %s", round, rules ? "on" : "off");
                    sequence(what);
                }
            }
            mmv_layer_rules_s12 = -1;
            for (int si = 0; si < 4 && getenv("TQ_LAYER_SWEEP") != nullptr; ++si) {
                for (int v = 1; v <= 12; ++v) {
                    variant[si] = v;
                    char what[128];
                    snprintf(what, sizeof what, "sequence, %s as variant %d", steps[si].name, v);
                    sequence(what);
                }
                variant[si] = 0;
                sequence("sequence, default launches");
            }
            CK(cudaFree(x));
        }
        const double us4 = time_us(st, e0, e1, passes*NLAYER, [&](int i) {
            const layer_weights & w = L[i % NLAYER];
            read(w.q, sq + 2*skv); read(w.o, so); read(w.gate, 2*sff); read(w.down, sdown);
        });
        const double us1 = time_us(st, e0, e1, passes*NLAYER, [&](int i) { read(L[i % NLAYER].base, layer_bytes); });
        char buf[256];
        snprintf(buf, sizeof buf, "| %s | - | read ceiling, 4 kernels per layer | %.2f | %.0f |", type == TQ2 ? "TQ2_0" : "TQ1_0", us4, layer_bytes/(us4*1e-6)/1e9);
        table.push_back(buf);
        snprintf(buf, sizeof buf, "| %s | - | read ceiling, 1 kernel per layer | %.2f | %.0f |", type == TQ2 ? "TQ2_0" : "TQ1_0", us1, layer_bytes/(us1*1e-6)/1e9);
        table.push_back(buf);
        for (layer_weights & w : L) CK(cudaFree(w.base));
        CK(cudaFree(norm_attn)); CK(cudaFree(norm_ffn)); CK(cudaFree(dq)); CK(cudaFree(dk)); CK(cudaFree(dv));
        CK(cudaFree(h)); CK(cudaFree(yq)); CK(cudaFree(ym));
    }
    printf("\n8B-class layer (32 layers of their own weights), us per layer:\n"
           "| type | n | what | us | weight GB/s |\n|---|---|---|---|---|\n");
    for (auto & l : table) printf("%s\n", l.c_str());
    printf("\nEach step alone over the 32 layers, us per step: as in the sequence, without its quantizer (stale\n"
           "activations), with layer 0's weights every time (L2-resident), without the residual ADD, and a read-only\n"
           "stream of its weight bytes:\n"
           "| type | n | step | alone | no quantizer | weights from L2 | no residual add | read alone |\n|---|---|---|---|---|---|---|---|\n");
    for (auto & l : step_table) printf("%s\n", l.c_str());
    printf("fails: %d\n", fails);
    return fails ? 1 : 0;
}
