"""Kernel benchmarks: TQ1_0/TQ2_0 (ours and upstream's kernels) against Q4_0, Q8_0, Q2_0 and F16.

Three measurements per type, all through the built library's public API (ggml_ctypes.py):
  row_block  one 256-weight row block per vec_dot call (64 L1-resident blocks looped in C),
             single thread: the kernel's inner speed
  matvec     whole matrix x one column (decoding), ggml_mul_mat on the CPU backend
  matmul512  whole matrix x 512 columns (prompt processing), same graph
Whole matrices have the shapes of TriLM 1.1B / 3.9B and Llama-8B (FFN up: n_ff x n_embd, FFN
down: n_embd x n_ff). The weight sits where llama.cpp's loader puts it: in the CPU_REPACK buffer
when the CPU device runs the product from there (ours for TQ, ggml's Q4_0 repack), else in a
plain CPU buffer; extra_info["repacked"] says which.

Activations are what ggml multiplies with: each type's vec_dot_type (Q8_K for TQ, Q8_0 for
Q4_0/Q8_0/Q2_0, F16 for F16). Before timing, every result is checked against float64
dot products of the dequantized weights (ggml's to_float) and dequantized activations.
"""
from __future__ import annotations

import numpy as np
import pytest

from bench_env import SHORT, bench_threads
from ggml_ctypes import TYPE_IDS, MatMul

# (type, kernels): "ours"/"upstream" switch TQ kernels in-process (tq_gguf_cpu_set_kernels);
# the reference types have only ggml's
CASES = [("TQ1_0", "ours"), ("TQ1_0", "upstream"), ("TQ2_0", "ours"), ("TQ2_0", "upstream"),
         ("Q4_0", "ggml"), ("Q8_0", "ggml"), ("Q2_0", "ggml"), ("F16", "ggml")]
CASE_IDS = [f"{t}-{k}" for t, k in CASES]

# model -> (n_embd, n_ff)
MODELS = {"trilm-1.1b": (2048, 5632), "trilm-3.9b": (3072, 9216), "llama-8b": (4096, 14336)}
if SHORT:  # CI: tiny shapes that keep every code path (16-row tiles, several 256-blocks)
    MODELS = {"tiny": (512, 768)}
MATRICES = {"ffn_up": lambda e, f: (f, e), "ffn_down": lambda e, f: (e, f)}  # -> (rows, k)
SHAPES = [(m, name, *fn(*MODELS[m])) for m in MODELS for name, fn in MATRICES.items()]
SHAPE_IDS = [f"{m}-{name}" for m, name, _, _ in SHAPES]

ROW_BLOCK = 256  # weights per row block (one TQ block, 8 Q4_0/Q8_0 blocks)
ROW_BLOCK_ROWS = 64
ROW_BLOCK_PASSES = 20 if SHORT else 2000
PROMPT_COLS = 16 if SHORT else 512
CHECK_COLS = 32  # columns of the 512-column product checked against float64
RTOL = 2e-5      # of sum |w|*|x|: float32 accumulation over k, far below any layout/sign error


def _select(g, kernels: str) -> None:
    g.set_tq_kernels("upstream" if kernels == "upstream" else "ours")


def _check(got: np.ndarray, w_deq: np.ndarray, x_deq: np.ndarray, what: str) -> None:
    """got[c, r] must equal sum_k w[r, k] * x[c, k] up to float rounding."""
    w64, x64 = w_deq.astype(np.float64), x_deq.astype(np.float64)
    ref = x64 @ w64.T
    scale = np.abs(x64) @ np.abs(w64).T + 1e-30
    err = np.abs(got.astype(np.float64) - ref) / scale
    worst = np.unravel_index(int(np.argmax(err)), err.shape)
    assert err.max() <= RTOL, (f"{what}: result differs from the float64 reference at {worst}: "
                               f"{got[worst]} vs {ref[worst]} (relative {err.max():.2e})")


def _info(benchmark, g, type_name, kernels, **more) -> None:
    benchmark.extra_info.update(type=type_name, kernels=kernels, threads=more.pop("threads", 1),
                                tq_variant=g.tq_kernels_info().get("tq_gguf_cpu_vec_dot_variant", "stock"),
                                **more)


# --- one row block ------------------------------------------------------------------------

@pytest.mark.parametrize("type_name,kernels", CASES, ids=CASE_IDS)
def test_row_block(benchmark, ggml, type_name, kernels):
    t = TYPE_IDS[type_name]
    rng = np.random.default_rng(1)
    w = rng.standard_normal((ROW_BLOCK_ROWS, ROW_BLOCK)).astype(np.float32)
    x = rng.standard_normal((1, ROW_BLOCK)).astype(np.float32)
    wq = ggml.quantize(t, w)
    vdt, xq = ggml.to_vec_dot_type(t, x)
    _select(ggml, kernels)

    got = ggml.vec_dot_rows(t, wq, ROW_BLOCK, xq[0])
    _check(got[None, :], ggml.dequantize(t, wq, ROW_BLOCK), ggml.dequantize(vdt, xq, ROW_BLOCK),
           f"{type_name} {kernels} vec_dot")

    out = np.empty(ROW_BLOCK_ROWS, dtype=np.float32)
    benchmark.group = "row_block"
    _info(benchmark, ggml, type_name, kernels, op="row_block", shape="64x256",
          weights_per_call=ROW_BLOCK_ROWS * ROW_BLOCK * ROW_BLOCK_PASSES, repacked=False)
    benchmark(ggml.vec_dot_rows, t, wq, ROW_BLOCK, xq[0], ROW_BLOCK_PASSES, out)


# --- whole matrices -----------------------------------------------------------------------

class _Weights:
    """Float weights and their quantized rows for the current shape; one shape at a time, so
    that an 8B FFN matrix in six types does not sit in memory all at once."""
    key = None
    w = None
    quantized: dict = {}

    @classmethod
    def get(cls, g, rows: int, k: int, type_name: str):
        if cls.key != (rows, k):
            cls.key, cls.quantized = (rows, k), {}
            cls.w = np.random.default_rng(rows * 7 + k).standard_normal((rows, k), dtype=np.float32)
        if type_name not in cls.quantized:
            t = TYPE_IDS[type_name]
            wq = g.quantize(t, cls.w)
            cls.quantized[type_name] = (wq, g.dequantize(t, wq, k))
        return cls.quantized[type_name]


def _matrix_bench(benchmark, g, model, matrix, rows, k, type_name, kernels, cols, op):
    t = TYPE_IDS[type_name]
    wq, w_deq = _Weights.get(g, rows, k, type_name)
    x = np.random.default_rng(cols).standard_normal((cols, k), dtype=np.float32)
    _select(g, kernels)
    threads = bench_threads()
    mm = MatMul(g, t, wq, k, x, threads)
    try:
        mm.compute()
        got = mm.result()
        checked = np.linspace(0, cols - 1, min(cols, CHECK_COLS)).astype(int)
        vdt, xq = g.to_vec_dot_type(t, x[checked])
        _check(got[checked], w_deq, g.dequantize(vdt, xq, k),
               f"{type_name} {kernels} {op} {rows}x{k} (repacked={mm.repacked})")
        benchmark.group = f"{op} {model} {matrix} {rows}x{k}"
        _info(benchmark, g, type_name, kernels, op=op, model=model, matrix=matrix, rows=rows, k=k,
              cols=cols, threads=threads, weights_per_call=rows * k * cols, repacked=mm.repacked)
        benchmark(mm.compute)
    finally:
        mm.close()


@pytest.mark.parametrize("type_name,kernels", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("model,matrix,rows,k", SHAPES, ids=SHAPE_IDS)  # shape varies slowest
def test_matvec(benchmark, ggml, model, matrix, rows, k, type_name, kernels):
    _matrix_bench(benchmark, ggml, model, matrix, rows, k, type_name, kernels, 1, "matvec")


@pytest.mark.parametrize("type_name,kernels", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("model,matrix,rows,k", SHAPES, ids=SHAPE_IDS)  # shape varies slowest
def test_matmul512(benchmark, ggml, model, matrix, rows, k, type_name, kernels):
    _matrix_bench(benchmark, ggml, model, matrix, rows, k, type_name, kernels, PROMPT_COLS, "matmul512")
