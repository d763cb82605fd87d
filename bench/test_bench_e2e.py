"""End-to-end benchmarks through `from llama_cpp import Llama`: prompt and generation tokens/s.

Models: the shipped tiny TriLM (TQ2_0, TQ1_0, F16) and a 1B-class synthetic model (TriLM 1.1B
shapes, random weights; TQ1_0, TQ2_0, Q4_0, Q8_0, F16; see bench_models.py). TQ models run
twice, with our CPU kernels and with upstream's (tq_gguf_cpu_set_kernels before the model is
loaded: the repack buffer decides at load).

  prompt    one llama_eval of PROMPT tokens (n_batch = PROMPT) after a KV-cache reset
  generate  GEN single-token evals after a short prompt (greedy token, Python loop included)

Check before timing: the last-token logits of a fixed prompt must match those of the same model
computed with upstream's kernels (TQ types), and be finite for every type.
"""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from bench_models import synthetic, tiny_trilm
from bench_env import SHORT, bench_threads
from ggml_ctypes import REPO


def _import_llama():
    """llama_cpp as installed; in a dev checkout without it, the build's own copy of the
    package with the dev libraries (build/dev: upstream/llama_cpp + bin/)."""
    try:
        from llama_cpp import Llama
        return Llama
    except ImportError:
        dev = REPO / "build" / "dev"
        if not (dev / "upstream" / "llama_cpp").is_dir():
            return None
        os.environ.setdefault("LLAMA_CPP_LIB_PATH", str(dev / "bin"))
        sys.path.insert(0, str(dev / "upstream"))
        try:
            from llama_cpp import Llama
            return Llama
        except ImportError:
            return None


Llama = _import_llama()
pytestmark = pytest.mark.skipif(Llama is None, reason="llama_cpp is not importable")

PROMPT = 16 if SHORT else 256
GEN = 4 if SHORT else 32
N_CTX = PROMPT + GEN + 16
# Ours vs upstream, relative L2 norm of the logit difference: {model: (one token, 8 tokens)}.
# Same integer dots, other float summation order (1e-7 relative per product); but whenever the
# next layer quantizes its input to Q8_K, a 1e-7 difference can flip one int8, and flips add
# up with depth and width. Measured here: tiny TriLM (4 layers, width 256): 2e-7 for one token,
# 2e-3..6e-3 from 3 tokens on (the GEMM path); 1B random synthetic (22 layers, width 2048):
# ~8e-3 for one token, ~5e-2 for 8. The kernel benchmarks check every product tightly against
# float64; these bounds only catch layout/sign errors (O(1)) at the model level.
CHECK_ONE_TOKEN = [5]
CHECK_PROMPT = list(range(3, 3 + 8))
LOGITS_RTOL = {"tiny-trilm": (1e-4, 3e-2), "synth-tiny": (1e-4, 3e-2), "synth-1b": (0.1, 0.25)}

if SHORT:
    MODELS = [("tiny-trilm", t) for t in ("TQ2_0", "TQ1_0", "F16")] + \
             [("synth-tiny", t) for t in ("TQ2_0", "Q4_0")]
else:
    MODELS = [("tiny-trilm", t) for t in ("TQ2_0", "TQ1_0", "F16")] + \
             [("synth-1b", t) for t in ("TQ1_0", "TQ2_0", "Q4_0", "Q8_0", "F16")]
CASES = [(m, t, k) for m, t in MODELS for k in (("ours", "upstream") if t.startswith("TQ") else ("ggml",))]
CASE_IDS = [f"{m}-{t}-{k}" for m, t, k in CASES]


# ggml's AMX buffer type (compiled into native builds on AMX CPUs) claims Q4_0/Q8_0 weights at
# model load before CPU_REPACK does; on the AMX machine we develop on, its batched matmul
# segfaults (ggml_ctypes MatMul into the AMX buffer, cols > 1, reproduces it), which would take
# the whole pytest process down. Those cases are skipped there unless TQ_GGUF_BENCH_AMX=1.
AMX_TYPES = ("Q4_0", "Q8_0")


def _amx_in_use(g) -> bool:
    return g.has("amx_int8") and "AMX" in g.extra_buffer_types() and \
        os.environ.get("TQ_GGUF_BENCH_AMX", "") in ("", "0")


def _model_path(model: str, type_name: str, g):
    if model == "tiny-trilm":
        return tiny_trilm(type_name.lower())
    return synthetic(model, type_name, g)


def _load(path, ctx: int):
    return Llama(model_path=str(path), n_ctx=ctx, n_batch=max(PROMPT, 32), n_ubatch=max(PROMPT, 32),
                 n_threads=bench_threads(), n_threads_batch=bench_threads(), verbose=False, seed=0)


def _logits_of_last_eval(llm) -> np.ndarray:
    """llama_get_logits: the one output row of the last eval (llm.scores is only filled with
    logits_all=True, which would make every prompt token compute the output layer)."""
    return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),))


def _last_logits(llm) -> dict[str, np.ndarray]:
    out = {}
    for name, tokens in (("one token", CHECK_ONE_TOKEN), ("prompt", CHECK_PROMPT)):
        llm.reset()
        llm.eval(tokens)
        out[name] = _logits_of_last_eval(llm).astype(np.float64)
    return out


_REFERENCE_LOGITS: dict = {}


def _reference_logits(g, path) -> np.ndarray:
    """Last-token logits with upstream's TQ kernels (loaded once per model file)."""
    if path not in _REFERENCE_LOGITS:
        g.set_tq_kernels("upstream")
        llm = _load(path, N_CTX)  # same context as the timed model: only the kernels differ
        _REFERENCE_LOGITS[path] = _last_logits(llm)
        llm.close()
    return _REFERENCE_LOGITS[path]


@pytest.mark.parametrize("phase", ["prompt", "generate"])
@pytest.mark.parametrize("model,type_name,kernels", CASES, ids=CASE_IDS)
def test_e2e(benchmark, ggml, model, type_name, kernels, phase):
    if type_name in AMX_TYPES and _amx_in_use(ggml):
        pytest.skip("ggml's AMX buffer would take this type and crashes on this machine (TQ_GGUF_BENCH_AMX=1 to try)")
    path = _model_path(model, type_name, ggml)
    reference = _reference_logits(ggml, path) if type_name.startswith("TQ") else None
    ggml.set_tq_kernels("upstream" if kernels == "upstream" else "ours")
    llm = _load(path, N_CTX)
    try:
        logits = _last_logits(llm)
        for name, tol in zip(("one token", "prompt"), LOGITS_RTOL[model]):
            assert np.isfinite(logits[name]).all(), f"{path.name}: non-finite logits ({name})"
            if reference is not None:
                ref = reference[name]
                err = np.linalg.norm(logits[name] - ref) / (np.linalg.norm(ref) + 1e-12)
                assert err <= tol, f"{path.name} {kernels} {name}: logits differ from upstream's by {err:.2e}"
        vocab = llm.n_vocab()
        prompt = [3 + (i * 7919) % (vocab - 3) for i in range(PROMPT)]

        def reset_and_prompt(n: int):
            llm.reset()
            llm.eval(prompt[:n])

        def run_generate():
            for _ in range(GEN):
                llm.eval([int(np.argmax(_logits_of_last_eval(llm)))])

        benchmark.group = f"e2e {phase} {model}"
        benchmark.extra_info.update(type=type_name, kernels=kernels, op=f"e2e_{phase}", model=model,
                                    threads=bench_threads(), model_file=path.name,
                                    model_bytes=path.stat().st_size,
                                    tokens_per_call=PROMPT if phase == "prompt" else GEN)
        rounds = 2 if SHORT else 3
        if phase == "prompt":
            benchmark.pedantic(reset_and_prompt, args=(PROMPT,), rounds=rounds, warmup_rounds=1)
        else:  # the 8-token prompt before each round is setup, not timed
            benchmark.pedantic(run_generate, setup=lambda: reset_and_prompt(8), rounds=rounds,
                               warmup_rounds=1)
    finally:
        llm.close()
