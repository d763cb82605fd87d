#!/usr/bin/env bash
# Build the kernel harnesses of a device A/B on this machine (nvcc needs no GPU; a harness takes 9-16 minutes here
# with 2 cores, so this runs them two at a time) and pack them for the call: HEAD's harnesses as the base side, and
# one set per prototype diff (a `git apply`-able diff of cuda/ or bench/ against HEAD, e.g. a results folder's
# proto-*.diff).
#
#   bench/prebuild_harness_ab.sh [NAME=DIFF ...]
#     -> .device/bin/{harness,layer_harness}-base (HEAD), .device/bin/{harness,layer_harness}-NAME (HEAD + DIFF),
#        packed into .device/harness-bins.tar.xz (carry it; gpu_bench.sh's harness-ab / harness-layer stages take
#        HARNESS_B_BIN / LAYER_B_BIN, and .device/bin/harness is the A side: copy the side to profile there)
#   HARNESSES="harness layer_harness" (default): which of the two to build; BASE=0: no base side (it is built).
#
# Each side is built from its own copy of the sources (git archive of HEAD, then the diff), so edits to the working
# tree during the build cannot leak into a side.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. bench/gpu_build_tools.sh # harness_nvcc
HARNESSES=${HARNESSES:-harness layer_harness}
mkdir -p .device/bin
W=$(mktemp -d)
sides=()
if [ "${BASE:-1}" != 0 ]; then
  sides=(base)
  mkdir -p "$W/base" && git archive HEAD cuda bench | tar -x -C "$W/base"
fi
for arg in "$@"; do
  name=${arg%%=*} diff=${arg#*=}
  [ "$name" != "$arg" ] && [ -f "$diff" ] || { echo "usage: $0 [NAME=DIFF ...] (no such diff: $arg)" >&2; exit 2; }
  diff=$(realpath "$diff")
  mkdir -p "$W/$name" && git archive HEAD cuda bench | tar -x -C "$W/$name"
  (cd "$W/$name" && git apply "$diff") || { echo "$diff does not apply to HEAD" >&2; exit 1; }
  sides+=("$name")
done
jobs_=()
for side in "${sides[@]}"; do
  for h in $HARNESSES; do
    jobs_+=("$side $h")
  done
done
build() { # side harness
  local t0; t0=$(date +%s)
  (cd "$W/$1" && harness_nvcc "$2" "$ROOT/.device/bin/$2-$1") \
    > "$W/$1-$2.log" 2>&1 || { echo "build of $2 ($1) failed:"; tail -20 "$W/$1-$2.log"; return 1; }
  echo "$2-$1: $(( $(date +%s) - t0 )) s"
}
rc=0
for ((i = 0; i < ${#jobs_[@]}; i += 2)); do
  build ${jobs_[$i]} & p1=$!
  p2=
  if [ $((i + 1)) -lt ${#jobs_[@]} ]; then build ${jobs_[$((i + 1))]} & p2=$!; fi
  wait $p1 || rc=1
  [ -z "$p2" ] || wait $p2 || rc=1
done
[ $rc = 0 ] || exit 1
rm -rf "$W"
tar -C .device -cJf .device/harness-bins.tar.xz bin
ls -la .device/bin .device/harness-bins.tar.xz
