#!/usr/bin/env bash
# mat-vec harness A/B: .device/bin/harness (f63a838 kernel) vs harness-new (EPI split, 3a-final)
set -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$OUT/device.txt"
for shape in "28672 8192" "8192 28672" "4096 14336"; do
  for side in old new old new; do
    b=.device/bin/harness; [ $side = new ] && b=.device/bin/harness-new
    echo "## $side $shape" >> "$OUT/harness-ab.log"
    timeout 25 $b 20 $shape >> "$OUT/harness-ab.log" 2>&1
  done
done
grep -E "^## |^\| TQ|fails" "$OUT/harness-ab.log" | head -200
