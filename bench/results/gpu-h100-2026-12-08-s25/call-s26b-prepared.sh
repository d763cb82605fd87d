# Prepared in session 25 for the device call after call-s26-prepared.sh (7-9 minutes): the MT = 2 prototype
# (proto-mt2.diff) inside llama.cpp, switched at run time by TQ_GGUF_CUDA_MMV_MT2=CODE (CODE: a launch of
# launch_mt2, the harness's variants 13..16; unset: main's launches, so the same pack is also main's baseline).
# MT2_CODES: the codes to try (default "13 15"; pick the winners of call-s26-prepared.sh's harness tables).
#   1. test-backend-ops (the `test` stage: every TQ MUL_MAT, fused and chained case) with each code: correctness of the
#      MT = 2 kernels inside ggml against the CPU backend;
#   2. test-backend-ops perf of the 70B shapes (and 4096 x 14336) at n = 1 and 8, F16 / Q4_0 / Q2_0 / TQ as built,
#      and the TQ cases again with the first code;
#   3. 8B-class models, then tg128 in three interleaved rounds: A (as built, with Q4_0 / Q2_0) against each code;
#   4. with time left, the sanitize stage (memcheck, racecheck) with the first code.
# Local prep (session 25 made the pack if .device/ survived; else about 25 minutes here):
#   git apply bench/results/gpu-h100-2026-12-08-s25/proto-mt2.diff && bench/prebuild_gpu.sh 2 && git apply -R bench/results/gpu-h100-2026-12-08-s25/proto-mt2.diff
#   mv .device/prebuilt-gpu.tar.xz .device/prebuilt-gpu-mt2.tar.xz   (this script unpacks that name)
#   cp bench/results/gpu-h100-2026-12-08-s25/call-s26b-prepared.sh .device/call-next-b.sh
# Carry [".device/prebuilt-gpu-mt2.tar.xz", ".device/call-next-b.sh"]; run `bash .device/call-next-b.sh`.
set -u
export OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
S=$OUT/summary.txt
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader > "$S"
CODES=${MT2_CODES:-13 15}
mv .device/prebuilt-gpu-mt2.tar.xz .device/prebuilt-gpu.tar.xz
timeout 120 bash bench/gpu_bench.sh build > /dev/null 2>&1; echo "build rc=$?" >> "$S"
grep -h "" build/gpu/PREBUILT.txt >> "$S" 2>/dev/null
for c in $CODES; do
  mkdir -p "$OUT/test-mt2-$c"
  OUT=$OUT/test-mt2-$c TQ_GGUF_CUDA_MMV_MT2=$c timeout 150 bash bench/gpu_bench.sh test > /dev/null 2>&1
  echo "test with TQ_GGUF_CUDA_MMV_MT2=$c rc=$?" >> "$S"; tail -5 "$OUT/test-mt2-$c/summary.txt" >> "$S"
done
first=${CODES%% *}
KN='1|8' KERNELS_B_ENV="TQ_GGUF_CUDA_MMV_MT2=$first" timeout 150 bash bench/gpu_bench.sh kernels > /dev/null 2>&1
echo "kernels (B: MT2=$first) rc=$?" >> "$S"
timeout 150 bash bench/gpu_bench.sh synth:8b models:8b > /dev/null 2>&1; echo "models:8b rc=$?" >> "$S"
AB_ENV=$(for c in $CODES; do printf 'TQ_GGUF_CUDA_MMV_MT2=%s;' "$c"; done); AB_ENV=${AB_ENV%;}
AB_ENV=$AB_ENV timeout 240 bash bench/gpu_bench.sh ab:8b > /dev/null 2>&1; echo "ab:8b ($AB_ENV) rc=$?" >> "$S"
# 4. if the call has time left (10-minute limit): the MT = 2 kernels under compute-sanitizer (memcheck, racecheck)
if [ "$SECONDS" -lt 420 ]; then
  mkdir -p "$OUT/sanitize-mt2-$first"
  OUT=$OUT/sanitize-mt2-$first TQ_GGUF_CUDA_MMV_MT2=$first timeout $((560 - SECONDS)) bash bench/gpu_bench.sh sanitize > /dev/null 2>&1
  echo "sanitize with TQ_GGUF_CUDA_MMV_MT2=$first rc=$?" >> "$S"; tail -6 "$OUT/sanitize-mt2-$first/summary.txt" >> "$S"
else
  echo "sanitize skipped: $SECONDS s used" >> "$S"
fi
( cd "$OUT" && tar czf /tmp/tq-logs.tgz --exclude=summary.txt . && find . -type f ! -name summary.txt -delete && mv /tmp/tq-logs.tgz logs.tgz )
cat "$S"
