# Prepared in session 25 (no device was lent in that session) for the next device call: about 8 minutes.
# Three prototypes of the TQ mat-vec against main, none of them run on a GPU yet (this folder's and -s24's diffs):
#   perm    (../gpu-h100-2026-12-08-s24/proto-word-order.diff): thread t's k-th 16-byte activation load is int4
#           4k + t of the block (was 4t + k): a quad reads 64 contiguous bytes, a warp's load at n = 8 touches 16
#           sectors instead of 32;
#   mt2     (proto-mt2.diff): harness variants 13..16, two m16 tiles per work item sharing each block's activation
#           loads (MT = 2): 13 = chunks of 8 NW4S2 (compare v1), 14 = chunks of 8 NW2S2 (v12), 15 = chunks of 4
#           NW4S2, 16 = chunks of 4 NW8S2 (v11). The default launch is main's, so v0 is the baseline of the same run;
#   mt2perm (proto-mt2-perm.diff): both.
# Every harness checks every variant against a float64 reference (FAIL lines, "fails"), so this is also the first
# correctness check of all three.
# Local prep (done in session 25 if .device/ survived; else about 50 minutes with 2 cores):
#   bench/prebuild_harness_ab.sh perm=bench/results/gpu-h100-2026-12-08-s24/proto-word-order.diff
#   BASE=0 bench/prebuild_harness_ab.sh mt2=bench/results/gpu-h100-2026-12-08-s25/proto-mt2.diff
#   BASE=0 HARNESSES=harness bench/prebuild_harness_ab.sh mt2perm=bench/results/gpu-h100-2026-12-08-s25/proto-mt2-perm.diff
#   (keep the pack under the 64 MiB carry limit: only the 7 binaries this script runs, -base, -perm, -mt2, -mt2perm
#   harnesses and -base, -perm, -mt2 layer harnesses:
#   rm -f .device/bin/harness .device/bin/layer_harness .device/bin/harness-cols && tar -C .device -cJf .device/harness-bins.tar.xz bin)
#   cp bench/results/gpu-h100-2026-12-08-s25/call-s26-prepared.sh .device/call-next.sh
# Carry [".device/harness-bins.tar.xz", ".device/call-next.sh"]; run `bash .device/call-next.sh`.
set -u
export OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
S=$OUT/summary.txt
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader > "$S"
(cd .device && tar xJf harness-bins.tar.xz) || echo "untar failed" >> "$S"
# 1. MT = 2 variants, every variant timed (one round). Summary columns: type, shape, n, v0 (quantizer + default
#    kernel), mv only, v1 (NW4S2), v11 (CB4 NW8S2), v12 (NW2S2), v13..v16 (MT = 2), rel err.
for v in mt2 mt2perm; do
  echo "| type | shape | n | v0 (us) | mv only | v1 | v11 | v12 | v13 | v14 | v15 | v16 | rel err |" >> "$S"
  for s in "28672 8192" "8192 28672" "14336 4096" "4096 14336"; do
    log=$OUT/harness-$v-${s// /x}.log
    timeout 100 .device/bin/harness-$v 100 $s > "$log" 2>&1
    echo "harness-$v $s rc=$? $(grep -h fails "$log")" >> "$S"
    grep FAIL "$log" | head -5 >> "$S"
    awk -F'|' '/^\| TQ/ { printf "|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n", $2, $3, $4, $5, $8, $9, $19, $20, $21, $22, $23, $24, $25 }' "$log" >> "$S"
  done
done
# 2. perm against main, default launches, two interleaved rounds (70B and 8B shapes)
SHAPES="200 28672 8192;200 8192 28672;200 14336 4096;200 4096 14336"
cp .device/bin/harness-perm .device/bin/harness && cp .device/bin/layer_harness-perm .device/bin/layer_harness
mkdir -p "$OUT/ab-perm"
OUT=$OUT/ab-perm HARNESS_B_BIN=.device/bin/harness-base HARNESS_ARGS="$SHAPES" timeout 200 bash bench/gpu_bench.sh harness-ab > /dev/null 2>&1
echo "harness-ab perm vs base rc=$?" >> "$S"; cat "$OUT/ab-perm/summary.txt" >> "$S"
# 3. ncu at n = 8 (the profile stage appends its summary lines to $S), TQ2_0 28672 x 8192: perm's default kernel (69 launches per column count: skip 276), mt2's v13
#    and v14 (18 variants: 17 checks + 18 x 4 timed = 89 launches per count; n = 8's checks start at 356, v13 is
#    check 13)
prof() { # NAME BIN SKIP
  cp ".device/bin/$2" .device/bin/harness
  PROFILE_SKIP=$3 PROFILE_TYPES=2 PROFILE_SHAPES="28672 8192" timeout 90 bash bench/gpu_bench.sh profile > /dev/null 2>&1
  echo "profile $1 rc=$? (its lines above)" >> "$S"; mv "$OUT/profile.log" "$OUT/profile-$1.log"
}
prof perm-n8 harness-perm 276
prof mt2-v13-n8 harness-mt2 369
prof mt2-v14-n8 harness-mt2 370
# 4. the 8B layer sequence, perm against main
cp .device/bin/layer_harness-perm .device/bin/layer_harness
LAYER_B_BIN=.device/bin/layer_harness-base timeout 120 bash bench/gpu_bench.sh harness-layer > /dev/null 2>&1
echo "harness-layer perm vs base rc=$?" >> "$S"
# 5. the 8B layer sequence with MT = 2: mt2's layer harness as built (main's launches) against TQ_GGUF_CUDA_MMV_MT2
#    = each code (every launch without an epilogue that the shape allows)
cp .device/bin/layer_harness-mt2 .device/bin/layer_harness
mkdir -p "$OUT/layer-mt2"
OUT=$OUT/layer-mt2 LAYER_B_ENV="TQ_GGUF_CUDA_MMV_MT2=13;TQ_GGUF_CUDA_MMV_MT2=14;TQ_GGUF_CUDA_MMV_MT2=15;TQ_GGUF_CUDA_MMV_MT2=16" \
  timeout 200 bash bench/gpu_bench.sh harness-layer > /dev/null 2>&1
echo "harness-layer mt2 codes rc=$?" >> "$S"; cat "$OUT/layer-mt2/summary.txt" >> "$S"
( cd "$OUT" && tar czf /tmp/tq-logs.tgz --exclude=summary.txt . && find . -type f ! -name summary.txt -delete && mv /tmp/tq-logs.tgz logs.tgz )
cat "$S"
