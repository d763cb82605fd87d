# Prepared device call (session 23) for the next session: why TQ2_0's mat-vec grows from n = 1 to n = 8 (#6's 1/6 of
# F16's time is missed most at n = 8: 28672 x 8192 26.19 -> 34.48 us, 8192 x 28672 29.05 -> 36.67 in session 23;
# decode and mma work do not depend on n, the activation loads from L1 grow 8x). ncu of main's default kernel at
# n = 1 (launch-skip 0) and n = 8 (launch-skip 52) on both 70B shapes, TQ2_0 only. Never profiled at n = 8 before.
# Carry [".device/harness-bins.tar.xz", ".device/call-s24.sh"] (bin/harness = main's mat-vec harness, built here).
#   bash call-s24.sh
set -u
export OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader > "$OUT/summary.txt"
(cd .device && tar xJf harness-bins.tar.xz) || echo "untar failed" >> "$OUT/summary.txt"
for skip in 0 52; do
  PROFILE_SKIP=$skip PROFILE_TYPES=2 timeout 240 bash bench/gpu_bench.sh profile > /dev/null 2>&1
  echo "profile skip $skip rc=$?" >> "$OUT/summary.txt"
  mv "$OUT/profile.log" "$OUT/profile-skip$skip.log"
done
( cd "$OUT" && tar czf /tmp/tq-logs.tgz --exclude=summary.txt . && find . -type f ! -name summary.txt -delete && mv /tmp/tq-logs.tgz logs.tgz )
cat "$OUT/summary.txt"
