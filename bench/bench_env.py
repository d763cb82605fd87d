"""What a benchmark run needs to know about itself: mode, threads, the ggml libraries, and the
machine record saved with every result (CPU model, cores, flags, ISA features compiled into
libggml-cpu, TQ kernel variant, date, git commit, command)."""
from __future__ import annotations

import datetime
import os
import platform
import re
import shlex
import subprocess
import sys
from pathlib import Path

from ggml_ctypes import REPO, Ggml

SHORT = os.environ.get("TQ_GGUF_BENCH_SHORT", "") not in ("", "0")
RESULTS = Path(__file__).resolve().parent / "results"
ISA_FEATURES = ("avx", "avx2", "fma", "f16c", "avx_vnni", "avx512", "avx512_vnni", "avx512_bf16",
                "amx_int8", "neon", "dotprod", "matmul_int8", "sve")
# /proc/cpuinfo flags worth keeping (the rest is noise for these kernels)
CPU_FLAGS = ("avx", "avx2", "fma", "f16c", "bmi2", "avx_vnni", "avx512f", "avx512bw", "avx512vl",
             "avx512_vnni", "avx512_bf16", "amx_int8", "asimd", "asimddp", "i8mm", "sve")


def bench_threads() -> int:
    return int(os.environ.get("TQ_GGUF_BENCH_THREADS", "0")) or os.cpu_count() or 1


_GGML: Ggml | None = None


def ggml_libs() -> Ggml:
    global _GGML
    if _GGML is None:
        _GGML = Ggml()
    return _GGML


# --- the machine record ------------------------------------------------------------------

def _cpuinfo() -> tuple[str, list[str]]:
    model, flags = platform.processor() or platform.machine(), set()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return model, []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "hardware", "cpu model") and value.strip():
            model = value.strip()
        elif key in ("flags", "features"):
            flags.update(value.split())
    return model, sorted(f for f in flags if f in CPU_FLAGS)


def build_label(features: dict[str, bool]) -> str:
    """Short name of the ISA level the library was compiled for."""
    if features.get("avx512_vnni"):
        return "avx512vnni"
    if features.get("avx512"):
        return "avx512"
    if features.get("avx2"):
        return "avx2" + ("-vnni" if features.get("avx_vnni") else "")
    if features.get("neon"):
        return "neon" + ("-dotprod" if features.get("dotprod") else "")
    return "generic"


def _git_commit() -> str:
    """HEAD of this checkout; TQ_GGUF_BENCH_COMMIT where the tree was copied without .git."""
    if os.environ.get("TQ_GGUF_BENCH_COMMIT"):
        return os.environ["TQ_GGUF_BENCH_COMMIT"]
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine_record() -> dict:
    g = ggml_libs()
    model, flags = _cpuinfo()
    features = {f: g.has(f) for f in ISA_FEATURES}
    emulated = os.environ.get("TQ_GGUF_BENCH_EMULATED", "") not in ("", "0")
    cores = os.cpu_count() or 1
    slug = re.sub(r"[^a-z0-9]+", "-", re.sub(r"\(r\)|\(tm\)|cpu|@.*", "", model.lower())).strip("-")
    machine = os.environ.get("TQ_GGUF_BENCH_MACHINE") or f"{slug}-{cores}c"
    return {
        "machine": machine,
        "cpu_model": model,
        "arch": platform.machine(),
        "cores": cores,
        "threads_used": bench_threads(),
        "cpu_flags": flags,
        "isa_compiled": features,
        "build": os.environ.get("TQ_GGUF_BENCH_BUILD") or build_label(features),
        "lib_dir": str(g.lib_dir),
        "tq_gguf": g.tq_kernels_info(),
        "emulated": emulated,
        "note": os.environ.get("TQ_GGUF_BENCH_NOTE", ""),
        "short_mode": SHORT,
        # other work on the machine skews timings: the 1/5/15-minute load when this was recorded
        "load_average": [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "command": " ".join(shlex.quote(a) for a in [Path(sys.executable).name, "-m", "pytest", *sys.argv[1:]]),
    }


def results_path(record: dict) -> Path:
    suffix = "-emulated" if record["emulated"] else ""
    return RESULTS / f"cpu-bench-{record['machine']}-{record['build']}{suffix}.json"
