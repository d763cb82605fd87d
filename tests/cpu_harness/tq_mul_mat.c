// tq_gguf CPU kernel harness: one MUL_MAT (weight TQ1_0/TQ2_0 [k x m], activations F32 [k x n])
// through ggml's CPU backend, computed three ways in one process:
//   upstream:  weight in the plain CPU buffer, TQ_GGUF_CPU_KERNELS=upstream (upstream's vec_dot)
//   vec_dot:   weight in the plain CPU buffer, our vec_dot
//   repack:    weight in the CPU_REPACK extra buffer (our 16-row layout + GEMM/GEMV), if claimed
// and prints, per way, the largest |difference| to a double-precision reference built from
// ggml's own dequantize (to_float) and Q8_K quantizer, relative to sum |w*x| of that output.
//
// usage: tq_mul_mat TYPE(tq1_0|tq2_0) K M N THREADS SEED
// output: one line "upstream=<err> vec_dot=<err> repack=<err>|unclaimed variant=<vec_dot variant>"
#include "ggml.h"
#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tq_gguf_cpu_set_kernels(int ours);          // exported by our libggml-cpu
const char * tq_gguf_cpu_vec_dot_variant(void);

static uint64_t rng_state;
static uint32_t rnd(void) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t) (rng_state >> 33);
}

// random TQ rows: TQ2_0 bytes with codes 0..2 in every 2-bit field, TQ1_0 bytes from the 243
// valid base-3 encodings (qs) and the 81 valid 4-trit encodings (qh); random fp16 scales
static void fill_tq(enum ggml_type type, uint8_t * data, int64_t k, int64_t m) {
    const size_t bsz = ggml_type_size(type);
    const int64_t nblocks = m * (k / 256);
    for (int64_t b = 0; b < nblocks; ++b) {
        uint8_t * blk = data + b*bsz;
        float d = ((int) (rnd() % 2001) - 1000) / 1000.0f;
        ggml_fp16_t h = ggml_fp32_to_fp16(d);
        if (type == GGML_TYPE_TQ2_0) {
            for (int i = 0; i < 64; ++i) {
                blk[i] = (uint8_t) ((rnd()%3) | (rnd()%3) << 2 | (rnd()%3) << 4 | (rnd()%3) << 6);
            }
            memcpy(blk + 64, &h, 2);
        } else {
            for (int i = 0; i < 48; ++i) {
                const int v = (int) (rnd() % 243);
                blk[i] = (uint8_t) ((v*256 + 242) / 243);
            }
            for (int i = 0; i < 4; ++i) {
                const int v = (int) (rnd() % 81) * 3;  // 4 trits, 5th digit 0
                blk[48 + i] = (uint8_t) ((v*256 + 242) / 243);
            }
            memcpy(blk + 52, &h, 2);
        }
    }
}

static void run(ggml_backend_t be, ggml_backend_buffer_type_t wbuft, enum ggml_type type, int64_t k, int64_t m, int64_t n,
                const void * wdata, const float * x, float * out, int * claimed) {
    struct ggml_init_params ip = { 3*ggml_tensor_overhead() + ggml_graph_overhead() + 1024, NULL, true };
    struct ggml_context * ctx = ggml_init(ip);
    struct ggml_tensor * w = ggml_new_tensor_2d(ctx, type, k, m);
    struct ggml_tensor * a = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, k, n);
    struct ggml_tensor * y = ggml_mul_mat(ctx, w, a);
    struct ggml_cgraph * gf = ggml_new_graph(ctx);
    ggml_build_forward_expand(gf, y);

    // weight alone in wbuft, the rest in the CPU buffer
    struct ggml_init_params ipw = { ggml_tensor_overhead(), NULL, true };
    struct ggml_context * ctxw = ggml_init(ipw);
    struct ggml_tensor * w2 = ggml_dup_tensor(ctxw, w);
    ggml_backend_buffer_t bw = ggml_backend_alloc_ctx_tensors_from_buft(ctxw, wbuft);
    ggml_backend_tensor_set(w2, wdata, 0, ggml_nbytes(w2));
    w->buffer = w2->buffer; w->data = w2->data; w->extra = w2->extra;

    ggml_backend_buffer_t ba = ggml_backend_alloc_ctx_tensors(ctx, be);
    ggml_backend_tensor_set(a, x, 0, ggml_nbytes(a));
    if (claimed) {
        *claimed = ggml_backend_dev_supports_op(ggml_backend_get_device(be), y) && w->extra != NULL;
    }
    if (ggml_backend_graph_compute(be, gf) != GGML_STATUS_SUCCESS) {
        fprintf(stderr, "compute failed\n");
        exit(2);
    }
    ggml_backend_tensor_get(y, out, 0, ggml_nbytes(y));
    ggml_backend_buffer_free(ba);
    ggml_backend_buffer_free(bw);
    ggml_free(ctxw);
    ggml_free(ctx);
}

int main(int argc, char ** argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: %s tq1_0|tq2_0 K M N THREADS SEED\n", argv[0]);
        return 2;
    }
    const enum ggml_type type = strcmp(argv[1], "tq1_0") == 0 ? GGML_TYPE_TQ1_0 : GGML_TYPE_TQ2_0;
    const int64_t k = atoll(argv[2]), m = atoll(argv[3]), n = atoll(argv[4]);
    const int nth = atoi(argv[5]);
    rng_state = (uint64_t) atoll(argv[6]) * 2654435761ULL + 1;

    const size_t wbytes = ggml_row_size(type, k) * m;
    uint8_t * wdata = malloc(wbytes);
    fill_tq(type, wdata, k, m);
    float * x = malloc(sizeof(float) * k * n);
    for (int64_t i = 0; i < k*n; ++i) {
        x[i] = ((int) (rnd() % 20001) - 10000) / 10000.0f * (1.0f + (float) (i % 7));
    }

    // reference: w dequantized by ggml (exact trit * fp16 scale), x through ggml's Q8_K
    // quantizer and back (what every kernel multiplies), products summed in double
    float * wf = malloc(sizeof(float) * k * m);
    ggml_get_type_traits(type)->to_float(wdata, wf, k*m);
    const size_t q8row = ggml_row_size(GGML_TYPE_Q8_K, k);
    void * xq = malloc(q8row * n);
    float * xd = malloc(sizeof(float) * k * n);
    for (int64_t j = 0; j < n; ++j) {
        ggml_get_type_traits_cpu(GGML_TYPE_Q8_K)->from_float(x + j*k, (char *) xq + j*q8row, k);
        for (int64_t b = 0; b < k/256; ++b) {  // block_q8_K: float d; int8_t qs[256]; int16_t bsums[16]
            const char * blk = (const char *) xq + j*q8row + b*ggml_type_size(GGML_TYPE_Q8_K);
            float d;
            memcpy(&d, blk, sizeof(float));
            for (int i = 0; i < 256; ++i) xd[j*k + b*256 + i] = d * (float) ((const int8_t *) (blk + 4))[i];
        }
    }
    double * ref = malloc(sizeof(double) * m * n);
    double * mag = malloc(sizeof(double) * m * n);
    for (int64_t j = 0; j < n; ++j) {
        for (int64_t r = 0; r < m; ++r) {
            double s = 0, a = 0;
            for (int64_t i = 0; i < k; ++i) {
                const double p = (double) wf[r*k + i] * xd[j*k + i];
                s += p; a += fabs(p);
            }
            ref[j*m + r] = s; mag[j*m + r] = a;
        }
    }

    ggml_backend_t be = ggml_backend_cpu_init();
    ggml_backend_cpu_set_n_threads(be, nth);
    ggml_backend_dev_t dev = ggml_backend_get_device(be);
    ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(dev);
    ggml_backend_dev_get_extra_bufts_t get_extra =
        (ggml_backend_dev_get_extra_bufts_t) ggml_backend_reg_get_proc_address(reg, "ggml_backend_dev_get_extra_bufts");
    ggml_backend_buffer_type_t repack_buft = NULL;
    for (ggml_backend_buffer_type_t * b = get_extra ? get_extra(dev) : NULL; b && *b; ++b) {
        if (strcmp(ggml_backend_buft_name(*b), "CPU_REPACK") == 0) repack_buft = *b;
    }

    float * out = malloc(sizeof(float) * m * n);
    double err[3] = {0, 0, 0};
    int claimed = 0;
    for (int way = 0; way < 3; ++way) {
        tq_gguf_cpu_set_kernels(way != 0);
        if (way == 2) {
            if (!repack_buft) break;
            run(be, repack_buft, type, k, m, n, wdata, x, out, &claimed);
            if (!claimed) break;
        } else {
            run(be, ggml_backend_cpu_buffer_type(), type, k, m, n, wdata, x, out, NULL);
        }
        for (int64_t i = 0; i < m*n; ++i) {
            double e = fabs(out[i] - ref[i]) / (mag[i] + 1e-30);
            if (isnan(e)) e = INFINITY;
            if (e > err[way]) err[way] = e;
        }
    }
    tq_gguf_cpu_set_kernels(1);
    if (claimed) {
        printf("upstream=%.3g vec_dot=%.3g repack=%.3g variant=%s\n", err[0], err[1], err[2], tq_gguf_cpu_vec_dot_variant());
    } else {
        printf("upstream=%.3g vec_dot=%.3g repack=unclaimed variant=%s\n", err[0], err[1], tq_gguf_cpu_vec_dot_variant());
    }
    ggml_backend_free(be);
    return 0;
}
