"""CI hook for the benchmark suite in bench/: run it in short mode so it cannot rot.

Short mode (TQ_GGUF_BENCH_SHORT=1) uses tiny shapes and models, still checks every kernel's
result against the float64 reference before timing, and here times with one round only; the
JSON goes to a temporary folder (never bench/results/) and is rendered there, so the renderer
runs too. Speed is never asserted.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"

pytest.importorskip("pytest_benchmark")


def _libs_present() -> bool:
    sys.path.insert(0, str(BENCH))
    try:
        from ggml_ctypes import default_lib_dir
        return (default_lib_dir() / "libggml-cpu.so").exists()
    finally:
        sys.path.remove(str(BENCH))


pytestmark = pytest.mark.skipif(not _libs_present(), reason="no built ggml libraries to benchmark")


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    json_path = out / "cpu-bench-ci-short.json"
    env = dict(os.environ, TQ_GGUF_BENCH_SHORT="1", TQ_GGUF_BENCH_MACHINE="ci")
    cmd = [sys.executable, "-m", "pytest", str(BENCH), "-q", "-p", "no:cacheprovider",
           "--benchmark-min-rounds=1", "--benchmark-max-time=0.001", "--benchmark-warmup=off",
           f"--benchmark-json={json_path}", "-rs"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=1200)
    return proc, json_path, out


def test_short_suite_passes(short_run):
    proc, json_path, _ = short_run
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    data = json.loads(json_path.read_text())
    ops = {b["extra_info"]["op"] for b in data["benchmarks"]}
    assert {"row_block", "matvec", "matmul512"} <= ops
    kinds = {(b["extra_info"]["type"], b["extra_info"]["kernels"]) for b in data["benchmarks"]}
    for case in [("TQ1_0", "ours"), ("TQ1_0", "upstream"), ("TQ2_0", "ours"), ("TQ2_0", "upstream"),
                 ("Q4_0", "ggml"), ("Q8_0", "ggml"), ("Q2_0", "ggml"), ("F16", "ggml")]:
        assert case in kinds, f"{case} was not benchmarked"
    rec = data["tq_gguf"]
    assert rec["short_mode"] and rec["cores"] >= 1 and rec["git_commit"] and rec["date"]
    assert any(rec["isa_compiled"].values()) or rec["build"] == "generic"


def test_results_render(short_run):
    proc, _, out = short_run
    assert proc.returncode == 0
    sys.path.insert(0, str(BENCH))
    try:
        import render_results
        assert render_results.main(["--results", str(out), "--out-stem", "cpu-bench-ci"]) == 0
    finally:
        sys.path.remove(str(BENCH))
    md = (out / "cpu-bench-ci.md").read_text()
    assert "| ci / " in md and "TQ2_0" in md and "matmul512" in md
    assert (out / "cpu-bench-ci.png").stat().st_size > 0


def test_reference_check_catches_a_wrong_result():
    """The check that guards every timing must fail on a result that is off by one weight."""
    sys.path.insert(0, str(BENCH))
    try:
        from test_bench_kernels import _check
    finally:
        sys.path.remove(str(BENCH))
    rng = np.random.default_rng(0)
    w = np.sign(rng.standard_normal((32, 256))).astype(np.float32)
    x = rng.standard_normal((2, 256)).astype(np.float32)
    good = (x.astype(np.float64) @ w.T.astype(np.float64)).astype(np.float32)
    _check(good, w, x, "exact")
    bad = good.copy()
    bad[1, 7] += abs(x[1, 3])  # one weight's contribution wrong
    with pytest.raises(AssertionError):
        _check(bad, w, x, "one weight off")
