#!/usr/bin/env bash
# session 11: 8B FFN shapes in the mat-vec harness, default launch rules (A) vs TQ_GGUF_CUDA_MMV_PAIR8=0 (B),
# alternating, default launches only; the gate/up pair table is what PAIR8 changes
set -u
for side in A B A B; do
  echo "## $side" >> "$OUT/pair-ab.log"
  if [ $side = B ]; then export TQ_GGUF_CUDA_MMV_PAIR8=0; else unset TQ_GGUF_CUDA_MMV_PAIR8; fi
  TQ_HARNESS_DEFAULT_ONLY=1 timeout 60 .device/bin/harness 50 14336 4096 >> "$OUT/pair-ab.log" 2>&1
done
unset TQ_GGUF_CUDA_MMV_PAIR8
grep -E "^## |^\| TQ|fails|FAIL|gate/up" "$OUT/pair-ab.log"
