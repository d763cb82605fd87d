"""pytest-benchmark suite for TQ1_0/TQ2_0 on the CPU: shared fixtures, modes and the run record.

    python -m pytest bench/ --benchmark-only                  # full mode: writes bench/results/
    TQ_GGUF_BENCH_SHORT=1 python -m pytest bench/ --benchmark-disable   # CI: tiny shapes, no timing

Full mode writes bench/results/cpu-bench-<machine>-<build>.json (pytest-benchmark's JSON plus a
"tq_gguf" record: CPU model, cores, flags, the ISA features compiled into libggml-cpu, the TQ
kernel variant, date, git commit, command) unless --benchmark-json names another file. The name
comes from TQ_GGUF_BENCH_MACHINE (default: CPU model and core count) and the build's ISA.
TQ_GGUF_BENCH_EMULATED=1 marks a run under an emulator (qemu): the renderer never compares those.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_env import RESULTS, SHORT, ggml_libs, machine_record, results_path  # noqa: E402


@pytest.fixture(scope="session")
def ggml():
    return ggml_libs()


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    """Full mode with timing on and no --benchmark-json: save into bench/results/."""
    session = getattr(config, "_benchmarksession", None)
    if session is None or SHORT or session.disabled or session.json:
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    session.json = results_path(machine_record())


def pytest_benchmark_update_json(config, benchmarks, output_json):
    output_json["tq_gguf"] = machine_record()
    for b in output_json.get("benchmarks", []):  # keep the statistics, not every raw timing
        b.get("stats", {}).pop("data", None)


def pytest_report_header(config):
    r = machine_record()
    return [f"tq_gguf bench: {r['machine']} ({r['cpu_model']}, {r['cores']} cores), build {r['build']}, "
            f"threads {r['threads_used']}, {'SHORT' if SHORT else 'full'} mode, libs {r['lib_dir']}, "
            f"{r['tq_gguf'] or 'STOCK ggml'}"]
