# Prepared in session 25 for the first multi-GPU call (kind nvidia-h100-x2 or nvidia-h200-x2; none was ever lent):
# #6's "multi-GPU splits (-sm layer / row) working as for other quant types", about 5 minutes.
#   1. the test stage (test-backend-ops, every TQ case) on the second GPU (TEST_BACKEND=CUDA1): the per-device
#      launch caches;
#   2. 3B-class models (F16 synth + Q4_0 / TQ2_0 / TQ1_0), llama-bench -sm none,layer,row (FA off) and
#      none,layer,tensor (FA on), pp512 and tg128 (the multigpu stage);
#   3. Llama(n_gpu_layers=-1) logits against the CPU for each split mode.
# Carry [".device/prebuilt-gpu.tar.xz", ".device/call-multigpu.sh"] (the pack: bench/prebuild_gpu.sh, 34 MB; main's as
# of session 25); run `bash .device/call-multigpu.sh`.
set -u
export OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
S=$OUT/summary.txt
nvidia-smi --query-gpu=index,name,driver_version --format=csv,noheader > "$S"
timeout 120 bash bench/gpu_bench.sh build > /dev/null 2>&1; echo "build rc=$?" >> "$S"
TEST_BACKEND=CUDA1 timeout 150 bash bench/gpu_bench.sh test > /dev/null 2>&1; echo "test on CUDA1 rc=$?" >> "$S"
TQ_BENCH_TYPES="Q4_0 TQ2_0 TQ1_0" timeout 300 bash bench/gpu_bench.sh synth:3b models:3b multigpu:3b > /dev/null 2>&1
echo "multigpu:3b rc=$?" >> "$S"
LOGITS_SPLIT="none layer row tensor" timeout 120 bash bench/gpu_bench.sh logits > /dev/null 2>&1
echo "logits rc=$?" >> "$S"
( cd "$OUT" && tar czf /tmp/tq-logs.tgz --exclude=summary.txt . && find . -type f ! -name summary.txt -delete && mv /tmp/tq-logs.tgz logs.tgz )
cat "$S"
