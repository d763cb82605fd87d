#pragma once
// tq_gguf: int32 -> float for the small integer sums of the TQ products (self-contained: the mat-vec
// harness includes it without ggml).
//
// Why: sm_80/sm_90 convert int32 to float (I2F) at 16 results per clock and SM, a quarter of the
// integer and FMA pipes' rate, and the TQ kernels convert an mma sum per output element and block.
// For |x| < 2^22 the float with bits 0x4B400000 + x is 1.5*2^23 + x exactly (its ulp is 1 in
// [2^23, 2^24)), so one integer add and one float subtraction give (float) x.
static __device__ __forceinline__ float tq_small_int_to_float(const int x) {
    return __int_as_float(0x4B400000 + x) - 12582912.0f;
}
