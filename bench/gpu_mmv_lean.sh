#!/usr/bin/env bash
# tq-mmv: the leanest integrated device check (when device time is short): build test-backend-ops only
# (FlashAttention kernels off: not needed for MUL_MAT, halves the build),
# TQ MUL_MAT tests vs CPU, kernel perf at 70B shapes n = 1..8 for F16/Q4_0/Q2_0/TQ2_0/TQ1_0, then
# (if time is left) the TQ cases through mmvq (TQ_GGUF_CUDA_MMV=0) as A/B. Logs under $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/bench/results/tmp}; mkdir -p "$OUT"
T0=$(date +%s); DEADLINE=${DEADLINE:-300}
left() { echo $(( DEADLINE - ($(date +%s) - T0) )); }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
python3 -m tq_gguf build-tools --build-dir build/gpu --cuda --cuda-arch "${CUDA_ARCH:-90}" \
    --pristine-tarball .device/llama.cpp-pristine.tar.gz -j "$(nproc)" --target test-backend-ops --cmake=-DGGML_CUDA_FA=OFF > "$OUT/build.log" 2>&1 \
    || { tail -40 "$OUT/build.log"; exit 1; }
echo "built at +$(( $(date +%s) - T0 )) s"
B=build/gpu/bin/test-backend-ops
"$B" test -b CUDA0 -o MUL_MAT -p 'tq[12]_0' > "$OUT/test-backend-ops.log" 2>&1; echo "test rc=$?"
grep -E "tests passed|FAIL" "$OUT/test-backend-ops.log" | head -20
# shapes in order of importance, so that a cut-off run still brings back the first ones
: > "$OUT/kernels.log"; : > "$OUT/kernels-mmvq.log"
"$B" perf -b CUDA0 -o MUL_MAT -p 'type_a=(f16|q4_0|q2_0|tq2_0|tq1_0),type_b=f32,m=28672,n=(1|2|4|8),k=8192,' >> "$OUT/kernels.log" 2>&1
echo "kernels 28672x8192 rc=$? at +$(( $(date +%s) - T0 )) s"
TQ_GGUF_CUDA_MMV=0 "$B" perf -b CUDA0 -o MUL_MAT -p 'type_a=(tq2_0|tq1_0),type_b=f32,m=28672,n=(1|8),k=8192,' >> "$OUT/kernels-mmvq.log" 2>&1
if [ "$(left)" -gt 30 ]; then
  "$B" perf -b CUDA0 -o MUL_MAT -p 'type_a=(f16|q4_0|q2_0|tq2_0|tq1_0),type_b=f32,m=8192,n=(1|2|4|8),k=28672,' >> "$OUT/kernels.log" 2>&1
  echo "kernels 8192x28672 rc=$?"
fi
if [ "$(left)" -gt 15 ]; then
  "$B" perf -b CUDA0 -o MUL_MAT -p 'type_a=(f16|q4_0|tq2_0|tq1_0),type_b=f32,m=(4096|14336),n=(1|8),k=(4096|14336),' >> "$OUT/kernels.log" 2>&1
fi
for f in kernels kernels-mmvq; do
  [ -f "$OUT/$f.log" ] && grep "us/run" "$OUT/$f.log" | sed -E 's/MUL_MAT\(type_a=([a-z0-9_]+),type_b=f32,m=([0-9]+),n=([0-9]+),k=([0-9]+).*runs - +([0-9.]+) us\/run.*/'"$f"' \1 \2x\4 n=\3 \5/'
done
echo "done at +$(( $(date +%s) - T0 )) s"
