# Session 24, call 2: ncu of TQ2_0's default mat-vec at n = 8 on both 70B shapes. The harness launches per column
# count (reps = 1): 13 checks, then 14 timed variants x (3 warm-up + 1) = 69 launches; n = 8 is the fifth count,
# so its default kernel is launch 4 x 69 = 276 (call 1's skip 52 was a timed n = 1 variant, not n = 8).
# Then the harness's default-kernel times at n = 1..8 on both shapes, both types.
set -u
export OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader > "$OUT/summary.txt"
(cd .device && tar xJf harness-bins.tar.xz) || echo "untar failed" >> "$OUT/summary.txt"
PROFILE_SKIP=276 PROFILE_TYPES=2 timeout 240 bash bench/gpu_bench.sh profile > /dev/null 2>&1
echo "profile skip 276 rc=$?" >> "$OUT/summary.txt"
mv "$OUT/profile.log" "$OUT/profile-skip276.log"
for s in "28672 8192" "8192 28672"; do
  TQ_HARNESS_DEFAULT_ONLY=1 timeout 120 .device/bin/harness 200 $s > "$OUT/harness-${s// /x}.log" 2>&1
  grep -E "^\| TQ|FAIL" "$OUT/harness-${s// /x}.log" | cut -c1-80 >> "$OUT/summary.txt"
done
( cd "$OUT" && tar czf /tmp/tq-logs.tgz --exclude=summary.txt . && find . -type f ! -name summary.txt -delete && mv /tmp/tq-logs.tgz logs.tgz )
cat "$OUT/summary.txt"
