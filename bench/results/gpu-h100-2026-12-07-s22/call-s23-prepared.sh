# Prepared device calls (session 22) for main with the TQ1_0 TMA rule: what session 22's call left out.
# With .device/prebuilt-gpu.tar.xz (bench/prebuild_gpu.sh, FA off) the build stage only unpacks it; carry
# [".device/prebuilt-gpu.tar.xz", ".device/call-s23.sh"] (the whole .device with the pristine tarball is 62 of 64 MiB):
#   bash call-s23.sh 1   test (then again with TMA for both types: TEST_B_ENV), logits, 8B models, tg128 A/B (no TMA,
#                        TMA for both types, against the rule; FA off)
#   bash call-s23.sh 2   the same warm machine, at once (it is given back 30 s after a call): sanitize, 70B-shape
#                        kernels (test-backend-ops perf, n = 1..8)
set -u
export OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader > "$OUT/summary.txt"
case "${1:-1}" in
  1) TEST_B_ENV="TQ_GGUF_CUDA_MMV_TMA=12" AB_ENV="TQ_GGUF_CUDA_MMV_TMA=0;TQ_GGUF_CUDA_MMV_TMA=12" PAR_TIMEOUT=240 \
       DEADLINE=${DEADLINE:-585} bash bench/gpu_call.sh -p "synth:8b" test logits models:8b ab:8b ;;
  2) KN='1|2|4|8' DEADLINE=${DEADLINE:-585} bash bench/gpu_call.sh sanitize kernels ;;
esac
