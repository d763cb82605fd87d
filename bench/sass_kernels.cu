// tq_gguf: the TQ mat-vec kernels whose static SASS bench/sass_local.sh counts (nvcc -cubin, no GPU needed): the
// default launches of the 70B-class shapes and of an 8B-class layer (see launch_default), one pointer each so that
// every instantiation is compiled.
#include "tq-mmv-kernel.cuh"

using namespace tq_mmv;

void * tq_sass_kernels[] = {
    // 28672 x 8192 (TQ2_0 and TQ1_0), 8192 x 28672 (TQ2_0): chunks of 8, bulk copies, deep activation prefetch
    (void *) &tq_mmv_kernel<TQ2, COPY_BULK, 4, 2, 8, true, false>,
    (void *) &tq_mmv_kernel<TQ1, COPY_BULK, 4, 2, 8, true, false>,
    (void *) &tq_mmv_kernel<TQ1, COPY_TMA, 4, 2, 8, true, false>,
    (void *) &tq_mmv_kernel<TQ2, COPY_TMA, 4, 2, 8, true, false>,
    // 8192 x 28672 (TQ1_0; TQ2_0 from n = 4): chunks of 8, 2 warps, bulk copies, deep activation prefetch
    (void *) &tq_mmv_kernel<TQ1, COPY_BULK, 2, 2, 8, true, false>,
    (void *) &tq_mmv_kernel<TQ2, COPY_BULK, 2, 2, 8, true, false>,
    // 4096 x 14336 (TQ1_0, the 8B-class down projection): chunks of 4, 8 warps, 8-byte cp.async
    (void *) &tq_mmv_kernel<TQ1, 8, 8, 3, 4, false, false>,
    // 8B-class: gate/up pair (TQ2_0), down (TQ2_0), rows of 16 blocks in chunks of 4 (O, Q/K/V with the epilogue)
    (void *) &tq_mmv_kernel<TQ2, COPY_BULK, 2, 3, 8, true, false>,
    (void *) &tq_mmv_kernel<TQ2, COPY_BULK, 4, 3, 8, true, false>,
    (void *) &tq_mmv_kernel<TQ2, 8, 4, 2, 4, false, false>,
    (void *) &tq_mmv_kernel<TQ2, 8, 4, 2, 4, false, true>,
    (void *) &tq_mmv_kernel<TQ1, 8, 4, 2, 4, false, false>,
};
