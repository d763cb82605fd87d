#!/usr/bin/env bash
# Build the CUDA tools of bench/gpu_bench.sh on this machine (no GPU needed) and pack them for a device call, so
# that the call spends its device time on tests and benchmarks instead of a 5-9 minute build.
#
#   bench/prebuild_gpu.sh [JOBS]      -> .device/prebuilt-gpu.tar.xz (carried; gpu_bench.sh build unpacks it)
#
# A call can carry the pack alone (carry [".device/prebuilt-gpu.tar.xz", <its call script>]): the stages take gguf-py
# and the llama_cpp package from it, and the pristine tarball is only needed for a build on the device.
#
# The build is gpu_bench.sh's (bench/gpu_build_tools.sh: same patched tree, sm_90, portable AVX2 CPU flags), with
# the FlashAttention kernels compiled empty (GGML_CUDA_FA=OFF: FA stages do not run with it) to keep the pack small.
# This machine's CUDA toolkit has no cuBLAS and no driver library: cuBLAS's headers and libraries come from its pinned
# wheel (fetched through pip), and libcuda.so is a link-only stub of cuda.h's functions. On the device the binaries
# load that machine's own libcublas.so.13 and libcuda.so.1. Incremental: a later run rebuilds what changed (our
# sources: about 4 minutes here).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD B=$ROOT/build/gpu
T=$ROOT/build/cublas-13.0 STUB=$ROOT/build/cuda-stub # (changing these paths changes the compile flags: a full rebuild)
CUBLAS_WHEEL_VERSION=13.0.0.19 # the cuBLAS of the device's CUDA 13.0 toolkit generation
CUBLAS_WHEEL_SHA256=f6723af2e8e2600a11dc384037d90d9bf93070e346c24ef2e8f9001658c99896
mkdir -p "$T" "$STUB"
CB=$T/nvidia/cu13
if [ ! -f "$CB/lib/libcublas.so.13" ]; then
  python3 -m pip download -q --no-deps --only-binary=:all: "nvidia-cublas==$CUBLAS_WHEEL_VERSION" -d "$T"
  whl=$(ls "$T"/nvidia_cublas-"$CUBLAS_WHEEL_VERSION"-*.whl)
  echo "$CUBLAS_WHEEL_SHA256  $whl" | sha256sum -c --quiet
  python3 -m zipfile -e "$whl" "$T"
  rm -f "$whl"
fi
CUDA_INC=${CUDA_HOME:-/usr/local/cuda}/include
if [ ! -f "$STUB/libcuda.so" ]; then
  # every driver entry point cuda.h declares (after its _v2/_v3 renaming macros), returning CUDA_ERROR_NO_DEVICE (100):
  # here the tools then run on the CPU backend alone (a check that the pack's binaries load)
  echo '#include <cuda.h>' | gcc -E -I"$CUDA_INC" -x c - | tr '\n' ' ' |
    grep -oE "\b(CUresult|CUDAAPI)[ ]+cu[A-Za-z0-9_]+ *\(" | grep -oE "cu[A-Za-z0-9_]+" | sort -u |
    sed 's/.*/int &(void) { return 100; }/' > "$STUB/stub.c"
  gcc -shared -fPIC -o "$STUB/libcuda.so" "$STUB/stub.c" -Wl,-soname,libcuda.so.1
  ln -sf libcuda.so "$STUB/libcuda.so.1" # what the linker looks for when it resolves libggml-cuda.so's NEEDED entry
fi
[ -f .device/llama.cpp-pristine.tar.gz ] || python3 -m tq_gguf.source pack-device
. bench/gpu_build_tools.sh
gpu_build_tools "$B" "${1:-$(nproc)}" OFF \
    --cmake=-DCUDA_cublas_LIBRARY="$CB/lib/libcublas.so.13" --cmake=-DCUDA_cublasLt_LIBRARY="$CB/lib/libcublasLt.so.13" \
    --cmake=-DCUDA_cuda_driver_LIBRARY="$STUB/libcuda.so" \
    "--cmake=-DCMAKE_CUDA_FLAGS=-I$CB/include" "--cmake=-DCMAKE_CXX_FLAGS=-I$CB/include"
# what the stages read besides bin/: gguf-py (synth, logits) and the llama_cpp package (logits)
{ echo "commit $(git rev-parse HEAD)$(git diff --quiet HEAD -- cuda ggml_patches CMakeLists.txt || echo ' + uncommitted changes')"
  echo "built $(date -u +%FT%TZ) on $(uname -m), nvcc $(nvcc --version | grep -oE 'V[0-9]+\.[0-9.]+'), cuBLAS $CUBLAS_WHEEL_VERSION, FA off"
} > "$B/PREBUILT.txt"
tar -C "$B" -cJf .device/prebuilt-gpu.tar.xz PREBUILT.txt bin upstream/llama.cpp/gguf-py upstream/llama_cpp
ls -la .device/prebuilt-gpu.tar.xz; cat "$B/PREBUILT.txt"
