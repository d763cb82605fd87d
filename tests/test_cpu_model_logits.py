"""Whole-model check of the CPU kernels: the shipped tiny TriLM, converted to TQ2_0 and TQ1_0,
through `llama_cpp.Llama` on our libraries, with our kernels (repacked GEMM/GEMV; every weight
of this model has a row count divisible by 16) against upstream's (TQ_GGUF_CPU_KERNELS=upstream),
each in its own process (the switch is read once per process). Several thread counts and batch
sizes (odd ones included) so prompt processing goes through GEMM tiles, tails and GEMV."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("tq_gguf.convert")

from tq_gguf.convert import convert_checkpoint  # noqa: E402
from tq_gguf.trilm import compare  # noqa: E402
from tq_gguf.trilm.evaluate import load_heldout_ids  # noqa: E402

CKPT = compare.SHIPPED_CHECKPOINT
N_TOKENS = 100

RUNNER = textwrap.dedent("""
    import json, sys
    import numpy as np
    from llama_cpp import Llama
    a = json.loads(sys.argv[1])
    llm = Llama(model_path=a["model"], n_ctx=256, n_batch=a["n_batch"], n_ubatch=a["n_batch"],
                logits_all=True, n_threads=a["threads"], n_threads_batch=a["threads"], verbose=False)
    llm.eval(a["tokens"])
    np.save(a["out"], np.array(llm.scores[:len(a["tokens"])], dtype=np.float32))
""")


@pytest.fixture(scope="module")
def models(tmp_path_factory, our_llama_cpp):
    out = tmp_path_factory.mktemp("cpu_logits")
    paths = {}
    for t in ("tq2_0", "tq1_0"):
        paths[t] = out / f"tiny-trilm.{t}.gguf"
        convert_checkpoint(CKPT, paths[t], outtype=t, progress=False)
    return out, paths


def logits(tmp, model, kernels, threads, n_batch, tokens):
    out = tmp / f"{model.stem}-{kernels}-{threads}-{n_batch}.npy"
    env = dict(os.environ, TQ_GGUF_CPU_KERNELS=kernels)
    arg = json.dumps(dict(model=str(model), n_batch=n_batch, threads=threads, tokens=tokens, out=str(out)))
    subprocess.run([sys.executable, "-c", RUNNER, arg], check=True, env=env, timeout=300)
    return np.load(out)


def rms(a):
    return float(np.sqrt(np.mean(np.square(a, dtype=np.float64))))


@pytest.mark.parametrize("t", ["tq2_0", "tq1_0"])
def test_logits_ours_equal_upstream(models, t):
    """Tolerances: every kernel computes the same exact integer block sums; only float summation
    order differs (~1e-7 relative per product). Activations are re-quantized to Q8_K before every
    matmul, where such a difference now and then moves a value across a rounding boundary (one
    step of 1/127 of its block's range), so logits differ at the 1e-3 level between any two
    correct kernel paths (upstream against itself at batch 1 vs 64: ~1e-3 RMS on this model).
    A wrong kernel gives differences of the order of the logits themselves."""
    tmp, paths = models
    tokens = [int(i) for i in load_heldout_ids(CKPT)[:N_TOKENS]]
    ref = logits(tmp, paths[t], "upstream", 2, 64, tokens)
    assert np.isfinite(ref).all()
    scale = float(np.abs(ref).max())
    for kernels, threads, n_batch in [("ours", 1, 100), ("ours", 3, 7), ("ours", 2, 1), ("norepack", 2, 5)]:
        ours = logits(tmp, paths[t], kernels, threads, n_batch, tokens)
        rel = rms(ours - ref) / rms(ref)
        assert rel <= 1e-2, (t, kernels, threads, n_batch, rel)
        assert float(np.abs(ours - ref).max()) <= 0.05 * scale, (t, kernels, threads, n_batch)
        assert (ours.argmax(1) == ref.argmax(1)).mean() >= 0.97, (t, kernels, threads, n_batch)
