"""Write a synthetic F16 Llama GGUF (random weights, minimal vocab) with TriLM shapes, for speed runs.

    python bench/cpu_make_model.py --size 1b --out build/models/synth-1b-f16.gguf
    llama-quantize build/models/synth-1b-f16.gguf build/models/synth-1b-tq2_0.gguf TQ2_0

Shapes: "1b" = TriLM 1.1B (n_embd 2048, n_ff 5632, 22 layers, 32 heads, 4 kv heads),
"3b" = TriLM 3.9B (n_embd 3072, n_ff 9216, 30 layers, 24 heads, 24 kv heads). Vocab 32000 tokens
named <t0>.. (no merges, "llama" SPM-style, scores 0). Only speed is meaningful with such a model.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import gguf

SHAPES = {
    "1b": dict(n_embd=2048, n_ff=5632, n_layer=22, n_head=32, n_head_kv=4),
    "3b": dict(n_embd=3072, n_ff=9216, n_layer=30, n_head=24, n_head_kv=24),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=sorted(SHAPES), default="1b")
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    s = SHAPES[a.size]
    E, F, L, H, HKV, V = s["n_embd"], s["n_ff"], s["n_layer"], s["n_head"], s["n_head_kv"], a.vocab
    hd = E // H
    rng = np.random.default_rng(a.seed)

    def w(*shape):  # ggml ne = reversed numpy shape: (rows, cols) -> ne0 = cols
        return (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float16)

    a.out.parent.mkdir(parents=True, exist_ok=True)
    wr = gguf.GGUFWriter(str(a.out), "llama")
    wr.add_name(f"synthetic-trilm-{a.size}")
    wr.add_context_length(2048)
    wr.add_embedding_length(E)
    wr.add_feed_forward_length(F)
    wr.add_block_count(L)
    wr.add_head_count(H)
    wr.add_head_count_kv(HKV)
    wr.add_rope_dimension_count(hd)
    wr.add_layer_norm_rms_eps(1e-5)
    wr.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    wr.add_tokenizer_model("llama")
    wr.add_token_list([f"<t{i}>" for i in range(V)])
    wr.add_token_scores([0.0] * V)
    types = [gguf.TokenType.NORMAL] * V
    types[0] = gguf.TokenType.UNKNOWN
    types[1] = types[2] = gguf.TokenType.CONTROL
    wr.add_token_types(types)
    wr.add_bos_token_id(1)
    wr.add_eos_token_id(2)
    wr.add_unk_token_id(0)

    wr.add_tensor("token_embd.weight", w(V, E))
    wr.add_tensor("output_norm.weight", np.ones(E, dtype=np.float32))
    wr.add_tensor("output.weight", w(V, E))
    for i in range(L):
        p = f"blk.{i}."
        wr.add_tensor(p + "attn_norm.weight", np.ones(E, dtype=np.float32))
        wr.add_tensor(p + "attn_q.weight", w(E, E))
        wr.add_tensor(p + "attn_k.weight", w(HKV * hd, E))
        wr.add_tensor(p + "attn_v.weight", w(HKV * hd, E))
        wr.add_tensor(p + "attn_output.weight", w(E, E))
        wr.add_tensor(p + "ffn_norm.weight", np.ones(E, dtype=np.float32))
        wr.add_tensor(p + "ffn_gate.weight", w(F, E))
        wr.add_tensor(p + "ffn_up.weight", w(F, E))
        wr.add_tensor(p + "ffn_down.weight", w(E, F))
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
    print(a.out)


if __name__ == "__main__":
    main()
