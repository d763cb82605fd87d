// Timing loop for one ggml vec_dot function pointer (from ggml_get_type_traits_cpu(type)->vec_dot).
//
// Why C: one TQ row block (256 weights) takes tens of nanoseconds, a ctypes call about a
// microsecond; calling vec_dot from Python would time ctypes. This loop only calls the pointer
// it is given: no kernel code lives here.
//
// Layout: n_rows weight rows of row_bytes each, back to back in x (all small enough to stay in
// L1/L2, as in a real row loop), one activation row y already in vec_dot_type; out[r] gets the
// dot of row r from the last pass.
#include <stddef.h>

typedef void (*vec_dot_fn)(int n, float * s, size_t bs, const void * x, size_t bx,
                           const void * y, size_t by, int nrc);

void tq_bench_vec_dot_loop(vec_dot_fn vec_dot, int n, const char * x, size_t row_bytes, int n_rows,
                           const void * y, long passes, float * out) {
    for (long p = 0; p < passes; ++p) {
        for (int r = 0; r < n_rows; ++r) {
            vec_dot(n, &out[r], 0, x + (size_t) r * row_bytes, 0, y, 0, 1);
        }
    }
}
