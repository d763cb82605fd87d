"""Every ISA variant of our TQ vec_dot and repacked GEMM/GEMV, each compiled with its own flags and
run against a scalar restatement of upstream's arithmetic (tests/cpu_harness/tq_vec_dot_check.c,
tq_gemm_check.cpp):
x86 AVX2, AVX2+AVX-VNNI, AVX-512BW, AVX-512 VNNI (those this CPU can run), and AArch64 NEON with
and without the dot-product extension, cross-compiled (gcc-aarch64-linux-gnu) and run under
qemu-user. Tools or CPU features that are missing skip with a message."""
from __future__ import annotations

import platform
import shutil
import subprocess
from pathlib import Path

import pytest

from cpu_kernels_common import REPO_ROOT

HARNESS = REPO_ROOT / "tests" / "cpu_harness" / "tq_vec_dot_check.c"
GEMM_HARNESS = REPO_ROOT / "tests" / "cpu_harness" / "tq_gemm_check.cpp"
CPU_DIR = REPO_ROOT / "ggml_patches" / "cpu"


def ggml_tree() -> Path | None:
    for cand in sorted((REPO_ROOT / "build").glob("*/upstream/llama.cpp/ggml")):
        if (cand / "src" / "ggml-impl.h").is_file():
            return cand
    return None


def includes(tree: Path) -> list[str]:
    return [f"-I{tree / 'src' / 'ggml-cpu'}", f"-I{tree / 'src'}", f"-I{tree / 'include'}", f"-I{CPU_DIR}"]


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


X86 = [  # id, gcc flags, cpuinfo flags needed, expected variant
    ("avx2", ["-mavx2", "-mfma", "-mf16c"], {"avx2", "fma", "f16c"}, "x86-avx2"),
    ("avx2-vnni", ["-mavx2", "-mfma", "-mf16c", "-mavxvnni"], {"avx2", "avx_vnni"}, "x86-avx2-vnni"),
    ("avx512bw", ["-march=skylake-avx512"], {"avx512f", "avx512bw", "avx512vl"}, "x86-avx512bw"),
    ("avx512vnni", ["-march=icelake-server"], {"avx512f", "avx512bw", "avx512_vnni"}, "x86-avx512vnni"),
]
ARM = [
    ("neon", ["-march=armv8-a"], "arm-neon"),
    ("neon-dotprod", ["-march=armv8.2-a+dotprod"], "arm-neon-dotprod"),
]


@pytest.fixture(scope="module")
def tree():
    t = ggml_tree()
    if t is None:
        pytest.skip("no prepared upstream tree under build/*/upstream (run `python -m tq_gguf build-tools`)")
    return t


@pytest.mark.parametrize("vid,flags,need,variant", X86, ids=[v[0] for v in X86])
def test_x86_variant(tree, tmp_path, vid, flags, need, variant):
    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("not an x86-64 machine")
    missing = need - cpu_flags()
    if missing:
        pytest.skip(f"this CPU lacks {sorted(missing)}")
    cc = shutil.which("gcc") or shutil.which("cc")
    exe = tmp_path / f"check-{vid}"
    subprocess.run([cc, "-O2", *flags, *includes(tree), str(HARNESS), str(CPU_DIR / "tq-vec-dot-x86.c"),
                    "-o", str(exe), "-lm"], check=True)
    out = subprocess.run([str(exe), "400"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.split()[0] == variant, out.stdout


@pytest.mark.parametrize("vid,flags,variant", ARM, ids=[v[0] for v in ARM])
def test_neon_variant_under_qemu(tree, tmp_path, vid, flags, variant):
    cc = shutil.which("aarch64-linux-gnu-gcc")
    qemu = shutil.which("qemu-aarch64") or shutil.which("qemu-aarch64-static")
    if cc is None or qemu is None:
        pytest.skip("NEON test needs gcc-aarch64-linux-gnu and qemu-user "
                    "(apt-get install -y gcc-aarch64-linux-gnu qemu-user)")
    exe = tmp_path / f"check-{vid}"
    subprocess.run([cc, "-O2", "-static", *flags, *includes(tree), str(HARNESS),
                    str(CPU_DIR / "tq-vec-dot-arm.c"), "-o", str(exe), "-lm"], check=True)
    out = subprocess.run([qemu, str(exe), "300"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.split()[0] == variant, out.stdout


X86_GEMM_VARIANT = {"avx2": "x86-avx2", "avx2-vnni": "x86-avx2-vnni", "avx512bw": "x86-avx512bw",
                    "avx512vnni": "x86-avx512vnni"}


@pytest.mark.parametrize("vid,flags,need,variant", X86, ids=[v[0] for v in X86])
def test_x86_gemm_variant(tree, tmp_path, vid, flags, need, variant):
    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("not an x86-64 machine")
    missing = need - cpu_flags()
    if missing:
        pytest.skip(f"this CPU lacks {sorted(missing)}")
    cxx = shutil.which("g++") or shutil.which("c++")
    exe = tmp_path / f"gemm-{vid}"
    subprocess.run([cxx, "-std=c++17", "-O2", *flags, *includes(tree), str(GEMM_HARNESS),
                    str(CPU_DIR / "tq-repack-layout.cpp"), str(CPU_DIR / "tq-gemm-x86.cpp"), "-o", str(exe)],
                   check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.split()[0] == X86_GEMM_VARIANT[vid], out.stdout


@pytest.mark.parametrize("vid,flags,variant", ARM, ids=[v[0] for v in ARM])
def test_neon_gemm_variant_under_qemu(tree, tmp_path, vid, flags, variant):
    cxx = shutil.which("aarch64-linux-gnu-g++")
    qemu = shutil.which("qemu-aarch64") or shutil.which("qemu-aarch64-static")
    if cxx is None or qemu is None:
        pytest.skip("NEON GEMM test needs g++-aarch64-linux-gnu and qemu-user "
                    "(apt-get install -y g++-aarch64-linux-gnu qemu-user)")
    exe = tmp_path / f"gemm-{vid}"
    subprocess.run([cxx, "-std=c++17", "-O2", "-static", *flags, *includes(tree), str(GEMM_HARNESS),
                    str(CPU_DIR / "tq-repack-layout.cpp"), str(CPU_DIR / "tq-gemm-arm.cpp"), "-o", str(exe)],
                   check=True)
    out = subprocess.run([qemu, str(exe)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    # without the dot-product extension there is no repacked kernel (weights stay on vec_dot)
    expected = "arm-neon-dotprod" if variant == "arm-neon-dotprod" else "none"
    assert out.stdout.split()[0] == expected, out.stdout
