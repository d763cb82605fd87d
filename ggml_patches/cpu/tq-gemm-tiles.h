// tq_gguf: one group of 16 weight rows against any number of activation columns, cut into the
// panels of tq-gemm.h: full panels of Kernel::width columns, then one tail panel of fewer. Shared
// by the ISA files (tq-gemm-x86.cpp, tq-gemm-arm.cpp), each of which defines a kernel class
//
//   struct Kernel {
//       static constexpr int width;  // columns per full panel (tq_gemm_tile_width())
//       template <int NC> static void tile(int64_t nb, const block_tqx16 * w, const char * panel, float ** dst);
//   };
//
// where tile<NC> runs one group against one panel of NC columns (1 <= NC <= width, compile-time
// so that every column's accumulators stay in registers) and writes 16 floats to each dst[c].
#pragma once

#include "tq-gemm.h"

#include <stdlib.h>

namespace tq_gemm_tiles {

// tile<nc> for a run-time nc in 1..NC (the tail panel): a chain of compile-time comparisons
template <class Kernel, int NC>
struct tail {
    static void run(int64_t nc, int64_t nb, const block_tqx16 * w, const char * panel, float ** dst) {
        if (nc == NC) {
            Kernel::template tile<NC>(nb, w, panel, dst);
        } else {
            tail<Kernel, NC - 1>::run(nc, nb, w, panel, dst);
        }
    }
};

template <class Kernel>
struct tail<Kernel, 0> {
    static void run(int64_t, int64_t, const block_tqx16 *, const char *, float **) {
        abort();  // nc out of range: the panels were cut with another width
    }
};

template <class Kernel>
inline void group(int64_t nb, const block_tqx16 * w, const char * panels, int64_t ncols, float ** dst) {
    constexpr int W = Kernel::width;
    const size_t full_panel = (size_t) nb * tq_panel_block_size(W);
    int64_t c = 0;
    for (; c + W <= ncols; c += W, panels += full_panel) {
        Kernel::template tile<W>(nb, w, panels, dst + c);
    }
    if (c < ncols) {
        tail<Kernel, W - 1>::run(ncols - c, nb, w, panels, dst + c);
    }
}

} // namespace tq_gemm_tiles
