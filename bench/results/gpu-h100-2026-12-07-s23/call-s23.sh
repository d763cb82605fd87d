# Device calls of session 23 (prepared in session 22) for main with the TQ1_0 TMA rule: what session 22's call left out.
# With .device/prebuilt-gpu.tar.xz (bench/prebuild_gpu.sh, FA off) the build stage only unpacks it (and builds from the
# pristine tarball if the pack's tools do not run there). Calls 1 and 2 carry [".device/prebuilt-gpu.tar.xz",
# ".device/llama.cpp-pristine.tar.gz", ".device/call-s23.sh"]: 63 of the 64 MiB with the tracked files.
#   bash call-s23.sh 1   test, logits, 8B models, tg128 A/B (no TMA, TMA for both types, against the rule; FA off),
#                        70B-shape kernels (test-backend-ops perf, n = 1, 2, 4, 8), sanitize
#   bash call-s23.sh 2   sanitize and the 70B-shape kernels alone (for a call 1 that ran out of time)
#   bash call-s23.sh 3   harness A/B, main against TQ1_0 in four mma accumulator chains (proto-tq1-4chain-tma.diff of
#                        session 22; 130 -> 136 registers on the TMA kernel, 3 CTAs per SM either way); carry
#                        [".device/harness-bins.tar.xz", ".device/call-s23.sh"] (both sides prebuilt here)
set -u
export OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader > "$OUT/summary.txt"
case "${1:-1}" in
  1) GPU_BUILD_FA=OFF AB_ENV="TQ_GGUF_CUDA_MMV_TMA=0;TQ_GGUF_CUDA_MMV_TMA=12" KN='1|2|4|8' PAR_TIMEOUT=240 \
       DEADLINE=${DEADLINE:-585} bash bench/gpu_call.sh -p "synth:8b" test logits models:8b ab:8b kernels sanitize ;;
  2) KN='1|2|4|8' DEADLINE=${DEADLINE:-585} bash bench/gpu_call.sh sanitize kernels ;;
  3) (cd .device && tar xJf harness-bins.tar.xz) || echo "untar failed" >> "$OUT/summary.txt"
     export HARNESS_B_BIN=.device/bin/harness-4c HARNESS_B_ENV="TQ_PROTO=4chain" LAYER_B_BIN=.device/bin/layer_harness-4c LAYER_B_ENV="TQ_PROTO=4chain"
     export HARNESS_ARGS="30 28672 8192 1;30 8192 28672 1;30 14336 4096 1;30 4096 14336 1"
     timeout 200 bash bench/gpu_bench.sh harness-ab > /dev/null 2>&1; echo "harness-ab rc=$?" >> "$OUT/summary.txt"
     timeout 60 bash bench/gpu_bench.sh harness-layer > /dev/null 2>&1; echo "harness-layer rc=$?" >> "$OUT/summary.txt"
     ( cd "$OUT" && tar czf /tmp/tq-logs.tgz --exclude=summary.txt . && find . -type f ! -name summary.txt -delete && mv /tmp/tq-logs.tgz logs.tgz )
     cat "$OUT/summary.txt" ;;
esac
