#!/usr/bin/env bash
# CPU speed table: upstream's TQ kernels vs tq_gguf's, same build, same run (A/B through
# TQ_GGUF_CPU_KERNELS=upstream), with Q4_0 and Q8_0 as reference points.
#
#   bench/cpu_bench.sh BIN_DIR SIZE [THREADS] [OUT.md]
#     BIN_DIR  a build's bin/ (llama-bench, llama-quantize), e.g. build/dev/bin
#     SIZE     1b | 3b  (synthetic Llama with TriLM 1.1B / 3.9B shapes, bench/make_synth_model.py)
#   env: MODELS (default build/models), REPS (default 2), PP (512), TG (128), TYPES,
#        BUSY_MAX (default 15): before each llama-bench run, wait (60 s at a time, at most
#        BUSY_WAITS times, default 30) until the CPUs were busy at most BUSY_MAX percent over 3 s
#        (from /proc/stat: other jobs, not the previous run, which the load average still counts),
#        so that rows are taken on a quiet machine; the row records that busy share and the load
#
# Writes a markdown table with machine, date and the exact commands to OUT.md
# (default bench/results/cpu-<host>-<size>-<date>.md).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:?BIN_DIR}; SIZE=${2:?SIZE}; T=${3:-2}
MODELS=${MODELS:-build/models}; REPS=${REPS:-2}; PP=${PP:-512}; TG=${TG:-128}
TYPES=${TYPES:-"TQ2_0 TQ1_0 Q4_0 Q8_0"}
DATE=$(date -u +%Y-%m-%dT%H:%MZ)
OUT=${4:-bench/results/cpu-$(hostname -s)-${SIZE}-$(date -u +%Y%m%d-%H%M).md}
PY=${PY:-.venv/bin/python}
BUSY_MAX=${BUSY_MAX:-15}; BUSY_WAITS=${BUSY_WAITS:-30}

# percent of CPU time not idle over the next 3 s, all CPUs (/proc/stat)
busy_pct() {
    local a b
    a=$(head -1 /proc/stat); sleep 3; b=$(head -1 /proc/stat)
    echo "$a" "$b" | awk '{n = (NF - 2) / 2; for (i = 2; i <= n + 1; i++) { t0 += $i; t1 += $(i + n + 1) }
                           i0 = $5 + $6; i1 = $(5 + n + 1) + $(6 + n + 1); printf "%.0f", 100 * (1 - (i1 - i0) / (t1 - t0)) }'
}

# wait for a quiet machine (busy <= BUSY_MAX percent); prints "busy N%, load a b c"
wait_quiet() {
    local n=0 busy
    busy=$(busy_pct)
    while [ "$busy" -gt "$BUSY_MAX" ] && [ "$n" -lt "$BUSY_WAITS" ]; do
        echo "CPUs ${busy}% busy (> $BUSY_MAX%), load $(cut -d' ' -f1-3 /proc/loadavg): waiting 60 s" >&2
        sleep 60; n=$((n + 1)); busy=$(busy_pct)
    done
    echo "busy ${busy}%, load $(cut -d' ' -f1-3 /proc/loadavg)"
}

mkdir -p "$MODELS" "$(dirname "$OUT")"
F16="$MODELS/synth-${SIZE}-f16.gguf"
case "$SIZE" in 1b) PRESET=trilm-1.1b ;; 3b) PRESET=trilm-3.9b ;; *) echo "SIZE: 1b or 3b" >&2; exit 2 ;; esac
[ -f "$F16" ] || "$PY" bench/make_synth_model.py "$PRESET" "$F16"
for ty in $TYPES; do
    q="$MODELS/synth-${SIZE}-$(echo "$ty" | tr A-Z a-z).gguf"
    [ -f "$q" ] || "$BIN/llama-quantize" "$F16" "$q" "$ty" "$T" > /dev/null
done

cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
flags=$(grep -m1 "^flags" /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|avx512f|avx512bw|avx512_vnni|avx_vnni|amx_int8|f16c|fma)$' | tr '\n' ' ')
variant=$("$PY" - "$BIN" <<'PYEOF'
import ctypes, sys
b = sys.argv[1]
ctypes.CDLL(b + "/libggml-base.so", mode=ctypes.RTLD_GLOBAL)
l = ctypes.CDLL(b + "/libggml-cpu.so")
l.tq_gguf_cpu_vec_dot_variant.restype = ctypes.c_char_p
print(l.tq_gguf_cpu_vec_dot_variant().decode())
PYEOF
)
{
    echo "# CPU: synthetic ${SIZE} TriLM-shaped Llama, upstream TQ kernels vs tq_gguf"
    echo
    echo "- date: $DATE"
    echo "- machine: $cpu, $(nproc) cores visible; flags: $flags"
    echo "- build: $BIN (tq_gguf vec_dot variant: $variant)"
    echo "- command per row: \`[TQ_GGUF_CPU_KERNELS=upstream] $BIN/llama-bench -m <model> -t $T -p $PP -n $TG -r $REPS -o md\`"
    echo "- each run waits until the CPUs were at most $BUSY_MAX% busy over 3 s (other jobs); the last column is that"
    echo "  share and /proc/loadavg just before the run (the load average still counts the previous run's own"
    echo "  threads); ratios within this run are what count"
    echo
    echo "| model | kernels | test | t/s | before the run |"
    echo "| --- | --- | --- | ---: | --- |"
} > "$OUT"

declare -A RES
for ty in $TYPES; do
    q="$MODELS/synth-${SIZE}-$(echo "$ty" | tr A-Z a-z).gguf"
    modes="ours"
    case "$ty" in TQ*) modes="upstream ours";; esac
    for mode in $modes; do
        if [ "$mode" = upstream ]; then envset="TQ_GGUF_CPU_KERNELS=upstream"; else envset="TQ_GGUF_CPU_KERNELS=ours"; fi
        load=$(wait_quiet)
        lines=$(env $envset "$BIN/llama-bench" -m "$q" -t "$T" -p "$PP" -n "$TG" -r "$REPS" -o md 2>/dev/null | grep -E "pp$PP|tg$TG" || true)
        while IFS= read -r l; do
            [ -n "$l" ] || { echo "| $ty | $mode | (llama-bench failed) | - | $load |" >> "$OUT"; continue; }
            test=$(echo "$l" | awk -F'|' '{print $(NF-2)}' | xargs)
            ts=$(echo "$l" | awk -F'|' '{print $(NF-1)}' | xargs)
            label=$mode; case "$ty" in TQ*) ;; *) label="upstream (ref. type)";; esac
            echo "| $ty | $label | $test | $ts | $load |" >> "$OUT"
            RES["$ty,$mode,$test"]=$(echo "$ts" | awk '{print $1}')
            echo "$ty $label $test $ts" >&2
        done <<< "$lines"
    done
done

{
    echo
    echo "Ratios (same run):"
    echo
    echo "| type | test | ours / upstream same type | ours / Q4_0 |"
    echo "| --- | --- | ---: | ---: |"
    for ty in TQ2_0 TQ1_0; do
        for test in pp$PP tg$TG; do
            o=${RES["$ty,ours,$test"]:-}; u=${RES["$ty,upstream,$test"]:-}; q4=${RES["Q4_0,ours,$test"]:-}
            [ -n "$o" ] && [ -n "$u" ] || continue
            r1=$(awk -v a="$o" -v b="$u" 'BEGIN{printf "%.2fx", a/b}')
            r2=$( [ -n "$q4" ] && awk -v a="$o" -v b="$q4" 'BEGIN{printf "%.2fx", a/b}' || echo "-")
            echo "| $ty | $test | $r1 | $r2 |"
        done
    done
    echo
    echo "- load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
} >> "$OUT"
echo "$OUT"
