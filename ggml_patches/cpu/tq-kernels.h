// tq_gguf CPU kernels for TQ1_0 / TQ2_0 against Q8_K activations.
//
// One concern per file:
//   tq-vec-dot-x86.c  row dot products (token generation), AVX2 / AVX-512 (with and without VNNI)
//   tq-vec-dot-arm.c  row dot products, NEON (with and without the dot-product extension)
//   tq-dispatch.c     run-time A/B switch (TQ_GGUF_CPU_KERNELS) and the type-table entry points
//   tq-repack.cpp     16-row interleaved layout, installed by ggml-cpu's repack extra buffer,
//                     with GEMM/GEMV kernels (prompt processing and batch-1 on repacked weights)
//
// Arithmetic contract (same as upstream's generic reference): for every 256-element block,
// an exact integer sum  sumi = sum_k trit_k * q8_k  (trit in {-1,0,+1}), then
// sumf += (float) sumi * (d_x * d_y). We compute sum_k code_k * q8_k with code = trit + 1 in
// {0,1,2} (unsigned, as u8*s8 instructions want) and subtract sum_k q8_k, which Q8_K already
// stores as 16 partial sums (bsums). Integer parts are exact; only float accumulation order
// may differ from the reference.
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TQ_API __attribute__((visibility("default")))

// Which vec_dot file provides tq_vec_dot_*: decided by the build's ISA flags, the way ggml-cpu
// picks arch/<arch>/quants.c code (GGML_NATIVE, or one library per variant with
// GGML_CPU_ALL_VARIANTS, scored against the running machine at load time).
#if defined(__AVX2__)
#    define TQ_VEC_DOT_X86 1
#elif defined(__ARM_NEON) && defined(__aarch64__)
#    define TQ_VEC_DOT_ARM 1
#endif

// Our row dot products, ggml_vec_dot_t signature (nrc == 1).
void tq_vec_dot_tq1_0_q8_K(int n, float * s, size_t bs, const void * vx, size_t bx, const void * vy, size_t by, int nrc);
void tq_vec_dot_tq2_0_q8_K(int n, float * s, size_t bs, const void * vx, size_t bx, const void * vy, size_t by, int nrc);

// Entry points installed in ggml-cpu's type_traits_cpu by 10-cpu-tq-vec-dot.patch: they call ours, or
// upstream's ggml_vec_dot_tq{1,2}_0_q8_K when TQ_GGUF_CPU_KERNELS=upstream.
TQ_API void tq_gguf_vec_dot_tq1_0_q8_K(int n, float * s, size_t bs, const void * vx, size_t bx, const void * vy, size_t by, int nrc);
TQ_API void tq_gguf_vec_dot_tq2_0_q8_K(int n, float * s, size_t bs, const void * vx, size_t bx, const void * vy, size_t by, int nrc);

// Our vec_dot active: 1 (default), 0 when TQ_GGUF_CPU_KERNELS=upstream.
// Our repacking active: 1 (default), 0 when TQ_GGUF_CPU_KERNELS=upstream or =norepack.
// Read once from the environment; tq_gguf_cpu_set_kernels(mode) overrides it (tests):
// mode 0 = upstream, 1 = ours, 2 = our vec_dot without repacking.
TQ_API int  tq_gguf_cpu_kernels_enabled(void);
TQ_API int  tq_gguf_cpu_repack_enabled(void);
TQ_API void tq_gguf_cpu_set_kernels(int mode);

// float rows -> Q8_K, byte-identical to upstream's quantize_row_q8_K (tq-q8k-x86.c; AVX-512 where
// available, otherwise upstream's own function)
void tq_quantize_row_q8_K(const float * x, void * y, int64_t k);
TQ_API void tq_gguf_test_quantize_q8_K(const float * x, void * y, int64_t k);

// float row (k values) -> column c of an activation panel of nc columns (tq-gemm.h), the same
// bytes as tq_quantize_row_q8_K then tq_pack_q8K_column (tq-q8k-x86.c)
void tq_quantize_q8K_panel_column(const float * x, int64_t k, void * panel, int64_t nc, int64_t c);
TQ_API void tq_gguf_test_quantize_q8K_panel_column(const float * x, int64_t k, void * panel, int64_t nc, int64_t c);
TQ_API void tq_gguf_test_pack_q8K_column(const void * row, int64_t nb, void * panel, int64_t nc, int64_t c);

// Name of the vec_dot variant compiled into this build ("avx512vnni", "avx2", "neon-dotprod", ...).
TQ_API const char * tq_gguf_cpu_vec_dot_variant(void);

#ifdef __cplusplus
}
#endif
