#!/usr/bin/env bash
# tq_gguf GPU benchmark and check driver: one script for a device call.
#
#   bench/gpu_bench.sh STAGE...     stages run in order; logs go to $OUT (or bench/results/tmp)
#
# Stages:
#   build         CUDA Release build of the patched tree (tools only) into build/gpu; where .device/prebuilt-gpu.tar.xz
#                 is carried (bench/prebuild_gpu.sh), that build unpacked instead (GPU_BUILD_HERE=1: build anyway)
#   test          test-backend-ops (CUDA vs CPU) for every TQ1_0/TQ2_0 MUL_MAT, MUL_MAT_ID, GET_ROWS and
#                 fused gate/up + GLU mat-vec (MUL_MAT_VEC_FUSION) and one-input mat-vecs with or without the
#                 RMS norm in front (MUL_MAT_SHARED_SRC1) case, Q/K/V + rope + cache stores (MUL_MAT_QKV_ROPE),
#                 attention output CONT + projection + residual (MUL_MAT_ATTN_OUT), a layer's chain of mat-vecs
#                 (MUL_MAT_CHAIN), and the attention
#                 without flash attention (ATTN_NO_FA: fused, TQ_GGUF_CUDA_ATTN=0, TQ_GGUF_CUDA_ATTN_SPLIT=0);
#                 on backend $TEST_BACKEND (default CUDA0)
#   sanitize      the TQ2_0/TQ1_0 cases (subset) and ATTN_NO_FA under compute-sanitizer memcheck and racecheck
#   harness       bench/cuda_mmv_harness.cu (TQ mat-vec kernel alone: check + timing); $HARNESS_ARGS as for harness-ab
#   harness-ab    the harness's default launches, as built (A) vs with $HARNESS_B_ENV (B; several B sides
#                 separated by ';'), two rounds; $HARNESS_ARGS: ';'-separated harness argument lists (default none);
#                 with HARNESS_B_BIN (a second prebuilt harness, e.g. .device/bin/harness-base), B is that
#                 binary instead (an A/B of two kernel versions)
#   harness-layer bench/cuda_layer_harness.cu: an 8B-class layer's mat-vecs in sequence (us per layer, with
#                 and without the session-12 launch rules and the quantizers) against a read-only ceiling;
#                 $LAYER_B_ENV set: two rounds as built (A) and with each of its ';'-separated environments (B0, B1, ..);
#                 $LAYER_B_BIN set: the B sides run that prebuilt layer harness (another kernel version), as HARNESS_B_BIN
#   harness-ref   the same harness built from .device/ref/ (an earlier cuda_mmv_harness.cu and
#                 tq-mmv-kernel.cuh, copied there by hand: an A/B of kernel versions in one run)
#   profile       ncu (Speed Of Light, memory, occupancy, warp states, instruction mix) of the default
#                 TQ2_0 and TQ1_0 mat-vec at n = 1 on the two 70B shapes ($PROFILE_SHAPES: "M K;M K"),
#                 with stall reasons, pipe use and executed instructions per SASS opcode
#   profile-mmq   ncu of the TQ2_0 MMQ kernel (28672 x 8192, n = $PROFILE_MMQ_N, default 64 512): pipes, stalls
#   sass          per-opcode SASS instruction counts of the TQ mat-vec kernels in the harness binary
#   kernels-mmvq  TQ kernel perf cases with TQ_GGUF_CUDA_MMV=0 (mmvq path)
#   kernels-mmq   TQ batches ($MMQ_N, default 16|64|256|512), batched product off (TQ_GGUF_CUDA_MMB=0): MMQ
#                 only vs MMQ + dequantize + cuBLAS for large batches, and F16
#   kernels-mmb   TQ batches ($MMB_N, default 16|64|128|256|512) through the batched int8 product vs
#                 TQ_GGUF_CUDA_MMB=0 (MMQ, dequantize + cuBLAS from 256), and F16
#   kernels       test-backend-ops perf -o MUL_MAT for F16, Q4_0, Q2_0, TQ2_0, TQ1_0 (4096x14336, 70B shapes);
#                 KN: the batch sizes as a regex alternation (KN='1|8|512'; a comma list matches nothing);
#                 KERNELS_B_ENV: the TQ cases again with that environment
#   synth:CLS     the synthetic F16 GGUF of class CLS alone (no build needed: run it beside the build)
#   models:CLS    synthetic F16 GGUF of class CLS (3b, 8b, 13b; unless synth made it) + llama-quantize to
#                 Q4_0 Q2_0 TQ2_0 TQ1_0
#   bench:CLS     llama-bench pp512/tg128 fa 0,1, pp512 of the TQ types with TQ_GGUF_CUDA_MMB=0, tg128 of
#                 the TQ types as built and with $BENCH_AB_ENV, and llama-batched-bench (1..64) for those models
#   ab:CLS        tg128 A/B of the TQ types: default (A) vs with the environment $AB_ENV (B; several B
#                 sides separated by ';'), in three interleaved rounds with Q4_0/Q2_0 in each A round (the machines drift; FA=0 by default)
#   timeline:CLS  where a generated token's time goes (nsys, else a CUPTI trace: bench/cupti_trace.cpp; ncu
#                 without gaps if neither): kernel and critical-path time per token by kernel, GPU idle
#                 time, one layer's kernel sequence; $TL_TYPES (default TQ2_0 Q2_0), FA $TL_FA (default 0)
#   logits        Llama(n_gpu_layers=-1) vs CPU logits on a small synthetic model in TQ2_0 and TQ1_0;
#                 LOGITS_SPLIT: the split modes of the GPU run (default none; e.g. "none layer tensor" on 2 GPUs)
#   multigpu:CLS  2+ GPUs: llama-bench pp512/tg128 of Q4_0, TQ2_0, TQ1_0 with -sm none,layer,row (FA off) and
#                 none,layer,tensor (FA on)
#   rm:CLS        delete the models of CLS (disk)
# TQ_BENCH_TYPES: the quantized types of models:CLS and bench:CLS (default Q4_0 Q2_0 TQ2_0 TQ1_0; F16 is always there)
#
# Needs: nvcc, cmake, ninja, python3 with numpy; .device/llama.cpp-pristine.tar.gz from
# `python -m tq_gguf.source pack-device` (carried to the device machine).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. bench/gpu_build_tools.sh
OUT=${OUT:-$ROOT/bench/results/tmp}; mkdir -p "$OUT"
B=$ROOT/build/gpu; BIN=$B/bin
# a prebuilt build (bench/prebuild_gpu.sh) linked cuBLAS from a wheel: this machine's toolkit provides it at run time
prebuilt_libs() { export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}${CUDA_HOME:-/usr/local/cuda}/lib64; }
[ -f "$B/PREBUILT.txt" ] && prebuilt_libs
M=${TQ_MODELS:-/tmp/tq-models}; mkdir -p "$M"
TYPES=${TQ_BENCH_TYPES:-Q4_0 Q2_0 TQ2_0 TQ1_0} # the quantized types of models:CLS and bench:CLS
REPS=${REPS:-3}
SUMMARY=$OUT/summary.txt
say() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$SUMMARY"; }
# ncu metrics of the profile stages: stall reasons (cycles per issued instruction) and pipe use
NCU_STALLS_PIPES="regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio,regex:sm__inst_executed_pipe_.*\.avg\.pct_of_peak_sustained_active"
# H = a kernel harness binary (harness_binary NAME LOG): .device/bin/NAME if carried (built off the device, e.g. by
# bench/prebuild_harness_ab.sh), else built here (harness_nvcc) once per run into /tmp (log: $OUT/LOG)
harness_binary() {
  H=.device/bin/$1
  [ -x "$H" ] && return
  H=/tmp/tq_$1
  local built=HARNESS_BUILT_$1
  [ -n "${!built:-}" ] && return
  harness_nvcc "$1" "$H" > "$OUT/$2" 2>&1
  printf -v "$built" 1
}
# the mat-vec harness (cuda/tq-mmv-kernel.cuh)
harness_bin() { harness_binary harness harness-build.log; }

for stage in "$@"; do
  t0=$(date +%s)
  case $stage in
  build)
    say "build: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null)"
    # .device/prebuilt-gpu.tar.xz (bench/prebuild_gpu.sh, built off the device): unpacked instead of a build; its
    # binaries load this machine's libcublas.so.13 and libcuda.so.1 (ldd: none missing, test-backend-ops lists CUDA0).
    # If they do not, and the pristine tarball is here, the build below runs instead.
    rc=1
    if [ -f .device/prebuilt-gpu.tar.xz ] && [ -z "${GPU_BUILD_HERE:-}" ]; then
      mkdir -p "$B" && tar -C "$B" -xJf .device/prebuilt-gpu.tar.xz > "$OUT/build.log" 2>&1 && prebuilt_libs &&
        { ldd "$BIN/test-backend-ops" "$BIN/llama-bench" >> "$OUT/build.log" 2>&1; ! grep -q "not found" "$OUT/build.log"; } &&
        "$BIN/test-backend-ops" test -b CUDA0 -o GET_ROWS -p 'type=tq2_0' >> "$OUT/build.log" 2>&1 &&
        grep -q "Backend CUDA0: .*OK" "$OUT/build.log"
      rc=$?; say "build: prebuilt ($(head -1 "$B/PREBUILT.txt" 2>/dev/null); $(sed -n 2p "$B/PREBUILT.txt" 2>/dev/null)) rc=$rc"
      if [ $rc != 0 ]; then
        grep "not found" "$OUT/build.log" | sort -u; tail -3 "$OUT/build.log"
        [ -f .device/llama.cpp-pristine.tar.gz ] || exit 1
        rm -rf "$B"; mv "$OUT/build.log" "$OUT/build-prebuilt.log"; say "build: building here instead"
      fi
    fi
    if [ $rc != 0 ]; then
      # GPU_BUILD_FA=OFF: FA kernels compiled empty, for a call that must build and test at once (see gpu_build_tools.sh)
      gpu_build_tools "$B" "$(nproc)" "${GPU_BUILD_FA:-ON}" > "$OUT/build.log" 2>&1
      rc=$?; tail -3 "$OUT/build.log"; say "build rc=$rc"; [ $rc = 0 ] || exit 1
    fi ;;
  test)
    TEST_BACKEND=${TEST_BACKEND:-CUDA0} # e.g. CUDA1: the same cases on a second GPU
    # test-backend-ops on $TEST_BACKEND, appended to the log: backend_test [VAR=VALUE ...] -o OP [-p FILTER]
    backend_test() {
      local envs=()
      while [[ "${1:-}" == [A-Z_]*=* ]]; do envs+=("$1"); shift; done
      env "${envs[@]}" "$BIN/test-backend-ops" test -b "$TEST_BACKEND" "$@" >> "$OUT/test-backend-ops.log" 2>&1
    }
    : > "$OUT/test-backend-ops.log"
    for op in MUL_MAT MUL_MAT_ID GET_ROWS MUL_MAT_VEC_FUSION MUL_MAT_SHARED_SRC1 MUL_MAT_QKV_ROPE MUL_MAT_ATTN_OUT; do
      backend_test -o $op -p 'tq[12]_0'
      say "test $op rc=$?"
    done
    # a layer's chain of mat-vecs (O + residual, FFN norm, gate/up + GLU, down + residual, the next norm and Q/K/V)
    backend_test -o MUL_MAT_CHAIN -p 'tq[12]_0'
    say "test MUL_MAT_CHAIN rc=$?"
    # the attention block again with rope and the cache stores left to ggml (TQ_GGUF_CUDA_MMV_ROPE=0)
    echo "## TQ_GGUF_CUDA_MMV_ROPE=0" >> "$OUT/test-backend-ops.log"
    backend_test TQ_GGUF_CUDA_MMV_ROPE=0 -o MUL_MAT_QKV_ROPE -p 'tq[12]_0'
    say "test MUL_MAT_QKV_ROPE (TQ_GGUF_CUDA_MMV_ROPE=0) rc=$?"
    # the attention output with its CONT left to ggml (TQ_GGUF_CUDA_MMV_CONT=0)
    echo "## TQ_GGUF_CUDA_MMV_CONT=0" >> "$OUT/test-backend-ops.log"
    backend_test TQ_GGUF_CUDA_MMV_CONT=0 -o MUL_MAT_ATTN_OUT -p 'tq[12]_0'
    say "test MUL_MAT_ATTN_OUT (TQ_GGUF_CUDA_MMV_CONT=0) rc=$?"
    # the attention without flash attention (any weight type: no type filter), fused and left to ggml
    backend_test TQ_GGUF_CUDA_LOG=1 -o ATTN_NO_FA
    say "test ATTN_NO_FA rc=$? (fused: $(grep -c 'KQ, softmax and KQV in one launch' "$OUT/test-backend-ops.log") log line)"
    echo "## TQ_GGUF_CUDA_ATTN=0" >> "$OUT/test-backend-ops.log"
    backend_test TQ_GGUF_CUDA_ATTN=0 -o ATTN_NO_FA
    say "test ATTN_NO_FA (TQ_GGUF_CUDA_ATTN=0) rc=$?"
    echo "## TQ_GGUF_CUDA_ATTN_SPLIT=0" >> "$OUT/test-backend-ops.log"
    backend_test TQ_GGUF_CUDA_ATTN_SPLIT=0 -o ATTN_NO_FA
    say "test ATTN_NO_FA (TQ_GGUF_CUDA_ATTN_SPLIT=0: one CTA per head) rc=$?"
    # MUL_MAT batch 1..8 again through mmvq (the tq-mmv kernel is the default there): both paths stay tested
    echo "## TQ_GGUF_CUDA_MMV=0" >> "$OUT/test-backend-ops.log"
    backend_test TQ_GGUF_CUDA_MMV=0 -o MUL_MAT -p 'tq[12]_0'
    say "test MUL_MAT (mmvq, TQ_GGUF_CUDA_MMV=0) rc=$?"
    # batches again through MMQ (without the batched product, and without dequantize + cuBLAS from 256)
    echo "## TQ_GGUF_CUDA_MMB=0 TQ_GGUF_CUDA_CUBLAS_MIN_BATCH=0" >> "$OUT/test-backend-ops.log"
    backend_test TQ_GGUF_CUDA_MMB=0 TQ_GGUF_CUDA_CUBLAS_MIN_BATCH=0 -o MUL_MAT -p 'tq[12]_0'
    say "test MUL_MAT (MMQ only, TQ_GGUF_CUDA_MMB=0 TQ_GGUF_CUDA_CUBLAS_MIN_BATCH=0) rc=$?"
    # TEST_B_ENV: the mat-vec ops again with that environment (a new launch option before it becomes a default)
    if [ -n "${TEST_B_ENV:-}" ]; then
      echo "## $TEST_B_ENV" >> "$OUT/test-backend-ops.log"
      for op in MUL_MAT MUL_MAT_VEC_FUSION MUL_MAT_SHARED_SRC1 MUL_MAT_QKV_ROPE MUL_MAT_ATTN_OUT MUL_MAT_CHAIN; do
        backend_test $TEST_B_ENV -o $op -p 'tq[12]_0'
        say "test $op ($TEST_B_ENV) rc=$?"
      done
    fi
    say "test: $(grep -E 'tests passed' "$OUT/test-backend-ops.log" | tr -s ' ' | tr '\n' ';') FAIL lines: $(grep -c 'FAIL' "$OUT/test-backend-ops.log")"
    grep -E "FAIL" "$OUT/test-backend-ops.log" | head -20 ;;
  sanitize)
    for tool in memcheck racecheck; do
      for t in tq2_0 tq1_0; do
        compute-sanitizer --tool $tool --error-exitcode 9 "$BIN/test-backend-ops" test -b CUDA0 -o MUL_MAT \
          -p "type_a=$t,type_b=f32,m=(256|67|300|1023|129|200),n=(1|3|8|16|33|65|67|129|512),k=(1024|768|2048|4096|14336|3072)," > "$OUT/sanitize-$tool-$t.log" 2>&1
        rc1=$?
        rc2=""  # one exit code per group, '/'-separated
        for op in GET_ROWS MUL_MAT_VEC_FUSION MUL_MAT_SHARED_SRC1 MUL_MAT_QKV_ROPE MUL_MAT_ATTN_OUT MUL_MAT_CHAIN; do
          compute-sanitizer --tool $tool --error-exitcode 9 "$BIN/test-backend-ops" test -b CUDA0 -o $op \
            -p "type=$t" >> "$OUT/sanitize-$tool-$t.log" 2>&1
          rc=$?; rc2=${rc2:+$rc2/}$rc
        done
        say "sanitize $tool $t rc=$rc1/$rc2 $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$OUT/sanitize-$tool-$t.log" | sort | uniq -c | tr '\n' ' ')"
      done
      compute-sanitizer --tool $tool --error-exitcode 9 "$BIN/test-backend-ops" test -b CUDA0 -o ATTN_NO_FA > "$OUT/sanitize-$tool-attn.log" 2>&1
      say "sanitize $tool ATTN_NO_FA rc=$? $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$OUT/sanitize-$tool-attn.log" | sort | uniq -c | tr '\n' ' ')"
    done
    cat "$OUT"/sanitize-*.log > "$OUT/sanitize.log"; rm -f "$OUT"/sanitize-*.log ;;
  harness)
    # standalone TQ mat-vec kernel harness (cuda/tq-mmv-kernel.cuh): correctness vs float64 + timing
    # HARNESS_ARGS: ';'-separated argument lists (reps M K TYPE), one run each (default: one run over every shape)
    harness_bin
    : > "$OUT/harness.log"
    IFS=';' read -ra runs <<< "${HARNESS_ARGS:-}"
    [ ${#runs[@]} = 0 ] && runs=("")
    for r in "${runs[@]}"; do
      $H $r >> "$OUT/harness.log" 2>&1
      say "harness $r rc=$?"
    done
    grep -E "^\||fails|FAIL|device|copy" "$OUT/harness.log" | tee -a "$SUMMARY" ;;
  harness-mmb)
    # standalone batched-product harness (cuda/tq-mmb-kernel.cuh): every launch shape vs float64, timed
    # against the mat-vec; MMB_HARNESS_ARGS: ';'-separated argument lists (reps M K TYPE NMIN NMAX)
    harness_binary mmb_harness mmb-harness-build.log
    : > "$OUT/mmb-harness.log"
    IFS=';' read -ra runs <<< "${MMB_HARNESS_ARGS:-10}"
    for r in "${runs[@]}"; do
      echo "## mmb_harness $r" >> "$OUT/mmb-harness.log"
      $H $r >> "$OUT/mmb-harness.log" 2>&1
      say "harness-mmb ($r) rc=$?"
    done
    grep -E "^\||fails|FAIL|^## " "$OUT/mmb-harness.log" | tee -a "$SUMMARY" ;;
  harness-layer)
    # with LAYER_B_ENV or LAYER_B_BIN: two interleaved rounds, as built (A) and each B side: the environments of
    # LAYER_B_ENV (separated by ';', as AB_ENV), run by LAYER_B_BIN if set (a second prebuilt layer harness, e.g.
    # .device/bin/layer_harness-base: an A/B of two kernel versions; then one side by default), as harness-ab
    harness_binary layer_harness layer-harness-build.log
    if [ -z "${LAYER_B_ENV:-}${LAYER_B_BIN:-}" ]; then
      $H 5 > "$OUT/layer-harness.log" 2>&1
      say "harness-layer rc=$?"; grep -E "^\||fails|FAIL" "$OUT/layer-harness.log" | tee -a "$SUMMARY"
    else
      HB=${LAYER_B_BIN:-$H}
      IFS=';' read -ra B_SIDES <<< "${LAYER_B_ENV:-TQ_HARNESS_B=1}"
      for r in 1 2; do
        $H 5 > "$OUT/layer-harness-A-$r.log" 2>&1; say "harness-layer A round $r rc=$?"
        for i in "${!B_SIDES[@]}"; do
          b_env=$(echo ${B_SIDES[$i]})
          env $b_env "$HB" 5 > "$OUT/layer-harness-B$i-$r.log" 2>&1; say "harness-layer B$i ($HB $b_env) round $r rc=$?"
        done
      done
      python3 bench/harness_ab.py "$OUT"/layer-harness-A-*.log "$OUT"/layer-harness-B*-*.log | tee -a "$SUMMARY"
    fi ;;
  harness-ab)
    # default launches only (TQ_HARNESS_DEFAULT_ONLY), A = as built vs B = with $HARNESS_B_ENV (B sides separated
    # by ';'), two interleaved rounds
    harness_bin
    HB=${HARNESS_B_BIN:-$H}; BENV=${HARNESS_B_ENV:-TQ_GGUF_CUDA_MMV_RULES=0}
    [ -n "${HARNESS_B_BIN:-}" ] && BENV=${HARNESS_B_ENV:-TQ_HARNESS_B=1}
    IFS=';' read -ra B_SIDES <<< "$BENV"
    # HARNESS_ARGS: ';'-separated argument lists of the harness (reps M K TYPE), each run on every side
    IFS=';' read -ra H_ARGS <<< "${HARNESS_ARGS:- }"
    for r in 1 2; do
      for a in "${H_ARGS[@]}"; do
        TQ_HARNESS_DEFAULT_ONLY=1 $H $a >> "$OUT/harness-A-$r.log" 2>&1
        for i in "${!B_SIDES[@]}"; do
          env $(echo ${B_SIDES[$i]}) TQ_HARNESS_DEFAULT_ONLY=1 $HB $a >> "$OUT/harness-B$i-$r.log" 2>&1
        done
      done
    done
    say "harness-ab (B: $HB $BENV): $(grep -h fails "$OUT"/harness-[AB]*-*.log | tr '\n' ' ')"
    python3 bench/harness_ab.py "$OUT"/harness-A-*.log "$OUT"/harness-B*-*.log > "$OUT/harness-ab.md"
    cat "$OUT/harness-ab.md" >> "$SUMMARY" ;;
  harness-ref)
    [ -d .device/ref ] || { say "harness-ref: no .device/ref"; continue; }
    nvcc -arch=sm_"${CUDA_ARCH:-90}" -O3 -std=c++17 -I.device/ref .device/ref/cuda_mmv_harness.cu -o /tmp/tq_mmv_harness_ref > "$OUT/harness-ref.log" 2>&1 &&
      /tmp/tq_mmv_harness_ref >> "$OUT/harness-ref.log" 2>&1
    say "harness-ref rc=$?"; grep -E "^\||fails|FAIL|device|copy" "$OUT/harness-ref.log" | tee -a "$SUMMARY" ;;
  profile)
    harness_bin
    : > "$OUT/profile.log"
    IFS=';' read -ra shapes <<< "${PROFILE_SHAPES:-28672 8192;8192 28672}"
    # PROFILE_SKIP: mat-vec launches to skip (0: the default kernel at n = 1). Per column count, in the order n = 1,
    # 2, 3, 4, 8, the harness (reps 1) makes 69 launches: 13 checks, then 14 timed variants x (3 warm-up + 1). So
    # 276 is the default kernel at n = 8 (session 24; 52, used in its first call, is a timed n = 1 variant).
    # PROFILE_TYPES: 2 and/or 1
    skip=${PROFILE_SKIP:-0}
    for shape in "${shapes[@]}"; do
      for ty in ${PROFILE_TYPES:-2 1}; do
        echo "## TQ${ty}_0 $shape (launch-skip $skip)" >> "$OUT/profile.log"
        ncu --clock-control none -k regex:tq_mmv_kernel --launch-skip "$skip" -c 1 --section SpeedOfLight --section MemoryWorkloadAnalysis \
            --section Occupancy --section WarpStateStats --section InstructionStats --section LaunchStats \
            $H 1 $shape $ty >> "$OUT/profile.log" 2>&1
        # stall reasons (cycles per issued instruction), pipe use, executed instructions per opcode; a
        # separate run, so that a metric this ncu lacks costs only these lines
        ncu --clock-control none -k regex:tq_mmv_kernel --launch-skip "$skip" -c 1 --print-metric-instances values \
            --metrics "$NCU_STALLS_PIPES,sass__inst_executed_per_opcode" \
            $H 1 $shape $ty >> "$OUT/profile.log" 2>&1
      done
    done
    say "profile rc=$?"; grep -E "^## |DRAM Throughput|Memory Throughput|Duration|Achieved Occupancy|Registers Per|Issue Slots Busy|Executed Ipc A|Warp Cycles Per Issued|Block Limit|Block Size|Grid Size|L1/TEX Hit Rate|L2 Hit Rate|L1/TEX Cache Throughput|L2 Cache Throughput" "$OUT/profile.log" | tee -a "$SUMMARY" ;;
  profile-mmq)
    # ncu of the TQ2_0 MMQ kernel alone (MMQ only) on 28672 x 8192 at n = 64 and 512: what bounds it
    : > "$OUT/profile-mmq.log"
    for n in ${PROFILE_MMQ_N:-64 512}; do
      echo "## TQ2_0 MMQ 28672 x 8192 n = $n" >> "$OUT/profile-mmq.log"
      TQ_GGUF_CUDA_MMB=0 TQ_GGUF_CUDA_CUBLAS_MIN_BATCH=0 ncu --clock-control none -k regex:'^mul_mat_q($|<)' -c 1 --section SpeedOfLight \
          --section Occupancy --section WarpStateStats --section LaunchStats --section ComputeWorkloadAnalysis \
          --metrics "$NCU_STALLS_PIPES" \
          "$BIN/test-backend-ops" perf -b CUDA0 -o MUL_MAT -p "type_a=tq2_0,type_b=f32,m=28672,n=$n,k=8192," >> "$OUT/profile-mmq.log" 2>&1
    done
    say "profile-mmq rc=$?"; grep -E "^## |Duration|Compute \(SM\) Throughput|Memory Throughput|Achieved Occupancy|Registers Per|Issue Slots Busy|Warp Cycles Per Issued|Block Limit" "$OUT/profile-mmq.log" | tee -a "$SUMMARY" ;;
  sass)
    # static SASS opcode counts per TQ mat-vec kernel instantiation of the harness binary
    harness_bin
    cuobjdump -sass "$H" > /tmp/tq-harness.sass 2>&1
    python3 bench/sass_mix.py /tmp/tq-harness.sass > "$OUT/sass-mix.md" 2>&1
    say "sass rc=$?: $(wc -l < "$OUT/sass-mix.md") lines" ;;
  kernels-mmvq)
    # the same TQ perf cases through mmvq (A/B for the tq-mmv kernel)
    TQ_GGUF_CUDA_MMV=0 "$BIN/test-backend-ops" perf -b CUDA0 -o MUL_MAT -p 'type_a=(tq2_0|tq1_0),type_b=f32,m=(8192|28672),n=(1|2|4|8),k=(28672|8192),' \
        > "$OUT/kernels-mmvq.log" 2>&1
    say "kernels-mmvq rc=$?"; grep -E "MUL_MAT" "$OUT/kernels-mmvq.log" | sed -E 's/ +/ /g' | cut -c1-200 | tee -a "$SUMMARY" ;;
  kernels-mmq)
    # TQ batches 16..512 through MMQ vs the default (dequantize + cuBLAS from 256): where the crossover is
    for env in 0 1; do
      TQ_GGUF_CUDA_MMB=0 TQ_GGUF_CUDA_CUBLAS_MIN_BATCH=$env "$BIN/test-backend-ops" perf -b CUDA0 -o MUL_MAT \
          -p 'type_a=(f16|tq2_0|tq1_0),type_b=f32,m=(8192|28672),n=('"${MMQ_N:-16|64|256|512}"'),k=(28672|8192),' \
          > "$OUT/kernels-cublas-min-$env.log" 2>&1
      say "kernels TQ_GGUF_CUDA_CUBLAS_MIN_BATCH=$env rc=$?"
      grep -E "MUL_MAT" "$OUT/kernels-cublas-min-$env.log" | sed -E 's/ +/ /g' | cut -c1-160 | tee -a "$SUMMARY"
    done ;;
  kernels-mmb)
    # TQ batches through the batched int8 product (default) vs without it (TQ_GGUF_CUDA_MMB=0: MMQ below
    # 256 columns, dequantize + cuBLAS from 256), F16 in the same run
    for env in 1 0; do
      TQ_GGUF_CUDA_MMB=$env "$BIN/test-backend-ops" perf -b CUDA0 -o MUL_MAT \
          -p 'type_a=(f16|tq2_0|tq1_0),type_b=f32,m=(8192|28672),n=('"${MMB_N:-16|64|128|256|512}"'),k=(28672|8192),' \
          > "$OUT/kernels-mmb-$env.log" 2>&1
      say "kernels TQ_GGUF_CUDA_MMB=$env rc=$?"
      grep -E "MUL_MAT" "$OUT/kernels-mmb-$env.log" | sed -E 's/ +/ /g' | cut -c1-160 | tee -a "$SUMMARY"
    done ;;
  kernels)
    # kernels_perf TYPES LOG [VAR=VALUE ..]: MUL_MAT perf of the types (regex alternation) on the 70B shapes
    kernels_perf() {
      local types=$1 log=$2; shift 2
      env "$@" "$BIN/test-backend-ops" perf -b CUDA0 -o MUL_MAT \
          -p "type_a=($types),type_b=f32,m=(8192|28672),n=(${KN:-1|2|4|8|512}),k=(28672|8192)," > "$OUT/$log" 2>&1
      say "kernels $* rc=$?"; grep -E "MUL_MAT" "$OUT/$log" | sed -E 's/ +/ /g' | cut -c1-200 | tee -a "$SUMMARY"
    }
    kernels_perf 'f16|q4_0|q2_0|tq2_0|tq1_0' kernels.log
    # KERNELS_B_ENV: the TQ cases again with that environment
    if [ -n "${KERNELS_B_ENV:-}" ]; then
      kernels_perf 'tq2_0|tq1_0' kernels-b.log $KERNELS_B_ENV
    fi ;;
  synth:*)
    # the F16 model alone (gguf-py from the pristine tarball): can run beside the build (gpu_call.sh -p)
    c=${stage#synth:}
    # gguf-py from the pristine tarball, else from the prebuilt pack (a call that carries only the pack)
    mkdir -p /tmp/synth-gguf
    if [ -f .device/llama.cpp-pristine.tar.gz ]; then
      tar xzf .device/llama.cpp-pristine.tar.gz -C /tmp/synth-gguf llama.cpp/gguf-py; gguf_py=/tmp/synth-gguf/llama.cpp/gguf-py
    else
      tar xJf .device/prebuilt-gpu.tar.xz -C /tmp/synth-gguf upstream/llama.cpp/gguf-py; gguf_py=/tmp/synth-gguf/upstream/llama.cpp/gguf-py
    fi
    PYTHONPATH=$gguf_py python3 bench/make_synth_model.py "$c" "$M/$c-f16.gguf.part" > "$OUT/synth-$c.log" 2>&1 &&
      mv "$M/$c-f16.gguf.part" "$M/$c-f16.gguf"
    rc=$?; say "synth $c rc=$rc"; [ $rc = 0 ] || { tail "$OUT/synth-$c.log"; exit 1; } ;;
  models:*)
    c=${stage#models:}
    [ -f "$M/$c-f16.gguf" ] || bash "$ROOT/bench/gpu_bench.sh" "synth:$c" || { say "model gen failed"; exit 1; }
    for t in $TYPES; do
      "$BIN/llama-quantize" "$M/$c-f16.gguf" "$M/$c-$t.gguf" $t $(nproc) >> "$OUT/models-$c.log" 2>&1 || say "quantize $t failed"
    done
    ls -la "$M" | tee -a "$SUMMARY" ;;
  bench:*)
    c=${stage#bench:}
    args=""; for t in F16 $TYPES; do [ $t = F16 ] && f=$M/$c-f16.gguf || f=$M/$c-$t.gguf; args="$args -m $f"; done
    "$BIN/llama-bench" -ngl 99 -p 512 -n 128 -r "$REPS" -fa "${FA:-0,1}" $args -o md > "$OUT/bench-$c.log" 2>&1
    say "llama-bench $c rc=$?"; grep '^|' "$OUT/bench-$c.log" | tee -a "$SUMMARY"
    # A/B for prompts: the TQ types without the batched product (TQ_GGUF_CUDA_MMB=0: MMQ, and dequantize +
    # cuBLAS from 256 columns)
    TQ_GGUF_CUDA_MMB=0 "$BIN/llama-bench" -ngl 99 -p 512 -n 0 -r "$REPS" -fa 0 -m "$M/$c-TQ2_0.gguf" -m "$M/$c-TQ1_0.gguf" -o md \
        > "$OUT/bench-$c-nommb.log" 2>&1
    say "llama-bench $c pp512 TQ_GGUF_CUDA_MMB=0 rc=$?"; grep '^|' "$OUT/bench-$c-nommb.log" | tee -a "$SUMMARY"
    # A/B for decoding: the TQ types as built (A, TQ_GGUF_CUDA_LOG=1: which fusions apply) and with the
    # environment $BENCH_AB_ENV (B; default TQ_GGUF_CUDA_MMV_CONT=0: the attention output's CONT left to ggml)
    b_env=${BENCH_AB_ENV:-TQ_GGUF_CUDA_MMV_CONT=0}
    TQ_GGUF_CUDA_LOG=1 "$BIN/llama-bench" -ngl 99 -p 0 -n 128 -r "$REPS" -fa "${FA:-0,1}" -m "$M/$c-TQ2_0.gguf" -m "$M/$c-TQ1_0.gguf" -o md \
        > "$OUT/bench-$c-tg-a.log" 2>&1
    env $b_env "$BIN/llama-bench" -ngl 99 -p 0 -n 128 -r "$REPS" -fa "${FA:-0,1}" -m "$M/$c-TQ2_0.gguf" -m "$M/$c-TQ1_0.gguf" -o md \
        > "$OUT/bench-$c-tg-b.log" 2>&1
    say "llama-bench $c tg128 A (as built) then B ($b_env) rc=$?"; grep -h '^|\|tq_gguf:' "$OUT/bench-$c-tg-a.log" "$OUT/bench-$c-tg-b.log" | tee -a "$SUMMARY"
    for t in F16 $TYPES; do
      [ $t = F16 ] && f=$M/$c-f16.gguf || f=$M/$c-$t.gguf
      echo "## $t" >> "$OUT/batched-$c.log"
      "$BIN/llama-batched-bench" -m "$f" -ngl 99 -c 16384 -b 2048 -ub 512 -npp 128 -ntg 64 -npl "${NPL:-1,2,4,8,16,32,64}" \
          >> "$OUT/batched-$c.log" 2>&1 || say "batched $t failed"
    done
    python3 - "$OUT/batched-$c.log" <<'PY' | tee -a "$SUMMARY"
import sys, re
cur, rows = None, {}
for line in open(sys.argv[1]):
    if line.startswith("## "): cur = line[3:].strip(); continue
    m = re.match(r"\|\s+128 \|\s+64 \|\s+(\d+) \|.*", line)
    if m and cur:
        cols = [c.strip() for c in line.strip().strip("|").split("|")]
        rows.setdefault(cur, {})[int(cols[2])] = float(cols[7])  # S_TG t/s
print("batched S_TG t/s  " + " ".join(f"B={b:<6}" for b in (1, 2, 4, 8, 16, 32, 64)))
for t, r in rows.items():
    print(f"{t:16s}  " + " ".join(f"{r.get(b, 0):8.1f}" for b in (1, 2, 4, 8, 16, 32, 64)))
PY
    ;;
  ab:*)
    # AB_ENV: one B side per ';'-separated group of assignments, each run in every round
    c=${stage#ab:}; AB_ENV=${AB_ENV:-TQ_GGUF_CUDA_MMV=0}
    : > "$OUT/ab-$c.log"
    IFS=';' read -ra B_SIDES <<< "$AB_ENV"
    for r in 1 2 3; do
      echo "## ab=A round $r" >> "$OUT/ab-$c.log"
      "$BIN/llama-bench" -ngl 99 -p 0 -n 128 -r 3 -fa "${FA:-0}" -m "$M/$c-Q4_0.gguf" -m "$M/$c-Q2_0.gguf" \
          -m "$M/$c-TQ2_0.gguf" -m "$M/$c-TQ1_0.gguf" -o md >> "$OUT/ab-$c.log" 2>&1
      for b_env in "${B_SIDES[@]}"; do
        b_env=$(echo $b_env)
        echo "## ab=B(${b_env// /,}) round $r" >> "$OUT/ab-$c.log"
        env $b_env "$BIN/llama-bench" -ngl 99 -p 0 -n 128 -r 3 -fa "${FA:-0}" -m "$M/$c-TQ2_0.gguf" \
            -m "$M/$c-TQ1_0.gguf" -o md >> "$OUT/ab-$c.log" 2>&1
      done
    done
    python3 - "$OUT/ab-$c.log" <<'PY' | tee -a "$SUMMARY"
import re, statistics, sys
runs, side = {}, None
for line in open(sys.argv[1]):
    if line.startswith("## ab="): side = line.split()[1]; continue
    if "tg128" in line:
        cols = [c.strip() for c in line.strip().strip("|").split("|")]
        t = cols[0].split()[2] if len(cols[0].split()) > 2 else cols[0]
        runs.setdefault((t, side), []).append(float(cols[-1].split()[0]))
for (t, f), v in sorted(runs.items()):
    print(f"ab tg128 {t:6s} {f}: median {statistics.median(v):7.1f} t/s  rounds {' '.join(f'{x:.1f}' for x in v)}")
PY
    ;;
  timeline:*)
    # nsys where installed; else bench/cupti_trace.cpp (a CUPTI injection library: the same trace with
    # real start and end times); ncu (kernels serialised, no gaps) only if neither works.
    # TL_TYPES: model types (f16 for the F16 model), TL_FA: flash attention 0 or 1.
    c=${stage#timeline:}
    NSYS=$(command -v nsys || ls /usr/local/cuda/bin/nsys /opt/nvidia/nsight-systems/*/bin/nsys 2>/dev/null | head -1)
    TRACE_LIB=""
    if [ -z "$NSYS" ]; then
      CUPTI_H=$(ls "${CUDA_HOME:-/usr/local/cuda}"/include/cupti.h /usr/local/cuda/extras/CUPTI/include/cupti.h \
                $(python3 -c 'import nvidia, os; print(os.path.dirname(nvidia.__path__[0]))' 2>/dev/null)/nvidia/cuda_cupti/include/cupti.h 2>/dev/null | head -1)
      CUPTI_SO=$(ls "${CUDA_HOME:-/usr/local/cuda}"/lib64/libcupti.so /usr/local/cuda/extras/CUPTI/lib64/libcupti.so \
                 "$(dirname "$(dirname "$CUPTI_H")")"/lib/libcupti.so* 2>/dev/null | head -1)
      if [ -n "$CUPTI_H" ] && [ -n "$CUPTI_SO" ] && g++ -shared -fPIC -O2 bench/cupti_trace.cpp -I"$(dirname "$CUPTI_H")" \
            "$CUPTI_SO" -Wl,-rpath,"$(dirname "$CUPTI_SO")" -o /tmp/libtq_trace.so > "$OUT/cupti-build.log" 2>&1; then
        TRACE_LIB=/tmp/libtq_trace.so
      fi
    fi
    fa=${TL_FA:-0}
    for t in ${TL_TYPES:-TQ2_0 Q2_0}; do
      log=$OUT/timeline-$c-$t-fa$fa.log
      if [ -n "$NSYS" ]; then
        "$NSYS" profile -t cuda --cuda-graph-trace=node -o "/tmp/tl-$c-$t" -f true \
            "$BIN/llama-bench" -m "$M/$c-$t.gguf" -ngl 99 -p 0 -n 64 -r 1 -fa "$fa" > "$log" 2>&1
        "$NSYS" stats -q -r cuda_gpu_trace -f csv -o "/tmp/tl-$c-$t" "/tmp/tl-$c-$t.nsys-rep" >> "$log" 2>&1
        python3 bench/gpu_timeline.py nsys "/tmp/tl-$c-${t}_cuda_gpu_trace.csv" 65 >> "$log" 2>&1
      elif [ -n "$TRACE_LIB" ]; then
        CUDA_INJECTION64_PATH=$TRACE_LIB TQ_TRACE_OUT=/tmp/tl-$c-$t.csv \
            "$BIN/llama-bench" -m "$M/$c-$t.gguf" -ngl 99 -p 0 -n 64 -r 1 -fa "$fa" > "$log" 2>&1
        python3 bench/gpu_timeline.py nsys "/tmp/tl-$c-$t.csv" 32 >> "$log" 2>&1
      else
        ncu --csv --metrics gpu__time_duration.sum "$BIN/llama-bench" -m "$M/$c-$t.gguf" -ngl 99 -p 0 -n 4 -r 1 -fa "$fa" \
            > "/tmp/tl-$c-$t.csv" 2> "$log"
        python3 bench/gpu_timeline.py ncu "/tmp/tl-$c-$t.csv" 5 >> "$log" 2>&1
      fi
      say "timeline $c $t fa $fa (${NSYS:-${TRACE_LIB:-ncu}}): $(grep -E '^(per token|idle)' "$log" | tr '\n' ';')"
    done ;;
  logits)
    # small synthetic model, quantized to each ternary type; Llama(n_gpu_layers=-1) vs CPU
    PYTHONPATH=$B/upstream/llama.cpp/gguf-py python3 - "$M/tiny-f16.gguf" <<'PY' > "$OUT/logits.log" 2>&1
import importlib.util, sys
spec = importlib.util.spec_from_file_location("m", "bench/make_synth_model.py"); m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
m.PRESETS["tiny"] = dict(n_embd=1024, n_ff=2816, n_layer=6, n_head=16, n_head_kv=4)
sys.argv = ["m", "tiny", sys.argv[1]]; m.main()
PY
    for t in TQ2_0 TQ1_0; do "$BIN/llama-quantize" "$M/tiny-f16.gguf" "$M/tiny-$t.gguf" $t >> "$OUT/logits.log" 2>&1; done
    python3 -c "import diskcache" 2>/dev/null || { mkdir -p /tmp/stubs; echo "class Cache: pass" > /tmp/stubs/diskcache.py; }
    export PYTHONFAULTHANDLER=1 PYTHONPATH=$B/upstream:/tmp/stubs LLAMA_CPP_LIB_PATH=$BIN
    # Seen on the device image (CUDA 13.0.88): libggml-cuda.so carries its own copy of libstdc++ (no
    # NEEDED entry, ~150 exported std::ostream/locale symbols) and, loaded through ctypes, libllama's
    # std::ostream calls bind to it and crash in llama_model::print_info (SIGSEGV; cuda-gdb backtrace
    # in gpu-h200-2026-11-22-r2/). Loading the system libstdc++ first avoids it; llama-bench is unaffected.
    libstdcxx=$(g++ -print-file-name=libstdc++.so.6)
    for sm in ${LOGITS_SPLIT:-none}; do
      LD_PRELOAD=$libstdcxx python3 bench/gpu_logits.py --split-mode "$sm" \
          "$M/tiny-TQ2_0.gguf" "$M/tiny-TQ1_0.gguf" >> "$OUT/logits.log" 2>&1
      say "logits split $sm rc=$?"
    done
    grep "^logits" "$OUT/logits.log" | tee -a "$SUMMARY"
    { readelf -d "$BIN/libggml-cuda.so" | grep NEEDED; nm -D --defined-only "$BIN/libggml-cuda.so" | grep -c -E " (_ZNSo|_ZNSt6locale|_ZNKSt7codecvt)"; } > "$OUT/logits-libs.log" 2>&1
    unset PYTHONFAULTHANDLER PYTHONPATH LLAMA_CPP_LIB_PATH ;;
  multigpu:*)
    # Two or more GPUs: the models of CLS (models:CLS first) split as llama.cpp splits any type, pp512 and
    # tg128 beside -sm none (one GPU) in the same run. layer: whole layers per GPU; row: this pinned ggml-cuda
    # has no row-split buffer type, so llama.cpp keeps whole layers as with layer; tensor: ggml's meta
    # backend splits every matrix by rows or along K in whole blocks, and needs flash attention.
    c=${stage#multigpu:}
    ngpu=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
    if [ "$ngpu" -lt 2 ]; then say "multigpu: $ngpu GPU(s), skipped"; continue; fi
    args=""; for t in Q4_0 TQ2_0 TQ1_0; do args="$args -m $M/$c-$t.gguf"; done
    "$BIN/llama-bench" -ngl 99 -p 512 -n 128 -r "$REPS" -sm none,layer,row -fa 0 $args -o md > "$OUT/multigpu-$c.log" 2>&1
    say "multigpu $c ($ngpu GPUs) fa 0 rc=$?"
    "$BIN/llama-bench" -ngl 99 -p 512 -n 128 -r "$REPS" -sm none,layer,tensor -fa 1 $args -o md >> "$OUT/multigpu-$c.log" 2>&1
    say "multigpu $c ($ngpu GPUs) fa 1 rc=$?"; grep '^|' "$OUT/multigpu-$c.log" | tee -a "$SUMMARY" ;;
  rm:*) c=${stage#rm:}; rm -f "$M/$c-"*.gguf ;;
  *) echo "unknown stage $stage"; exit 2 ;;
  esac
  say "stage $stage took $(( $(date +%s) - t0 )) s"
done
