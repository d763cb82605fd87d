"""Run the same tokens through llama.cpp (`llama_cpp.Llama`) and transformers.

Both sides receive identical token ids (from the checkpoint's tokenizer.json), so the
perplexity and greedy-generation comparisons measure the model math, not tokenization.
Windowing for perplexity is evaluate.token_windows / evaluate.window_nll on both sides.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from .evaluate import perplexity_from, window_nll

SHIPPED_CHECKPOINT = Path(__file__).resolve().parent.parent / "models" / "tiny-trilm"


def load_llama(gguf_path: Path, n_ctx: int, n_threads: int | None = None):
    from llama_cpp import Llama

    return Llama(model_path=str(gguf_path), n_ctx=n_ctx, n_batch=n_ctx, logits_all=True,
                 n_threads=n_threads, n_threads_batch=n_threads, verbose=False)


def llama_logits(llm, tokens: list[int]) -> np.ndarray:
    """(len(tokens), vocab) float32 logits from an empty cache."""
    llm.reset()
    llm.eval(tokens)
    return np.array(llm.scores[: len(tokens)], dtype=np.float32)


def llama_perplexity(llm, windows: list[list[int]], progress=None) -> tuple[float, float]:
    """(perplexity, prompt-processing tokens/s) over the windows."""
    results, seconds, n_tokens = [], 0.0, 0
    for w in (progress(windows) if progress else windows):
        t0 = time.perf_counter()
        logits = llama_logits(llm, w)
        seconds += time.perf_counter() - t0
        n_tokens += len(w)
        results.append(window_nll(logits, w))
    return perplexity_from(results), n_tokens / seconds


def llama_greedy(llm, prompt: list[int], n_new: int) -> tuple[list[int], float]:
    """Greedy (argmax) continuation of exactly n_new tokens; returns (ids, decode tokens/s)."""
    llm.reset()
    llm.eval(prompt)
    out: list[int] = []
    t0 = time.perf_counter()
    for _ in range(n_new):
        tok = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        out.append(tok)
        if len(out) < n_new:
            llm.eval([tok])
    return out, n_new / (time.perf_counter() - t0)


def load_transformers(ckpt_dir: Path):
    from transformers import LlamaForCausalLM

    return LlamaForCausalLM.from_pretrained(str(ckpt_dir), dtype=torch.float32).eval()


@torch.no_grad()
def transformers_logits(model, tokens: list[int]) -> np.ndarray:
    return model(torch.tensor([tokens])).logits[0].float().numpy()


@torch.no_grad()
def transformers_perplexity_timed(model, windows: list[list[int]], progress=None) -> tuple[float, float]:
    results, seconds, n_tokens = [], 0.0, 0
    for w in (progress(windows) if progress else windows):
        t0 = time.perf_counter()
        logits = transformers_logits(model, w)
        seconds += time.perf_counter() - t0
        n_tokens += len(w)
        results.append(window_nll(logits, w))
    return perplexity_from(results), n_tokens / seconds


@torch.no_grad()
def transformers_greedy(model, prompt: list[int], n_new: int) -> tuple[list[int], float]:
    """transformers' own greedy `generate` (no early stop at EOS), new ids and tokens/s."""
    ids = torch.tensor([prompt])
    t0 = time.perf_counter()
    out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n_new, min_new_tokens=n_new,
                         do_sample=False, num_beams=1, pad_token_id=model.config.eos_token_id)
    seconds = time.perf_counter() - t0
    return out[0, len(prompt):].tolist(), n_new / seconds
