#!/usr/bin/env bash
# The CPU table on the GPU machine's host CPU (through the `device` tool: a bare machine with
# cmake/ninja/python3+numpy, no network). Builds the patched tree from the carried pristine
# tarball (python -m tq_gguf.source pack-device -> .device/llama.cpp-pristine.tar.gz), makes the
# synthetic model with the tree's own gguf-py, then runs bench/cpu_bench.sh.
#
#   bench/cpu_device_bench.sh build            # configure + build llama-bench, llama-quantize
#   bench/cpu_device_bench.sh bench SIZE T OUT # e.g. bench 1b 16 $OUT/cpu-device-1b.md
#   B=build/device-avx2 bench/cpu_device_bench.sh build-avx2   # GGML_NATIVE=OFF, AVX2+FMA+F16C only
#   B=build/device-avx2 bench/cpu_device_bench.sh bench 1b 2 OUT
set -euo pipefail
cd "$(dirname "$0")/.."
B=${B:-build/device}
case "${1:?build|bench}" in
build)
    cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DTQ_GGUF_BUILD_TOOLS=ON -DGGML_NATIVE=ON \
          -DTQ_GGUF_PRISTINE_TARBALL="$PWD/.device/llama.cpp-pristine.tar.gz" -DPython3_EXECUTABLE="$(command -v python3)" > /dev/null
    cmake --build $B -j "$(nproc)" --target llama-bench --target llama-quantize 2>&1 | tail -2
    ;;
build-avx2)
    cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DTQ_GGUF_BUILD_TOOLS=ON -DGGML_NATIVE=OFF \
          -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF \
          -DTQ_GGUF_PRISTINE_TARBALL="$PWD/.device/llama.cpp-pristine.tar.gz" -DPython3_EXECUTABLE="$(command -v python3)" > /dev/null
    cmake --build $B -j "$(nproc)" --target llama-bench --target llama-quantize 2>&1 | tail -2
    ;;
bench)
    SIZE=${2:-1b}; T=${3:-16}; OUT=${4:-}
    export PYTHONPATH="$PWD/build/device/upstream/llama.cpp/gguf-py:$PWD/$B/upstream/llama.cpp/gguf-py${PYTHONPATH:+:$PYTHONPATH}"
    MODELS=${MODELS:-/tmp/models} PY=python3 bench/cpu_bench.sh "$B/bin" "$SIZE" "$T" ${OUT:+"$OUT"}
    ;;
esac
