#!/usr/bin/env bash
# mat-vec harness A/B (session 11): .device/bin/harness-new (0fcaae5: quantizer grid of MAX_COLS columns)
# vs harness-q (quantizer grid of the present columns), 8B shapes, default launches only, alternating
set -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$OUT/device.txt"
for shape in "4096 4096" "14336 4096" "4096 14336"; do
  for side in old new old new; do
    b=.device/bin/harness-new; [ $side = new ] && b=.device/bin/harness-q
    echo "## $side $shape" >> "$OUT/harness-ab.log"
    TQ_HARNESS_DEFAULT_ONLY=1 timeout 25 $b 50 $shape >> "$OUT/harness-ab.log" 2>&1
  done
done
grep -E "^## |^\| TQ|fails" "$OUT/harness-ab.log" | head -200
