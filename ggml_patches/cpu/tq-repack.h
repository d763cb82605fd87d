// tq_gguf: hooks called from ggml-cpu's repack extra buffer (repack.cpp, 11-cpu-tq-repack.patch).
#pragma once

#include "ggml.h"

#include <stddef.h>

#ifdef __cplusplus
namespace ggml::cpu { class tensor_traits; }

// Traits for a TQ1_0/TQ2_0 weight we repack, or nullptr (not repacked: wrong shape, no kernel for
// this ISA, or TQ_GGUF_CPU_KERNELS=upstream). The same predicate decides the three hooks below.
const ggml::cpu::tensor_traits * tq_gguf_repack_get_traits(const struct ggml_tensor * t);

extern "C" {
#endif

// Bytes the repacked tensor needs (TQ1_0 grows from 1.6875 to 2.0625 bits per weight; TQ2_0 keeps
// its size), or 0 when t is not one of ours.
size_t tq_gguf_repack_alloc_size(const struct ggml_tensor * t);

// Convert standard TQ1_0/TQ2_0 data (the whole tensor) into t->data in the interleaved layout
// (a tensor we do not repack is copied as is).
// Returns 0 on success.
int tq_gguf_repack_set_tensor(struct ggml_tensor * t, const void * data, size_t size);

#ifdef __cplusplus
}
#endif
