// Identifies our build at run time: `python -m tq_gguf info` and the tests look this symbol
// up in the loaded libggml-cpu to tell our kernels from a stock llama-cpp-python build.
// The values come from the top-level CMakeLists.txt (package version, hash of the patch set).

#define TQ_GGUF_EXPORT __attribute__((visibility("default")))

#ifndef TQ_GGUF_VERSION
#error "TQ_GGUF_VERSION must be defined by the build"
#endif

TQ_GGUF_EXPORT const char * tq_gguf_version(void) {
    return "tq_gguf " TQ_GGUF_VERSION " (patch set " TQ_GGUF_PATCHSET
           ", llama.cpp of llama-cpp-python " TQ_GGUF_LLAMA_CPP_PYTHON ")";
}
