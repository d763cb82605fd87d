# session 21 call A: branch tma-tensor build (background) + prebuilt TMA harness A/B, then tests with TMA on both types
set -u
export OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
(cd .device && tar xJf next/tma3-bins.tar.xz && tar xJf next/main-bins.tar.xz) || echo "untar failed"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader > "$OUT/summary.txt"
export HARNESS_B_BIN=.device/bin/harness-tma3 HARNESS_B_ENV="TQ_X=1;TQ_TMA_TYPES=12;TQ_TMA_PROMO=0"
export HARNESS_ARGS="30 28672 8192;30 8192 28672;30 14336 4096;30 4096 14336"
export LAYER_B_BIN=.device/bin/layer_harness-tma3 LAYER_B_ENV="$HARNESS_B_ENV"
export TEST_B_ENV="TQ_GGUF_CUDA_MMV_TMA=12" AB_ENV="TQ_GGUF_CUDA_MMV_TMA=0;TQ_GGUF_CUDA_MMV_TMA=12"
export GPU_BUILD_FA=OFF
PAR_TIMEOUT=240 DEADLINE=${DEADLINE:-585} bash bench/gpu_call.sh -p "harness-ab harness-layer synth:8b" test logits models:8b ab:8b sanitize
