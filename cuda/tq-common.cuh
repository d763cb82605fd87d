#pragma once
// tq_gguf: ternary types (TQ1_0, TQ2_0) for ggml-cuda -- shared definitions.
//
// Included at the end of ggml-cuda's common.cuh (patch 20-cuda-*), so everything here sees the
// block structs of ggml-common.h and the ggml_cuda_type_traits primary template.
//
// Layouts (standard GGUF, unchanged on the GPU):
//
//   block_tq2_0 (66 bytes / 256 weights): uint8 qs[64]; half d.
//     weight n sits in byte 32*(n/128) + n%32 at bit shift 2*((n%128)/32); a 2-bit code c in {0,1,2}
//     stands for the trit c-1. So one 32-bit word w (bytes 4w..4w+3, w in 0..15) shifted by 2*s
//     holds the 4 consecutive weights 128*(w/8) + 32*s + 4*(w%8) + {0,1,2,3}: one int8x4 lane group
//     of q8_1 block 4*(w/8) + s. Decoding a word for one shift is (q >> 2s) & 0x03030303.
//
//   block_tq1_0 (54 bytes / 256 weights): uint8 qs[48]; uint8 qh[4]; half d.
//     each byte holds 5 (qs) or 4 (qh) base-3 digits as a fixed-point fraction: byte b encodes
//     digits t0..t4 with b = ceil(256 * (t0/3 + t1/9 + ...)), so digit k is
//     ((b * 3^k) mod 256) * 3 >> 8. Weight n is:
//       n <  160: qs[n%32],            digit n/32
//       n <  240: qs[32 + (n-160)%16], digit (n-160)/16
//       n >= 240: qh[(n-240)%4],       digit (n-240)/4
//     Both block sizes are only 2-byte aligned in a row (66 and 54 are 2 mod 4), so 32-bit reads of
//     the quants go through get_int_b2 (two 16-bit loads) unless a kernel stages them first.
//
// The trit offset (-1) is applied as "codes . y - sum(y)" so that decoding stays a shift and a mask.

// mmvq: number of 32-bit quant words per block that the vec_dot functions index with iqs.
#define QI_TQ2_0 16 // qs[64] = 16 words
#define QR_TQ2_0 4  // 4 weights per byte
#define QI_TQ1_0 8  // 8 threads per block in mmvq, see vec_dot_tq1_0_q8_1
#define QR_TQ1_0 5

template<>
struct ggml_cuda_type_traits<GGML_TYPE_TQ2_0> {
    static constexpr int qk = QK_K;
    static constexpr int qr = QR_TQ2_0;
    static constexpr int qi = QI_TQ2_0;
    static constexpr int bs = sizeof(block_tq2_0);
};

template<>
struct ggml_cuda_type_traits<GGML_TYPE_TQ1_0> {
    static constexpr int qk = QK_K;
    static constexpr int qr = QR_TQ1_0;
    static constexpr int qi = QI_TQ1_0;
    static constexpr int bs = sizeof(block_tq1_0);
};

static constexpr __host__ __device__ bool ggml_cuda_is_tq_type(const ggml_type type) {
    return type == GGML_TYPE_TQ1_0 || type == GGML_TYPE_TQ2_0;
}

// A MUL_MAT that the TQ mat-vec and batched kernels take as it is: one matrix (no broadcasting over
// dims 2 and 3), F32 activations and output with contiguous rows, activation columns 16-byte aligned,
// K a whole number of blocks.
static inline bool ggml_cuda_tq_is_plain_2d(const ggml_tensor * src0, const ggml_tensor * src1, const ggml_tensor * dst) {
    return src0->ne[2] == 1 && src0->ne[3] == 1 && src1->ne[2] == 1 && src1->ne[3] == 1 &&
           src1->type == GGML_TYPE_F32 && dst->type == GGML_TYPE_F32 &&
           src1->nb[0] == sizeof(float) && dst->nb[0] == sizeof(float) && dst->ne[1] == src1->ne[1] &&
           src1->nb[1] % 16 == 0 && (uintptr_t) src1->data % 16 == 0 && src0->ne[0] % QK_K == 0;
}

// MMQ (true) or dequantize + cuBLAS (false) for a TQ MUL_MAT with ne11 columns (cuda/tq-mmq-dispatch.cu).
bool ggml_cuda_tq_should_use_mmq(int cc, int64_t ne11, int64_t n_experts);

// TQ2_0: the four 2-bit codes of bytes 0..3 of q at shift s, one per byte (values 0..2).
static __device__ __forceinline__ int tq2_codes(const int q, const int s) {
    return (q >> (2*s)) & 0x03030303;
}

// TQ1_0: base-3 digit extraction on 4 packed bytes at once.
// The bytes are split into two 16-bit-lane words (even bytes, odd bytes) so that the per-byte
// products (<= 255*3 < 2^16) never carry into a neighbour. tq1_state holds x = (b * 3^k) mod 256
// per lane; tq1_next returns digit k of all 4 bytes as int8x4 codes (0..2) and advances to k+1.
struct tq1_state {
    int e; // bytes 0 and 2 of the word, in bits 0..7 and 16..23
    int o; // bytes 1 and 3
};

static __device__ __forceinline__ tq1_state tq1_init(const int q) {
    return { q & 0x00FF00FF, (q >> 8) & 0x00FF00FF };
}

static __device__ __forceinline__ int tq1_next(tq1_state & st) {
    const int te = st.e * 3;
    const int to = st.o * 3;
    st.e = te & 0x00FF00FF;
    st.o = to & 0x00FF00FF;
    // digit = (x*3) >> 8 per lane: bits 8..9 of each 16-bit lane
    return ((te >> 8) & 0x00030003) | (to & 0x03000300);
}

// Scalar variant (one byte, digit k): used by dequantize and for the qh bytes.
static __device__ __forceinline__ int tq1_digit(const int b, const int k) {
    // 3^k without a local-memory table when k is not a compile-time constant
    const int p3 = k == 0 ? 1 : k == 1 ? 3 : k == 2 ? 9 : k == 3 ? 27 : k == 4 ? 81 : 243;
    return (((b * p3) & 0xFF) * 3) >> 8;
}
