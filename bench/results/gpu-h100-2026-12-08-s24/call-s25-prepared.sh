# Prepared in session 24 for the next device call (not run: no device was lent after session 24's second call).
# The mat-vec's activation word order, two prototypes against main (this folder's diffs):
#   perm: thread t's k-th 16-byte activation load is int4 4k + t of the block (was 4t + k): a quad reads 64 contiguous
#         bytes, so a warp's load touches half the sectors (n = 8: 16 instead of 32);
#   cols: perm plus the 8 columns interleaved ([block][k][col][t] int4): a warp's load at n = 8 is 512 contiguous bytes.
# Same SASS instruction counts as main (bench/sass_local.sh: -8 on three kernels, the rest equal).
# Local prep (5 harness builds, two at a time: about 40 minutes with 2 cores; the cols side needs no layer harness):
#   bench/prebuild_harness_ab.sh perm=bench/results/gpu-h100-2026-12-08-s24/proto-word-order.diff
#   BASE=0 HARNESSES=harness bench/prebuild_harness_ab.sh cols=bench/results/gpu-h100-2026-12-08-s24/proto-word-order-cols.diff
#   cp bench/results/gpu-h100-2026-12-08-s24/call-s25-prepared.sh .device/call-s25.sh
# Carry [".device/harness-bins.tar.xz", ".device/call-s25.sh"]; run `bash .device/call-s25.sh` (about 4 minutes).
# Every harness checks every launch variant against a float64 reference (FAIL lines), so the A/B is also the
# prototypes' first correctness check; test-backend-ops follows once one of them lands.
set -u
export OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader > "$OUT/summary.txt"
(cd .device && tar xJf harness-bins.tar.xz) || echo "untar failed" >> "$OUT/summary.txt"
cp .device/bin/harness-perm .device/bin/harness && cp .device/bin/layer_harness-perm .device/bin/layer_harness
SHAPES="200 28672 8192;200 8192 28672;200 14336 4096;200 4096 14336"
for b in base cols; do # A = perm each time
  mkdir -p "$OUT/ab-$b"
  OUT=$OUT/ab-$b HARNESS_B_BIN=.device/bin/harness-$b HARNESS_ARGS="$SHAPES" timeout 200 bash bench/gpu_bench.sh harness-ab > /dev/null 2>&1
  echo "harness-ab perm vs $b rc=$?" >> "$OUT/summary.txt"; cat "$OUT/ab-$b/summary.txt" >> "$OUT/summary.txt"
done
LAYER_B_BIN=.device/bin/layer_harness-base timeout 150 bash bench/gpu_bench.sh harness-layer > /dev/null 2>&1
echo "harness-layer perm vs base rc=$?" >> "$OUT/summary.txt"
# ncu at n = 8 (launch 276 of the harness, see session 24's call-s24b.sh): perm, then cols
for v in perm cols; do
  cp .device/bin/harness-$v .device/bin/harness
  PROFILE_SKIP=276 PROFILE_TYPES=2 timeout 100 bash bench/gpu_bench.sh profile > /dev/null 2>&1
  echo "profile $v n = 8 rc=$?" >> "$OUT/summary.txt"; mv "$OUT/profile.log" "$OUT/profile-$v-n8.log"
done
( cd "$OUT" && tar czf /tmp/tq-logs.tgz --exclude=summary.txt . && find . -type f ! -name summary.txt -delete && mv /tmp/tq-logs.tgz logs.tgz )
cat "$OUT/summary.txt"
