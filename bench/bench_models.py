"""Models for the end-to-end benchmarks: the shipped tiny TriLM, converted, and a synthetic
Llama-architecture model with random weights written directly in the type under test.

Synthetic model layout: every block projection (attn_q/k/v/output, ffn_gate/up/down) in the
type under test, quantized by ggml_quantize_chunk of the library under test (same bytes as
llama-quantize would write for these types, without needing the tools build); token_embd and
output in Q8_0 (F16 for the F16 model), so that every quantized model carries the same
embedding/output cost; norms F32. Layout and vocabulary: synth_llama.py (only speed means
anything).
"""
from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np

from ggml_ctypes import REPO, TYPE_IDS, Ggml
from synth_llama import SHAPES, write_llama

CACHE = REPO / "build" / "bench-models"
TINY_TRILM = REPO / "tq_gguf" / "models" / "tiny-trilm"

SYNTH_SHAPES = {  # name -> (synth_llama shape, vocabulary size)
    "synth-1b": (SHAPES["trilm-1.1b"], 32000),
    "synth-tiny": (SHAPES["tiny"], 1024),  # short mode
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


def synthetic(name: str, type_name: str, g: Ggml) -> Path:
    """Write (once) the synthetic model `name` with its projections in type_name."""
    out = CACHE / f"{name}-{type_name.lower()}.gguf"
    if out.exists():
        return out
    shape, n_vocab = SYNTH_SHAPES[name]
    rng = np.random.default_rng(0)
    edge = "F16" if type_name == "F16" else "Q8_0"

    def quantized(w: gguf.GGUFWriter, tensor: str, rows: int, k: int, is_edge: bool) -> None:
        t = edge if is_edge else type_name
        data = rng.standard_normal((rows, k), dtype=np.float32) * 0.02
        w.add_tensor(tensor, g.quantize(TYPE_IDS[t], data), raw_dtype=gguf.GGMLQuantizationType[t])

    file_type = gguf.LlamaFileType.MOSTLY_F16 if type_name == "F16" else gguf.LlamaFileType.GUESSED
    return write_llama(out, shape, f"{name}-{type_name}", n_vocab, quantized, file_type)
