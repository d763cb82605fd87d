#!/usr/bin/env bash
# One device call: the CUDA build (incremental on a warm machine) runs in the background while the
# stages of -p run (kernel harness: needs only nvcc), then the other stages in order, each skipped once
# fewer than 60 s are left before DEADLINE (default 560 s). A device call returns at most 8 files, so
# every log under $OUT is packed into $OUT/logs.tgz at the end; summary.txt stays beside it. Each -p stage
# is stopped after PAR_TIMEOUT seconds (default 300), so that a hung kernel cannot take the call.
#
#   bench/gpu_call.sh [-p "harness harness-ref"] test models:3b bench:3b ...    (stages: bench/gpu_bench.sh)
set -uo pipefail
cd "$(dirname "$0")/.."
export OUT=${OUT:-$PWD/bench/results/tmp}; mkdir -p "$OUT"
T0=$(date +%s); DEADLINE=${DEADLINE:-560}
left() { echo $(( DEADLINE - ($(date +%s) - T0) )); }
PAR=""
if [ "${1:-}" = "-p" ]; then PAR=$2; shift 2; fi

bash bench/gpu_bench.sh build > "$OUT/build-stage.txt" 2>&1 & BP=$!
for s in $PAR; do timeout "${PAR_TIMEOUT:-300}" bash bench/gpu_bench.sh "$s" > /dev/null || echo "[$(date +%T)] $s: rc $?" >> "$OUT/summary.txt"; done
wait $BP; rc=$?
if [ $rc = 0 ]; then
  for s in "$@"; do
    if [ "$(left)" -lt 60 ]; then echo "[$(date +%T)] skipped $s: $(left) s left" >> "$OUT/summary.txt"; continue; fi
    timeout "$(left)" bash bench/gpu_bench.sh "$s" > /dev/null
  done
else
  tail -30 "$OUT/build.log" >> "$OUT/summary.txt"
fi
( cd "$OUT" && tar czf /tmp/tq-logs.tgz --exclude=summary.txt --exclude=logs.tgz . &&
  find . -type f ! -name summary.txt -delete && mv /tmp/tq-logs.tgz logs.tgz )
cat "$OUT/summary.txt"
