# The CUDA tools build of the device calls, sourced by bench/gpu_bench.sh (build stage, on the device) and
# bench/prebuild_gpu.sh (here, packed for a call), so that both build the same thing; likewise the kernel harnesses
# (harness_nvcc: gpu_bench.sh and bench/prebuild_harness_ab.sh).
#   gpu_build_tools BUILD_DIR JOBS FA [more `python -m tq_gguf build-tools` arguments]
# Portable x86 features (AVX2, no AMX): the host CPU only runs the CPU side of the logits check, and upstream's AMX
# path (picked by -march=native on AMX Xeons) crashes on Q4_0/Q8_0/Q6_K weights. FA=OFF: ggml's FlashAttention
# kernels compiled empty (84 of the 189 CUDA sources); FA then runs nowhere (llama-bench -fa 1, FA=1 stages).
gpu_build_tools() {
  local build_dir=$1 jobs=$2 fa=$3; shift 3
  python3 -m tq_gguf build-tools --build-dir "$build_dir" --cuda --cuda-arch "${CUDA_ARCH:-90}" \
      --pristine-tarball .device/llama.cpp-pristine.tar.gz -j "$jobs" --no-native \
      --cmake=-DGGML_AVX=ON --cmake=-DGGML_AVX2=ON --cmake=-DGGML_FMA=ON --cmake=-DGGML_F16C=ON --cmake=-DGGML_BMI2=ON \
      --cmake=-DGGML_CUDA_FA="$fa" "$@" \
      --target test-backend-ops --target llama-bench --target llama-batched-bench --target llama-quantize
}

# The standalone kernel harnesses by name (bench/cuda_*_harness.cu: cuda/ and bench/ headers only, no ggml) and
# their one nvcc line.
#   harness_nvcc NAME OUT      (run in a tree with cuda/ and bench/)
declare -gA HARNESS_SOURCE=([harness]=cuda_mmv_harness.cu [layer_harness]=cuda_layer_harness.cu [mmb_harness]=cuda_mmb_harness.cu)
harness_nvcc() {
  nvcc -arch=sm_"${CUDA_ARCH:-90}" -O3 -std=c++17 -Icuda -Ibench "bench/${HARNESS_SOURCE[$1]}" -o "$2"
}
