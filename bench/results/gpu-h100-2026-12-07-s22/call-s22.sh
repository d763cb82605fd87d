# session 22's second device call, on branch tma-tensor: the branch's TMA copies under compute-sanitizer
# (memcheck and racecheck), through the standalone harnesses built from the branch head (no llama.cpp build).
# TQ_GGUF_CUDA_MMV_TMA=12: every chunk-of-8 kernel of both types copies with TMA, not only the rule's.
set -u
export OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
(cd .device && tar xJf next/s22-bins.tar.xz) || echo "untar failed"
H=.device/bin/harness-s22 L=.device/bin/layer_harness-s22
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader > "$OUT/summary.txt"
compute-sanitizer --version | tail -1 >> "$OUT/summary.txt"
export TQ_GGUF_CUDA_MMV_TMA=12 TQ_HARNESS_DEFAULT_ONLY=1
CS="compute-sanitizer --error-exitcode 9 --print-limit 20"
check() { # name timeout command...
  local name=$1 t=$2; shift 2; local t0=$(date +%s)
  timeout "$t" "$@" > "$OUT/$name.log" 2>&1; local rc=$?
  echo "$name rc=$rc $(( $(date +%s) - t0 )) s: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|^fails' "$OUT/$name.log" | sort | uniq -c | tr '\n' ' ')" >> "$OUT/summary.txt"
}
T=${T:-330}
check harness-plain 60 "$H" 1 28672 8192 &
( check memcheck-harness "$T" $CS --tool memcheck "$H" 1 ) &
( for s in "28672 8192" "8192 28672" "14336 4096" "4096 14336" "3072 8192"; do
    check "racecheck-harness-${s/ /x}" $(( T/5 )) $CS --tool racecheck "$H" 1 $s; done ) &
( check memcheck-layer "$T" $CS --tool memcheck "$L" 1; ) &
( check racecheck-layer "$T" $CS --tool racecheck "$L" 1; ) &
wait
( cd "$OUT" && tar czf /tmp/tq-logs.tgz --exclude=summary.txt . && find . -type f ! -name summary.txt -delete && mv /tmp/tq-logs.tgz logs.tgz )
cat "$OUT/summary.txt"
