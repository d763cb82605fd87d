// tq_gguf: MMQ template instance for GGML_TYPE_TQ1_0 (compiled into ggml-cuda from cuda/).
#include "mmq.cuh"

DECL_MMQ_CASE(GGML_TYPE_TQ1_0);
