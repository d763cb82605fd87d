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


def timed_perplexity(logits_of, windows: list[list[int]], progress=None) -> tuple[float, float]:
    """(perplexity, prompt-processing tokens/s) over the windows; logits_of(window) -> logits.
    Only the logits computation is timed, not the loss."""
    results, seconds, n_tokens = [], 0.0, 0
    for w in (progress(windows) if progress else windows):
        t0 = time.perf_counter()
        logits = logits_of(w)
        seconds += time.perf_counter() - t0
        n_tokens += len(w)
        results.append(window_nll(logits, w))
    return perplexity_from(results), n_tokens / seconds


def llama_perplexity(llm, windows: list[list[int]], progress=None) -> tuple[float, float]:
    """(perplexity, prompt-processing tokens/s) of a llama_cpp.Llama over the windows."""
    return timed_perplexity(lambda w: llama_logits(llm, w), windows, progress)


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


def transformers_perplexity_timed(model, windows: list[list[int]], progress=None) -> tuple[float, float]:
    """(perplexity, prompt-processing tokens/s) of a transformers model over the windows."""
    return timed_perplexity(lambda w: transformers_logits(model, w), windows, progress)


@torch.no_grad()
def transformers_greedy(model, prompt: list[int], n_new: int) -> tuple[list[int], float]:
    """transformers' own greedy `generate` (no early stop at EOS), new ids and tokens/s."""
    ids = torch.tensor([prompt])
    t0 = time.perf_counter()
    out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n_new, min_new_tokens=n_new,
                         do_sample=False, num_beams=1, pad_token_id=model.config.eos_token_id)
    seconds = time.perf_counter() - t0
    return out[0, len(prompt):].tolist(), n_new / seconds


def q8k_round_trip(x: torch.Tensor, block: int = 256) -> torch.Tensor:
    """x after ggml's Q8_K quantization (quantize_row_q8_K_ref): per block of 256 along the
    last dim, q = nearest_int(-127/max * x) with `max` the signed value of largest |x|,
    value = q * (-max/127). Rounding is half-to-even, as ggml's nearest_int."""
    shape = x.shape
    xb = x.reshape(-1, shape[-1] // block, block).float()
    idx = xb.abs().argmax(dim=-1, keepdim=True)
    vmax = torch.gather(xb, -1, idx)
    iscale = torch.where(vmax == 0, torch.zeros_like(vmax), -127.0 / vmax)
    q = torch.clamp(torch.round(iscale * xb), max=127)
    d = torch.where(vmax == 0, torch.zeros_like(vmax), 1.0 / iscale)
    return (q * d).reshape(shape).to(x.dtype)


class Q8KActivations:
    """Context manager: the inputs of every block linear of a transformers Llama go through
    q8k_round_trip, emulating llama.cpp's CPU TQ1_0/TQ2_0 path (ternary weight x Q8_K
    activation dot products). Everything else stays float32."""

    def __init__(self, model):
        self.model, self.handles = model, []

    def __enter__(self):
        for layer in self.model.model.layers:
            for mod in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj,
                        layer.self_attn.o_proj, layer.mlp.gate_proj, layer.mlp.up_proj, layer.mlp.down_proj):
                self.handles.append(mod.register_forward_pre_hook(lambda m, args: (q8k_round_trip(args[0]),)))
        return self.model

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()
        self.handles.clear()
