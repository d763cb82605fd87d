#!/usr/bin/env bash
# Static SASS opcode mix of the TQ mat-vec kernels, taken on this machine (no GPU, no cuobjdump needed): nvcc -cubin
# of bench/sass_kernels.cu for sm_90, nvdisasm, bench/sass_mix.py. Compare two decode variants by their counts before
# spending device time on them (the executed mix is the profile stage's, on the device).
#
#   bench/sass_local.sh [OUT.md]      (default: stdout)
#
# nvdisasm: from PATH, else from the pinned nvidia-cuda-nvdisasm wheel (fetched through pip into build/sass-tools).
set -euo pipefail
cd "$(dirname "$0")/.."
NVDISASM_WHEEL_VERSION=13.5.37
NVDISASM_WHEEL_SHA256=d3fdbdd49fa53e2e4aacd3db8259d052bd2b049ececdcb69e92e083c6728e7ca
T=build/sass-tools; mkdir -p "$T"
if ! command -v nvdisasm > /dev/null; then
  if [ ! -x "$T/nvidia/cu13/bin/nvdisasm" ]; then
    python3 -m pip download -q --no-deps --only-binary=:all: "nvidia-cuda-nvdisasm==$NVDISASM_WHEEL_VERSION" -d "$T"
    whl=$(ls "$T"/nvidia_cuda_nvdisasm-"$NVDISASM_WHEEL_VERSION"-*.whl)
    echo "$NVDISASM_WHEEL_SHA256  $whl" | sha256sum -c --quiet
    python3 -m zipfile -e "$whl" "$T"
    chmod +x "$T/nvidia/cu13/bin/nvdisasm"
  fi
  PATH=$PATH:$PWD/$T/nvidia/cu13/bin
fi
nvcc -cubin -arch=sm_90 -O3 -std=c++17 -Icuda bench/sass_kernels.cu -o "$T/sass_kernels.cubin"
nvdisasm -c "$T/sass_kernels.cubin" > "$T/sass_kernels.sass"
python3 bench/sass_mix.py "$T/sass_kernels.sass" > "${1:-/dev/stdout}"
