#!/usr/bin/env bash
# tq-mmv integrated device run, one call: the CUDA build runs in the background while the kernel
# harness runs and the synthetic 3B model is written; then TQ test-backend-ops, kernel perf (tq-mmv
# and, A/B, mmvq), 3B llama-bench + batched-bench. Stages past DEADLINE seconds (default 540) are
# skipped so that the logs under $OUT come back inside the device call's limit.
set -uo pipefail
cd "$(dirname "$0")/.."
export OUT=${OUT:-$PWD/bench/results/tmp} REPS=${REPS:-2}
mkdir -p "$OUT"
M=${TQ_MODELS:-/tmp/tq-models}; mkdir -p "$M"
T0=$(date +%s); DEADLINE=${DEADLINE:-540}
left() { echo $(( DEADLINE - ($(date +%s) - T0) )); }

bash bench/gpu_bench.sh build > "$OUT/build-stage.txt" 2>&1 & BP=$!
mkdir -p /tmp/gg && tar xzf .device/llama.cpp-pristine.tar.gz -C /tmp/gg llama.cpp/gguf-py
GP=
if [ "${MODELS:-1}" = 1 ]; then
  PYTHONPATH=/tmp/gg/llama.cpp/gguf-py nice python3 bench/make_synth_model.py 3b "$M/3b-f16.gguf" > "$OUT/models-3b.log" 2>&1 & GP=$!
fi
bash bench/gpu_bench.sh harness > /dev/null
wait $BP; rc=$?; tail -3 "$OUT/build-stage.txt"; [ $rc = 0 ] || exit 1
bash bench/gpu_bench.sh test
KN='1|2|4|8' bash bench/gpu_bench.sh kernels > /dev/null
[ "$(left)" -gt 40 ] && bash bench/gpu_bench.sh kernels-mmvq > /dev/null
[ -n "$GP" ] && wait $GP
if [ -n "$GP" ] && [ "$(left)" -gt 150 ]; then
  for t in Q4_0 Q2_0 TQ2_0 TQ1_0; do
    build/gpu/bin/llama-quantize "$M/3b-f16.gguf" "$M/3b-$t.gguf" $t "$(nproc)" >> "$OUT/models-3b.log" 2>&1
  done
  echo "[$(date +%T)] models done, $(left) s left" >> "$OUT/summary.txt"
  FA=${FA:-1} NPL=${NPL:-1,2,4,8,16,64} timeout "$(( $(left) > 10 ? $(left) : 10 ))" bash bench/gpu_bench.sh bench:3b > /dev/null
fi
cat "$OUT/summary.txt"
