# session 21's prepared device call, on branch tma-tensor: the prebuilt TMA harness A/B (branch 3746083 vs main's
# kernels) beside the branch's build, then tests with TMA on both types, logits, the 8B tg128 A/B and sanitize.
#   bash call-s21.sh          the full call (build with GPU_BUILD_FA=OFF so that build and tests fit in one call)
#   bash call-s21.sh harness  the harness A/B alone, no build (a call with little device time left)
set -u
export OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
(cd .device && tar xJf next/tma3-bins.tar.xz && tar xJf next/main-bins.tar.xz) || echo "untar failed"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader > "$OUT/summary.txt"
export HARNESS_B_BIN=.device/bin/harness-tma3 HARNESS_B_ENV="TQ_X=1;TQ_TMA_TYPES=12;TQ_TMA_PROMO=0"
export HARNESS_ARGS="30 28672 8192;30 8192 28672;30 14336 4096;30 4096 14336"
export LAYER_B_BIN=.device/bin/layer_harness-tma3 LAYER_B_ENV="$HARNESS_B_ENV"
if [ "${1:-}" = harness ]; then
  timeout ${T_AB:-170} bash bench/gpu_bench.sh harness-ab > /dev/null 2>&1; echo "harness-ab rc=$?" >> "$OUT/summary.txt"
  timeout ${T_LAYER:-90} bash bench/gpu_bench.sh harness-layer > /dev/null 2>&1; echo "harness-layer rc=$?" >> "$OUT/summary.txt"
  ( cd "$OUT" && tar czf /tmp/tq-logs.tgz --exclude=summary.txt --exclude=logs.tgz . && find . -type f ! -name summary.txt -delete && mv /tmp/tq-logs.tgz logs.tgz )
  cat "$OUT/summary.txt"
  exit 0
fi
export TEST_B_ENV="TQ_GGUF_CUDA_MMV_TMA=12" AB_ENV="TQ_GGUF_CUDA_MMV_TMA=0;TQ_GGUF_CUDA_MMV_TMA=12"
export GPU_BUILD_FA=OFF
PAR_TIMEOUT=240 DEADLINE=${DEADLINE:-585} bash bench/gpu_call.sh -p "harness-ab harness-layer synth:8b" test logits models:8b ab:8b sanitize
