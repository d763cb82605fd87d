// tq_gguf: the 16-row interleaved TQ layout, the interleaved activation panels, and the GEMM/GEMV
// kernels on them (no ggml runtime dependencies: tq-repack.cpp plugs them into ggml-cpu; tests
// build them alone per ISA).
//
// Weights (block_tqx16, 1056 bytes): 16 consecutive weight rows r = 0..15, one 256-column block.
//   d[r]             the row's TQ scale (fp16), as in the file
//   qs[64*p + 4*r + e], bits 2s..2s+1  =  code of row r, column 16*p + 4*s + e
//                    (p = 0..15, s = 0..3, e = 0..3; code = trit + 1 in {0,1,2})
// so one 64-byte load P_p gives, for s = 0..3, the vector V = (P_p >> 2s) & 3 whose 32-bit lane r
// holds row r's codes for 4 consecutive columns 16p+4s .. 16p+4s+3. One u8 x s8 4-way dot
// (vpdpbusd; sdot by lane on NEON) of V with those 4 activation bytes broadcast adds 64 products
// to 16 row sums: the weights are decoded once per tile of columns and every activation load is
// a 4-byte broadcast (a 16-byte load serving s = 0..3 on NEON).
// A tensor's groups are stored one after another, each as its K/256 blocks in column order.
// TQ2_0 keeps its size (16 x 66 bytes = 1056); TQ1_0 (16 x 54 bytes) grows to 2.0625 bits per
// weight, trading 22% more memory for a decode of one or two vector ops per 64 weights.
//
// Activations (panel of nc Q8_K columns, nc = 1 .. tq_gemm_tile_width()): per 256-column block i,
// tq_panel_block_size(nc) = 264*nc bytes:
//   float   d[nc]            column c's Q8_K scale
//   int32_t neg_sum[nc]      minus column c's sum of the block's 256 q8 (minus its Q8_K bsums)
//   int8_t  qs[16][nc][16]   qs[p][c][j] = column c's q8 at 16*p + j
// so the kernel reads the nc columns of one weight vector P_p from one pointer at constant
// offsets (x86: 4-byte broadcasts, NEON: one 16-byte load per column), and starts each block's
// integer sums at neg_sum (the code = trit + 1 offset: one broadcast from memory) instead of
// reducing bsums per tile.
// A matmul's columns are cut into panels of tq_gemm_tile_width() columns, then one panel of the
// rest, each panel a column tile of the GEMM (tq_panels_size / tq_pack_q8K_panels).
//
// Arithmetic: per block and (row, column) the exact integer sum of code*q8, minus the block sum
// of q8, times (d_row * d_col) accumulated in float: upstream's reference arithmetic.
#pragma once

#ifndef GGML_COMMON_DECL_CPP
#    define GGML_COMMON_DECL_CPP
#endif
#include "ggml-common.h"

#include <stddef.h>
#include <stdint.h>

#define TQ_ROWS 16

#if defined(__AVX2__)
#    define TQ_GEMM_X86 1
#elif defined(__ARM_NEON) && defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)
#    define TQ_GEMM_ARM 1
#endif
#if defined(TQ_GEMM_X86) || defined(TQ_GEMM_ARM)
#    define TQ_HAVE_GEMM 1
#endif

struct block_tqx16 {
    ggml_half d[TQ_ROWS];
    uint8_t   qs[TQ_ROWS * QK_K / 4];
};
static_assert(sizeof(block_tqx16) == TQ_ROWS * sizeof(block_tq2_0), "block_tqx16 must match 16 TQ2_0 blocks");

// bytes of one 256-column block of an activation panel of nc columns (layout above)
static inline size_t tq_panel_block_size(int64_t nc) {
    return (size_t) nc * (sizeof(float) + sizeof(int32_t) + QK_K);
}

// nrows x k standard TQ data (type: 34 = GGML_TYPE_TQ1_0, 35 = GGML_TYPE_TQ2_0; nrows % 16 == 0,
// k % 256 == 0) -> nrows/16 groups of k/256 block_tqx16 (tq-repack-layout.cpp, portable C++)
void tq_repack_rows(int type, const void * src, int64_t nrows, int64_t k, void * dst);

// Bytes of the panels of ncols activation columns of nb blocks cut in panels of `width` columns.
size_t tq_panels_size(int64_t nb, int64_t ncols, int64_t width);
// Byte offset of column j's panel, and that panel's width.
size_t tq_panel_offset(int64_t nb, int64_t ncols, int64_t width, int64_t j, int64_t * panel_width);
// Writes one Q8_K row (nb blocks) as column c of the panel of nc columns at panel
// (tq-repack-layout.cpp, portable C++).
// (C linkage: the C quantizer, tq-q8k-x86.c, uses it where it has no vector path.)
extern "C" void tq_pack_q8K_column(const block_q8_K * row, int64_t nb, void * panel, int64_t nc, int64_t c);

#if defined(TQ_HAVE_GEMM)
// One group of 16 rows (nb blocks at w) against ncols activation columns in panels of
// tq_gemm_tile_width() columns (tq_pack_q8K_column): writes 16 floats to each dst[c].
// (tq-gemm-tiles.h, instantiated by tq-gemm-x86.cpp / tq-gemm-arm.cpp)
void tq_gemm_group(int64_t nb, const block_tqx16 * w, const char * panels, int64_t ncols, float ** dst);
int  tq_gemm_tile_width(void);
const char * tq_gemm_variant(void);
#endif
