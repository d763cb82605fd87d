"""`python -m tq_gguf build-tools`: llama.cpp's own tools on our patched tree.

Every number we publish comes from the standard tools (llama-bench, llama-batched-bench,
llama-quantize, llama-perplexity, test-backend-ops, test-quantize-fns) built from the same
patched source and the same top-level CMakeLists.txt as the Python package, with
TQ_GGUF_BUILD_TOOLS=ON. The build folder's bin/ also holds the shared libraries, so
``LLAMA_CPP_LIB_PATH=<build>/bin`` makes llama_cpp load exactly that build.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def build(build_dir: Path, cuda: bool = False, cuda_arch: str | None = None,
          pristine_tarball: Path | None = None, jobs: int | None = None,
          targets: list[str] | None = None, extra_cmake: list[str] | None = None,
          native: bool = True) -> Path:
    if not (REPO_ROOT / "CMakeLists.txt").is_file():
        raise SystemExit("error: build-tools needs a source checkout of tq_gguf "
                         f"(no CMakeLists.txt next to {REPO_ROOT / 'tq_gguf'})")
    cmake = shutil.which("cmake")
    if cmake is None:
        raise SystemExit("error: cmake not found on PATH (pip install cmake)")
    build_dir = Path(build_dir).resolve()
    configure = [cmake, "-S", str(REPO_ROOT), "-B", str(build_dir),
                 "-DCMAKE_BUILD_TYPE=Release", "-DTQ_GGUF_BUILD_TOOLS=ON",
                 f"-DGGML_NATIVE={'ON' if native else 'OFF'}",
                 f"-DPython3_EXECUTABLE={sys.executable}"]
    if shutil.which("ninja") and not (build_dir / "CMakeCache.txt").exists():
        configure += ["-G", "Ninja"]
    if cuda:
        configure += ["-DGGML_CUDA=ON"]
        if cuda_arch:
            configure += [f"-DCMAKE_CUDA_ARCHITECTURES={cuda_arch}"]
    if pristine_tarball:
        configure += [f"-DTQ_GGUF_PRISTINE_TARBALL={Path(pristine_tarball).resolve()}"]
    configure += list(extra_cmake or [])
    t0 = time.time()
    print("+ " + " ".join(configure), flush=True)
    subprocess.run(configure, check=True)
    cmd = [cmake, "--build", str(build_dir), "--config", "Release",
           "-j", str(jobs or os.cpu_count() or 2)]
    for t in targets or []:
        cmd += ["--target", t]
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    print(f"built in {time.time() - t0:.0f} s: {build_dir / 'bin'}", flush=True)
    return build_dir / "bin"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tq_gguf build-tools", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build-dir", type=Path, default=REPO_ROOT / "build" / "tools",
                   help="CMake build folder (default: build/tools); binaries land in its bin/")
    p.add_argument("--cuda", action="store_true", help="build the CUDA backend (GGML_CUDA=ON)")
    p.add_argument("--cuda-arch", default=None,
                   help="CMAKE_CUDA_ARCHITECTURES, e.g. 90 for H100/H200 (default: CMake's)")
    p.add_argument("--pristine-tarball", type=Path, default=None,
                   help="offline source written by 'python -m tq_gguf.source pack-device'")
    p.add_argument("--no-native", action="store_true",
                   help="GGML_NATIVE=OFF (portable build; pass -DGGML_AVX2=ON etc. via --cmake)")
    p.add_argument("--cmake", action="append", default=[], metavar="ARG",
                   help="extra CMake argument, e.g. --cmake=-DGGML_AVX512=OFF (repeatable)")
    p.add_argument("--target", action="append", default=[], help="build only these targets")
    p.add_argument("-j", "--jobs", type=int, default=None, help="parallel jobs (default: cores)")
    a = p.parse_args(argv)
    build(a.build_dir, cuda=a.cuda, cuda_arch=a.cuda_arch, pristine_tarball=a.pristine_tarball,
          jobs=a.jobs, targets=a.target, extra_cmake=a.cmake, native=not a.no_native)
    return 0


if __name__ == "__main__":
    sys.exit(main())
