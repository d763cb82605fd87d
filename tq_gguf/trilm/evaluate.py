"""Windowed perplexity, computed the same way for transformers and llama.cpp.

Windowing (shared by both back ends so numbers are comparable): the held-out text is
tokenized once with the checkpoint's tokenizer.json (BOS prepended), the token stream is
cut into consecutive non-overlapping windows of `n_ctx` tokens (a trailing partial window
is dropped), each window is evaluated from an empty cache, and every token of a window
except its first is scored. Perplexity = exp(total NLL / scored tokens).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch


def token_windows(ids: list[int], n_ctx: int) -> list[list[int]]:
    n = len(ids) // n_ctx
    if n == 0:
        raise ValueError(f"text has {len(ids)} tokens, fewer than one window of {n_ctx}")
    return [ids[i * n_ctx : (i + 1) * n_ctx] for i in range(n)]


def window_nll(logits: np.ndarray, window: list[int]) -> tuple[float, int]:
    """Sum of -log p(token[t+1] | ..t) over the window, from (len, vocab) logits."""
    logits = np.asarray(logits, dtype=np.float64)[: len(window) - 1]
    targets = np.asarray(window[1:])
    m = logits.max(axis=1, keepdims=True)
    logz = (m[:, 0] + np.log(np.exp(logits - m).sum(axis=1)))
    return float((logz - logits[np.arange(len(targets)), targets]).sum()), len(targets)


def perplexity_from(nll_counts) -> float:
    total, count = 0.0, 0
    for nll, n in nll_counts:
        total, count = total + nll, count + n
    return math.exp(total / count)


@torch.no_grad()
def transformers_perplexity(model, windows: list[list[int]]) -> float:
    model.eval()
    device = next(model.parameters()).device
    def per_window():
        for w in windows:
            logits = model(torch.tensor([w], device=device)).logits[0].float().cpu().numpy()
            yield window_nll(logits, w)
    return perplexity_from(per_window())


def load_heldout_ids(ckpt_dir: Path, text_path: Path | None = None) -> list[int]:
    """Held-out token ids: tokenizer.json of the checkpoint applied to heldout.txt."""
    from tokenizers import Tokenizer

    ckpt_dir = Path(ckpt_dir)
    tok = Tokenizer.from_file(str(ckpt_dir / "tokenizer.json"))
    text = Path(text_path or ckpt_dir / "heldout.txt").read_text(encoding="utf-8")
    return tok.encode(text).ids
