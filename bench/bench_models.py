"""Models for the end-to-end benchmarks: the shipped tiny TriLM, converted, and a synthetic
Llama-architecture model with random weights written directly in the type under test.

Synthetic model layout: every block projection (attn_q/k/v/output, ffn_gate/up/down) in the
type under test, quantized by ggml_quantize_chunk of the library under test (same bytes as
llama-quantize would write for these types, without needing the tools build); token_embd and
output in Q8_0 (F16 for the F16 model), so that every quantized model carries the same
embedding/output cost; norms F32. Vocabulary: SentencePiece-style "llama" tokenizer with
<unk>/<s>/</s>, the 256 byte tokens and filler pieces, scores 0: only speed means anything.
"""
from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np

from ggml_ctypes import REPO, TYPE_IDS, Ggml

CACHE = REPO / "build" / "bench-models"
TINY_TRILM = REPO / "tq_gguf" / "models" / "tiny-trilm"

SYNTH_SHAPES = {
    # TriLM 1.1B shapes (Spectra suite)
    "synth-1b": dict(n_embd=2048, n_ff=5632, n_layer=22, n_head=32, n_head_kv=4, n_vocab=32000),
    # short mode: tiny, but every tensor kind and k % 256 == 0 for the TQ types
    "synth-tiny": dict(n_embd=256, n_ff=512, n_layer=2, n_head=4, n_head_kv=2, n_vocab=1024),
}


def tiny_trilm(outtype: str) -> Path:
    """The shipped tiny TriLM converted to outtype (tq2_0, tq1_0, f16), cached under build/."""
    out = CACHE / f"tiny-trilm-{outtype}.gguf"
    src_stamp = (TINY_TRILM / "model.safetensors").stat().st_mtime
    if not out.exists() or out.stat().st_mtime < src_stamp:
        from tq_gguf.convert import convert_checkpoint
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp.gguf")
        tmp.unlink(missing_ok=True)
        convert_checkpoint(TINY_TRILM, tmp, outtype=outtype, progress=False)
        tmp.replace(out)
    return out


def _vocab(w: gguf.GGUFWriter, n_vocab: int) -> None:
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


def synthetic(name: str, type_name: str, g: Ggml) -> Path:
    """Write (once) the synthetic model `name` with its projections in type_name."""
    out = CACHE / f"{name}-{type_name.lower()}.gguf"
    if out.exists():
        return out
    s = SYNTH_SHAPES[name]
    e, f, hd = s["n_embd"], s["n_ff"], s["n_embd"] // s["n_head"]
    kv = s["n_head_kv"] * hd
    rng = np.random.default_rng(0)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.gguf")
    w = gguf.GGUFWriter(str(tmp), "llama")
    w.add_name(f"{name}-{type_name}")
    w.add_context_length(4096)
    w.add_embedding_length(e)
    w.add_feed_forward_length(f)
    w.add_block_count(s["n_layer"])
    w.add_head_count(s["n_head"])
    w.add_head_count_kv(s["n_head_kv"])
    w.add_rope_dimension_count(hd)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if type_name == "F16" else gguf.LlamaFileType.GUESSED)
    _vocab(w, s["n_vocab"])

    def matrix(tensor: str, rows: int, k: int, t: str) -> None:
        data = (rng.standard_normal((rows, k), dtype=np.float32) * 0.02)
        w.add_tensor(tensor, g.quantize(TYPE_IDS[t], data), raw_dtype=gguf.GGMLQuantizationType[t])

    def norm(tensor: str) -> None:
        w.add_tensor(tensor, np.ones(e, dtype=np.float32))

    edge = "F16" if type_name == "F16" else "Q8_0"
    matrix("token_embd.weight", s["n_vocab"], e, edge)
    for i in range(s["n_layer"]):
        norm(f"blk.{i}.attn_norm.weight")
        for tensor, rows, k in (("attn_q", e, e), ("attn_k", kv, e), ("attn_v", kv, e),
                                ("attn_output", e, e), ("ffn_gate", f, e), ("ffn_up", f, e),
                                ("ffn_down", e, f)):
            matrix(f"blk.{i}.{tensor}.weight", rows, k, type_name)
        norm(f"blk.{i}.ffn_norm.weight")
    norm("output_norm.weight")
    matrix("output.weight", s["n_vocab"], e, edge)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    tmp.replace(out)
    return out
