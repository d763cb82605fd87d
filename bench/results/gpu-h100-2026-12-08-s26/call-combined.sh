# Session 26: session 25's two prepared calls, reordered for scarce machines (steps in order of what decides, each
# guarded by the time left), as two calls chained on one warm machine (their carries together pass 64 MiB):
#   bash call-combined.sh harness      carry [".device/harness-small.tar.xz", ".device/call-combined.sh"]: every
#       mat-vec variant of the mt2 harness (v13..v16: MT = 2), the 8B layer sequence with each MT = 2 code, perm
#       against main. Prints "codes chosen: A B", the two codes of best geometric-mean speed against v0.
#   [MT2_CODES="A B"] bash call-combined.sh llama   carry [".device/prebuilt-gpu-mt2.tar.xz", ".device/call-combined.sh"]:
#       main + proto-mt2.diff prebuilt. Codes: MT2_CODES, else the harness half's choice if it ran on this machine
#       (.device/mt2-codes, kept on a warm machine), else 13 15. test-backend-ops with code A, 8B tg128 A/B (unset
#       against each code), sanitize with code A if time is left.
# harness-small = harness-mt2, layer_harness-mt2, harness-perm, layer_harness-perm from .device/bin (session 25's
# builds, see ../gpu-h100-2026-12-08-s25/call-s26-prepared.sh); main's side is the mt2 builds' default launches (v0 in
# the mat-vec harness, TQ_GGUF_CUDA_MMV_MT2 unset in the layer harness and llama.cpp).
set -u
export OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
S=$OUT/summary.txt
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader > "$S"
left() { [ "$SECONDS" -lt "$1" ] || { echo "skipped from here: $SECONDS s used" >> "$S"; return 1; }; }
if [ "${1:-harness}" = harness ]; then
(cd .device && tar xJf harness-small.tar.xz) || echo "untar failed" >> "$S"
# 1. every mat-vec variant (v13..v16: MT = 2), one round, 70B and 8B shapes; columns as session 25's call
echo "| type | shape | n | v0 (us) | mv only | v1 | v11 | v12 | v13 | v14 | v15 | v16 | rel err |" >> "$S"
for s in "28672 8192" "8192 28672" "14336 4096" "4096 14336"; do
  log=$OUT/harness-mt2-${s// /x}.log
  timeout 100 .device/bin/harness-mt2 100 $s > "$log" 2>&1
  echo "harness-mt2 $s rc=$? $(grep -h fails "$log")" >> "$S"
  grep FAIL "$log" | head -5 >> "$S"
  awk -F'|' '/^\| TQ/ { printf "|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n", $2, $3, $4, $5, $8, $9, $19, $20, $21, $22, $23, $24, $25 }' "$log" >> "$S"
done
# the two MT = 2 codes with the best geometric-mean speed against v0 over every row
CODES=$(python3 - "$OUT"/harness-mt2-*.log 2>>"$S" <<'PY'
import math, sys
score = {c: [] for c in (13, 14, 15, 16)}
for p in sys.argv[1:]:
    for line in open(p):
        f = line.split("|")
        if line.startswith("| TQ") and len(f) >= 26:
            try:
                v0 = float(f[4])
                for c in score: score[c].append(math.log(v0 / float(f[c + 7])))
            except (ValueError, ZeroDivisionError): pass
gm = {c: math.exp(sum(v)/len(v)) for c, v in score.items() if v}
print(" ".join(str(c) for c in sorted(gm, key=gm.get, reverse=True)[:2]) or "13 15")
print("geomean v0/vX:", {c: round(g, 3) for c, g in gm.items()}, file=sys.stderr)
PY
)
CODES=${CODES:-13 15}; first=${CODES%% *}
echo "codes chosen: $CODES" >> "$S"
echo "$CODES" > .device/mt2-codes # read by the llama half on the same warm machine
# 2. the 8B layer sequence: as built (main's launches) against each code
cp .device/bin/layer_harness-mt2 .device/bin/layer_harness
mkdir -p "$OUT/layer-mt2"
OUT=$OUT/layer-mt2 LAYER_B_ENV="TQ_GGUF_CUDA_MMV_MT2=13;TQ_GGUF_CUDA_MMV_MT2=14;TQ_GGUF_CUDA_MMV_MT2=15;TQ_GGUF_CUDA_MMV_MT2=16" \
  timeout 150 bash bench/gpu_bench.sh harness-layer > /dev/null 2>&1
echo "harness-layer mt2 codes rc=$?" >> "$S"; cat "$OUT/layer-mt2/summary.txt" >> "$S"
# 4. with time left: perm (session 24's word order) against main in the harness
if left 480; then
  cp .device/bin/harness-perm .device/bin/harness
  mkdir -p "$OUT/ab-perm"
  OUT=$OUT/ab-perm HARNESS_B_BIN=.device/bin/harness-mt2 HARNESS_ARGS="200 28672 8192;200 8192 28672" \
    timeout $((585 - SECONDS)) bash bench/gpu_bench.sh harness-ab > /dev/null 2>&1
  echo "harness-ab perm (A) vs mt2 build's default (B) rc=$?" >> "$S"; cat "$OUT/ab-perm/summary.txt" >> "$S"
fi
else
# 3. inside llama.cpp: main + proto-mt2.diff, prebuilt; test-backend-ops with the first code, 8B tg128 A/B
CODES=${MT2_CODES:-$(cat .device/mt2-codes 2>/dev/null)}; CODES=${CODES:-13 15}; first=${CODES%% *}
echo "codes: $CODES" >> "$S"
mv .device/prebuilt-gpu-mt2.tar.xz .device/prebuilt-gpu.tar.xz
  timeout 90 bash bench/gpu_bench.sh build > /dev/null 2>&1; echo "build rc=$?" >> "$S"
  mkdir -p "$OUT/test-mt2-$first"
  OUT=$OUT/test-mt2-$first TQ_GGUF_CUDA_MMV_MT2=$first timeout 150 bash bench/gpu_bench.sh test > /dev/null 2>&1
  echo "test with TQ_GGUF_CUDA_MMV_MT2=$first rc=$?" >> "$S"; tail -5 "$OUT/test-mt2-$first/summary.txt" >> "$S"
if left 330; then
  timeout 120 bash bench/gpu_bench.sh synth:8b models:8b > /dev/null 2>&1; echo "models:8b rc=$?" >> "$S"
  AB_ENV=$(for c in $CODES; do printf 'TQ_GGUF_CUDA_MMV_MT2=%s;' "$c"; done); AB_ENV=${AB_ENV%;}
  AB_ENV=$AB_ENV timeout $((560 - SECONDS)) bash bench/gpu_bench.sh ab:8b > /dev/null 2>&1; echo "ab:8b ($AB_ENV) rc=$?" >> "$S"
fi
if left 420; then
  mkdir -p "$OUT/sanitize-mt2-$first"
  OUT=$OUT/sanitize-mt2-$first TQ_GGUF_CUDA_MMV_MT2=$first timeout $((575 - SECONDS)) bash bench/gpu_bench.sh sanitize > /dev/null 2>&1
  echo "sanitize with TQ_GGUF_CUDA_MMV_MT2=$first rc=$?" >> "$S"; tail -6 "$OUT/sanitize-mt2-$first/summary.txt" >> "$S"
fi
fi
echo "done at $SECONDS s" >> "$S"
( cd "$OUT" && tar czf /tmp/tq-logs.tgz --exclude=summary.txt . && find . -type f ! -name summary.txt -delete && mv /tmp/tq-logs.tgz logs.tgz )
cat "$S"
