"""Synthetic Llama-architecture GGUF files with random weights: for speed runs only.

One writer serves every benchmark (CPU tables, GPU tables, the pytest-benchmark suite): llama.cpp
metadata, a SentencePiece-style vocabulary (<unk>, <s>, </s>, the 256 byte tokens, filler
pieces, scores 0) and the tensors of a Llama block stack in llama.cpp's order. The caller picks
each matrix's values and type through `write_matrix(writer, name, rows, k, is_edge)`, where
`is_edge` marks token_embd/output (the non-block matrices). Every projection width in SHAPES
is a multiple of 256, so TQ1_0/TQ2_0 quantize every block matrix without fallback.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import gguf
import numpy as np

SHAPES = {
    # the Spectra suite's TriLM shapes
    "trilm-1.1b": dict(n_embd=2048, n_ff=5632, n_layer=22, n_head=32, n_head_kv=4),
    "trilm-3.9b": dict(n_embd=3072, n_ff=9216, n_layer=30, n_head=24, n_head_kv=24),
    # the Llama classes of the GPU baseline logs (shared/baseline/h100-upstream-*.log)
    "3b": dict(n_embd=3072, n_ff=8192, n_layer=28, n_head=24, n_head_kv=8),
    "8b": dict(n_embd=4096, n_ff=14336, n_layer=32, n_head=32, n_head_kv=8),
    "13b": dict(n_embd=5120, n_ff=13824, n_layer=40, n_head=40, n_head_kv=40),
    # CI-sized: every tensor kind, k % 256 == 0
    "tiny": dict(n_embd=256, n_ff=512, n_layer=2, n_head=4, n_head_kv=2),
}

MatrixWriter = Callable[[gguf.GGUFWriter, str, int, int, bool], None]


def add_vocab(w: gguf.GGUFWriter, n_vocab: int) -> None:
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(256)]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL] + \
        [gguf.TokenType.BYTE] * 256
    tokens += [f"\u2581t{i}" for i in range(n_vocab - len(tokens))]
    types += [gguf.TokenType.NORMAL] * (n_vocab - len(types))
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * n_vocab)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)


def write_llama(out: Path, shape: dict, name: str, n_vocab: int, write_matrix: MatrixWriter,
                file_type: gguf.LlamaFileType, context_length: int = 4096) -> Path:
    """Write the model to out (through a temporary file: never a partial out)."""
    e, f, n_layer = shape["n_embd"], shape["n_ff"], shape["n_layer"]
    hd = e // shape["n_head"]
    kv = shape["n_head_kv"] * hd
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    w = gguf.GGUFWriter(str(tmp), "llama")
    w.add_name(name)
    w.add_context_length(context_length)
    w.add_embedding_length(e)
    w.add_feed_forward_length(f)
    w.add_block_count(n_layer)
    w.add_head_count(shape["n_head"])
    w.add_head_count_kv(shape["n_head_kv"])
    w.add_rope_dimension_count(hd)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(file_type)
    add_vocab(w, n_vocab)

    ones = np.ones(e, dtype=np.float32)
    write_matrix(w, "token_embd.weight", n_vocab, e, True)
    for i in range(n_layer):
        b = f"blk.{i}."
        w.add_tensor(b + "attn_norm.weight", ones)
        for tensor, rows, k in (("attn_q", e, e), ("attn_k", kv, e), ("attn_v", kv, e),
                                ("attn_output", e, e), ("ffn_gate", f, e), ("ffn_up", f, e),
                                ("ffn_down", e, f)):
            write_matrix(w, f"{b}{tensor}.weight", rows, k, False)
        w.add_tensor(b + "ffn_norm.weight", ones)
    w.add_tensor("output_norm.weight", ones)
    write_matrix(w, "output.weight", n_vocab, e, True)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    tmp.replace(out)
    return out
