"""MUL_MAT through ggml's CPU backend with TQ1_0/TQ2_0 weights, three ways in one process
(tests/cpu_harness/tq_mul_mat.c): upstream's vec_dot, our vec_dot, and our repacked GEMM/GEMV via
the CPU_REPACK extra buffer; each against a float64 reference from ggml's own dequantizer and
Q8_K quantizer. Odd batch sizes, full activation panels and their tails, 1-4 threads."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cpu_kernels_common import REPO_ROOT, lib_dir

HARNESS = REPO_ROOT / "tests" / "cpu_harness" / "tq_mul_mat.c"
TOL = 1e-5


def _include_dir(libs: Path) -> Path | None:
    for cand in [libs.parent / "upstream" / "llama.cpp" / "ggml" / "include",
                 *sorted((REPO_ROOT / "build").glob("*/upstream/llama.cpp/ggml/include"))]:
        if (cand / "ggml.h").is_file():
            return cand
    return None


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    libs = lib_dir()
    if libs is None or not (libs / "libggml-cpu.so").exists():
        pytest.skip("no libggml-cpu.so of ours: `python -m tq_gguf build-tools` or LLAMA_CPP_LIB_PATH")
    inc = _include_dir(libs)
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if inc is None or cc is None:
        pytest.skip("need ggml headers (a build tree's upstream/) and a C compiler for the harness")
    exe = tmp_path_factory.mktemp("harness") / "tq_mul_mat"
    subprocess.run([cc, "-O2", "-std=c11", str(HARNESS), "-o", str(exe), f"-I{inc}", f"-L{libs}",
                    f"-Wl,-rpath,{libs}", "-lggml-cpu", "-lggml-base", "-lggml", "-lm"], check=True)
    return exe


def run(exe, t, k, m, n, th, seed):
    out = subprocess.run([str(exe), t, str(k), str(m), str(n), str(th), str(seed)], check=True,
                         capture_output=True, text=True, timeout=120).stdout.strip()
    return dict(kv.split("=") for kv in out.split())


CASES = [  # k, m, n, threads
    (256, 16, 1, 1), (256, 16, 3, 2), (512, 32, 5, 3), (768, 48, 7, 2), (256, 64, 4, 4),
    (1024, 32, 9, 1), (2048, 128, 13, 2), (2816, 16, 17, 3), (512, 256, 33, 2), (256, 32, 64, 4),
    (1280, 80, 2, 2), (768, 16, 31, 1),
    # activation panels of 16 columns (AVX-512 VNNI; 8, 6, 4 elsewhere): exactly one, several with a
    # tail, more panels than threads and fewer
    (768, 16, 16, 2), (512, 48, 47, 2), (256, 32, 100, 3), (1024, 64, 18, 4),
    (512, 40, 5, 2),  # 40 rows: not a multiple of 16, the repack must decline it
]


@pytest.mark.parametrize("t", ["tq1_0", "tq2_0"])
@pytest.mark.parametrize("k,m,n,th", CASES)
def test_mul_mat_three_ways(harness, t, k, m, n, th):
    r = run(harness, t, k, m, n, th, seed=k * 7 + m * 3 + n + th)
    assert float(r["upstream"]) <= TOL, r
    assert float(r["vec_dot"]) <= TOL, r
    if m % 16 == 0 and r["variant"].startswith("x86"):
        assert r["repack"] != "unclaimed", f"repack buffer did not claim a {m}x{k} {t} weight: {r}"
    if r["repack"] != "unclaimed":
        assert float(r["repack"]) <= TOL, r
