#!/usr/bin/env python3
"""Write a synthetic Llama-architecture F16 GGUF (random weights) for speed benchmarks.

Shapes ("class" presets) follow the baseline logs: 3b = n_embd 3072, n_ff 8192, 28 layers,
24 heads, 8 kv heads (3.02 B params); 8b = 4096 / 14336 / 32 / 32 / 8 (7.24 B); 13b = 5120 /
13824 / 40 / 40 / 40; vocab 32000 with a dummy SentencePiece-style vocabulary. All projection widths
are multiples of 256 so every type (TQ1_0/TQ2_0 included) quantizes without fallback.
Random values come from one pool of N(0, 0.02) halves sliced at random offsets: fast, and the
kernels' speed does not depend on the values.

usage: make_synth_model.py {3b,8b,13b} OUT.gguf
"""
import sys
import numpy as np
import gguf

PRESETS = {
    "3b":  dict(n_embd=3072, n_ff=8192,  n_layer=28, n_head=24, n_head_kv=8),
    "8b":  dict(n_embd=4096, n_ff=14336, n_layer=32, n_head=32, n_head_kv=8),
    "13b": dict(n_embd=5120, n_ff=13824, n_layer=40, n_head=40, n_head_kv=40),
}
N_VOCAB = 32000


def main() -> None:
    cls, out = sys.argv[1], sys.argv[2]
    p = PRESETS[cls]
    rng = np.random.default_rng(0)
    pool = (rng.standard_normal(1 << 26, dtype=np.float32) * 0.02).astype(np.float16)

    def rnd(*shape):
        n = int(np.prod(shape))
        reps = -(-n // pool.size)
        off = int(rng.integers(0, pool.size))
        src = np.roll(pool, -off) if reps == 1 else np.tile(pool, reps)
        return np.ascontiguousarray(src[:n].reshape(shape))

    e, f, hd = p["n_embd"], p["n_ff"], p["n_embd"] // p["n_head"]
    w = gguf.GGUFWriter(out, "llama")
    w.add_name(f"synthetic-{cls}")
    w.add_context_length(4096)
    w.add_embedding_length(e)
    w.add_block_count(p["n_layer"])
    w.add_feed_forward_length(f)
    w.add_head_count(p["n_head"])
    w.add_head_count_kv(p["n_head_kv"])
    w.add_rope_dimension_count(hd)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    w.add_tokenizer_model("llama")
    toks = [b"<unk>", b"<s>", b"</s>"] + [f"t{i}".encode() for i in range(3, N_VOCAB)]
    w.add_token_list(toks)
    w.add_token_scores([0.0] * N_VOCAB)
    w.add_token_types([gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
                      + [gguf.TokenType.NORMAL] * (N_VOCAB - 3))
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)

    ones = np.ones(e, dtype=np.float32)
    w.add_tensor("token_embd.weight", rnd(N_VOCAB, e))
    for i in range(p["n_layer"]):
        b = f"blk.{i}."
        w.add_tensor(b + "attn_norm.weight", ones)
        w.add_tensor(b + "attn_q.weight", rnd(e, e))
        w.add_tensor(b + "attn_k.weight", rnd(p["n_head_kv"] * hd, e))
        w.add_tensor(b + "attn_v.weight", rnd(p["n_head_kv"] * hd, e))
        w.add_tensor(b + "attn_output.weight", rnd(e, e))
        w.add_tensor(b + "ffn_norm.weight", ones)
        w.add_tensor(b + "ffn_gate.weight", rnd(f, e))
        w.add_tensor(b + "ffn_up.weight", rnd(f, e))
        w.add_tensor(b + "ffn_down.weight", rnd(e, f))
    w.add_tensor("output_norm.weight", ones)
    w.add_tensor("output.weight", rnd(N_VOCAB, e))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print("wrote", out)


if __name__ == "__main__":
    main()
