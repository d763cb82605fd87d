// Run-time A/B switch between tq_gguf's CPU kernels and upstream ggml's, in the same build.
//
//   TQ_GGUF_CPU_KERNELS=upstream   upstream's ggml_vec_dot_tq{1,2}_0_q8_K for every TQ row dot,
//                                  and no repacking of TQ1_0/TQ2_0 weights (tq-repack.cpp asks
//                                  tq_gguf_cpu_repack_enabled() before claiming a tensor)
//   TQ_GGUF_CPU_KERNELS=norepack   our vec_dot, no repacking (isolates the two parts)
//   unset, or any other value      tq_gguf's kernels: vec_dot and repacked GEMM/GEMV (default)
//
// The variable is read once, on first use (model load or first matmul); tests may flip the switch
// with tq_gguf_cpu_set_kernels(). type_traits_cpu[] (ggml-cpu.c, 10-cpu-tq-vec-dot.patch) points
// at tq_gguf_vec_dot_*, which forward through one predictable branch per row.
#include "tq-kernels.h"

#include <stdlib.h>
#include <string.h>

// upstream's row kernels (arch/<arch>/quants.c, or the generic ones through arch-fallback.h)
void ggml_vec_dot_tq1_0_q8_K(int n, float * s, size_t bs, const void * vx, size_t bx, const void * vy, size_t by, int nrc);
void ggml_vec_dot_tq2_0_q8_K(int n, float * s, size_t bs, const void * vx, size_t bx, const void * vy, size_t by, int nrc);

// 0: upstream, 1: ours (vec_dot + repack), 2: our vec_dot only; -1: environment not read yet
static volatile int tq_kernels_state = -1;

static int tq_kernels_mode(void) {
    int st = tq_kernels_state;
    if (st < 0) {
        const char * e = getenv("TQ_GGUF_CPU_KERNELS");
        st = e == NULL                     ? 1
           : strcmp(e, "upstream") == 0 ? 0
           : strcmp(e, "norepack") == 0 ? 2 : 1;
        tq_kernels_state = st; // benign race: every thread computes the same value
    }
    return st;
}

int tq_gguf_cpu_kernels_enabled(void) {
    return tq_kernels_mode() != 0;
}

int tq_gguf_cpu_repack_enabled(void) {
    return tq_kernels_mode() == 1;
}

void tq_gguf_cpu_set_kernels(int mode) {
    tq_kernels_state = mode == 0 ? 0 : mode == 2 ? 2 : 1;
}

#if !defined(TQ_VEC_DOT_X86) && !defined(TQ_VEC_DOT_ARM)
// No SIMD variant of ours for this ISA: ours is upstream's.
void tq_vec_dot_tq1_0_q8_K(int n, float * s, size_t bs, const void * vx, size_t bx, const void * vy, size_t by, int nrc) {
    ggml_vec_dot_tq1_0_q8_K(n, s, bs, vx, bx, vy, by, nrc);
}
void tq_vec_dot_tq2_0_q8_K(int n, float * s, size_t bs, const void * vx, size_t bx, const void * vy, size_t by, int nrc) {
    ggml_vec_dot_tq2_0_q8_K(n, s, bs, vx, bx, vy, by, nrc);
}
const char * tq_gguf_cpu_vec_dot_variant(void) {
    return "upstream";
}
#endif

void tq_gguf_vec_dot_tq1_0_q8_K(int n, float * s, size_t bs, const void * vx, size_t bx, const void * vy, size_t by, int nrc) {
    if (__builtin_expect(tq_gguf_cpu_kernels_enabled(), 1)) {
        tq_vec_dot_tq1_0_q8_K(n, s, bs, vx, bx, vy, by, nrc);
    } else {
        ggml_vec_dot_tq1_0_q8_K(n, s, bs, vx, bx, vy, by, nrc);
    }
}

void tq_gguf_vec_dot_tq2_0_q8_K(int n, float * s, size_t bs, const void * vx, size_t bx, const void * vy, size_t by, int nrc) {
    if (__builtin_expect(tq_gguf_cpu_kernels_enabled(), 1)) {
        tq_vec_dot_tq2_0_q8_K(n, s, bs, vx, bx, vy, by, nrc);
    } else {
        ggml_vec_dot_tq2_0_q8_K(n, s, bs, vx, bx, vy, by, nrc);
    }
}
