"""Converted checkpoints hold exactly the checkpoint's weights, metadata and vocabulary.

References we did not write: gguf-py's reader and quants.quantize/dequantize,
the tokenizers / sentencepiece libraries, and (when built) llama-cpp-python."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gguf import GGUFReader, GGMLQuantizationType
from gguf import quants as ref_quants

from convert_helpers import make_checkpoint, rope_permute
from tq_gguf.convert import convert_checkpoint

T = GGMLQuantizationType

HF_TO_GGUF = {
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
    "input_layernorm.weight": "attn_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
}

CASES = {
    # name: (make_checkpoint kwargs, outtype)
    "f16-single-mha-tq2": (dict(dtype="f16"), "tq2_0"),
    "bf16-3shards-gqa-tq1": (dict(dtype="bf16", n_files=3, n_kv_heads=2, mp_groups=4), "tq1_0"),
    "f16-bin-2shards-tq2": (dict(dtype="f16", weight_format="bin", n_files=2, intermediate=768), "tq2_0"),
    "f32-wide-gqa1-tq2": (dict(dtype="f32", hidden=512, n_heads=8, n_kv_heads=1, intermediate=1024, n_layers=1, mp_groups=2), "tq2_0"),
    "bf16-tied-tq2": (dict(dtype="bf16", tie_embeddings=True, n_layers=1), "tq2_0"),
}


def gguf_name(hf_name: str) -> str:
    if hf_name == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf_name == "model.norm.weight":
        return "output_norm.weight"
    if hf_name == "lm_head.weight":
        return "output.weight"
    _, _, bid, rest = hf_name.split(".", 3)
    return f"blk.{bid}.{HF_TO_GGUF[rest]}"


def expected_layout(ckpt, hf_name: str) -> np.ndarray:
    values = ckpt.values[hf_name]
    if hf_name.endswith("q_proj.weight"):
        return rope_permute(values, ckpt.config["num_attention_heads"])
    if hf_name.endswith("k_proj.weight"):
        return rope_permute(values, ckpt.config["num_key_value_heads"])
    return values


def field_value(reader: GGUFReader, key: str):
    return reader.fields[key].contents()


@pytest.fixture(scope="module", params=list(CASES))
def converted(request, tmp_path_factory):
    kwargs, outtype = CASES[request.param]
    folder = tmp_path_factory.mktemp(request.param)
    ckpt = make_checkpoint(folder / "ckpt", **kwargs)
    out = folder / "model.gguf"
    summary = convert_checkpoint(ckpt.path, out, outtype=outtype, progress=False)
    return ckpt, GGUFReader(out), summary, outtype


def test_ternary_tensors_dequantize_exactly_to_checkpoint(converted):
    ckpt, reader, summary, outtype = converted
    tensors = {t.name: t for t in reader.tensors}
    assert len(ckpt.linear_names) == 7 * ckpt.config["num_hidden_layers"]
    for hf_name in ckpt.linear_names:
        tensor = tensors[gguf_name(hf_name)]
        assert tensor.tensor_type == T[outtype.upper()]
        expected = expected_layout(ckpt, hf_name)
        got = ref_quants.dequantize(tensor.data, tensor.tensor_type)
        # every stored value is ±scale or 0; the only rounding is the scale's to fp16
        # (a no-op for fp16 checkpoints)
        want = expected.astype(np.float16).astype(np.float32)
        if ckpt.config["torch_dtype"] == "float16":
            np.testing.assert_array_equal(want, expected)
        np.testing.assert_array_equal(got, want, err_msg=hf_name)


def test_packed_bytes_equal_gguf_py_quantize(converted):
    ckpt, reader, _, _ = converted
    tensors = {t.name: t for t in reader.tensors}
    for hf_name in ckpt.linear_names:
        tensor = tensors[gguf_name(hf_name)]
        ref = ref_quants.quantize(expected_layout(ckpt, hf_name), tensor.tensor_type)
        np.testing.assert_array_equal(np.asarray(tensor.data), ref, err_msg=hf_name)


def test_float_tensors_and_tensor_set(converted):
    ckpt, reader, summary, _ = converted
    tensors = {t.name: t for t in reader.tensors}
    assert set(tensors) == {gguf_name(n) for n in ckpt.values}
    for hf_name, values in ckpt.values.items():
        if hf_name in ckpt.linear_names:
            continue
        tensor = tensors[gguf_name(hf_name)]
        got = ref_quants.dequantize(tensor.data, tensor.tensor_type).reshape(values.shape)
        if values.ndim == 1:
            assert tensor.tensor_type == T.F32
            np.testing.assert_array_equal(got, values)
        else:
            assert tensor.tensor_type == T.F16
            np.testing.assert_array_equal(got, values.astype(np.float16).astype(np.float32))
    assert summary.n_tensors == len(tensors)
    assert sum(summary.tensors_per_type.values()) == len(tensors)
    assert summary.fallbacks == {}


def test_metadata(converted):
    ckpt, reader, summary, outtype = converted
    config = ckpt.config
    assert field_value(reader, "general.architecture") == "llama"
    assert field_value(reader, "llama.block_count") == config["num_hidden_layers"]
    assert field_value(reader, "llama.embedding_length") == config["hidden_size"]
    assert field_value(reader, "llama.feed_forward_length") == config["intermediate_size"]
    assert field_value(reader, "llama.attention.head_count") == config["num_attention_heads"]
    assert field_value(reader, "llama.attention.head_count_kv") == config["num_key_value_heads"]
    assert field_value(reader, "llama.rope.dimension_count") == config["hidden_size"] // config["num_attention_heads"]
    assert field_value(reader, "llama.context_length") == config["max_position_embeddings"]
    assert field_value(reader, "llama.vocab_size") == config["vocab_size"]
    assert abs(field_value(reader, "llama.attention.layer_norm_rms_epsilon") - config["rms_norm_eps"]) < 1e-9
    assert field_value(reader, "general.file_type") == {"tq1_0": 36, "tq2_0": 37}[outtype]
    expected_bpw = {"tq1_0": 54 * 8 / 256, "tq2_0": 66 * 8 / 256}[outtype]
    assert summary.ternary_bits_per_weight == pytest.approx(expected_bpw)
    assert summary.file_size == summary.out_path.stat().st_size


def test_bpe_vocab_round_trips(converted):
    from tokenizers import Tokenizer

    ckpt, reader, _, _ = converted
    tokenizer = Tokenizer.from_file(str(ckpt.path / "tokenizer.json"))
    tokens = field_value(reader, "tokenizer.ggml.tokens")
    types = field_value(reader, "tokenizer.ggml.token_type")
    assert field_value(reader, "tokenizer.ggml.model") == "gpt2"
    assert field_value(reader, "tokenizer.ggml.pre") == "gpt-2"
    assert len(tokens) == ckpt.config["vocab_size"]
    for i in range(tokenizer.get_vocab_size()):
        assert tokens[i] == tokenizer.id_to_token(i)
    eot = tokenizer.token_to_id("<|endoftext|>")
    assert types[eot] == 3  # CONTROL
    assert field_value(reader, "tokenizer.ggml.bos_token_id") == eot
    assert field_value(reader, "tokenizer.ggml.eos_token_id") == eot
    assert field_value(reader, "tokenizer.ggml.padding_token_id") == tokenizer.token_to_id("<|pad|>")
    merges = field_value(reader, "tokenizer.ggml.merges")
    assert len(merges) == len(json.loads((ckpt.path / "tokenizer.json").read_text())["model"]["merges"])
    assert "chat_template" in field_value(reader, "tokenizer.chat_template") or "messages" in field_value(reader, "tokenizer.chat_template")


TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Ternary weights: -1, 0, +1 (times 0.0123)!  Two  spaces\tand a tab.\nNew line; ÄÖÜ 日本",
    "llama.cpp's TQ2_0 packs 4 trits/byte; it's 2.0625 bits per weight.",
]


def test_llama_cpp_tokenizes_like_tokenizers(converted, our_llama_cpp):
    from tokenizers import Tokenizer

    ckpt, reader, summary, _ = converted
    tokenizer = Tokenizer.from_file(str(ckpt.path / "tokenizer.json"))
    llm = our_llama_cpp.Llama(model_path=str(summary.out_path), vocab_only=True, verbose=False)
    for text in TEXTS:
        want = tokenizer.encode(text, add_special_tokens=False).ids
        got = llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        assert got == want, text
    special = llm.tokenize(b"<|endoftext|>", add_bos=False, special=True)
    assert special == [tokenizer.token_to_id("<|endoftext|>")]


def test_sentencepiece_vocab(tmp_path):
    import sentencepiece as spm

    ckpt = make_checkpoint(tmp_path / "ckpt", tokenizer="spm", n_layers=1, vocab_size=400)
    out = tmp_path / "spm.gguf"
    convert_checkpoint(ckpt.path, out, progress=False)
    reader = GGUFReader(out)
    processor = spm.SentencePieceProcessor(model_file=str(ckpt.path / "tokenizer.model"))
    tokens = field_value(reader, "tokenizer.ggml.tokens")
    scores = field_value(reader, "tokenizer.ggml.scores")
    types = field_value(reader, "tokenizer.ggml.token_type")
    assert field_value(reader, "tokenizer.ggml.model") == "llama"
    assert len(tokens) == 400
    for i in range(processor.vocab_size()):
        assert tokens[i] == processor.id_to_piece(i)
        assert scores[i] == pytest.approx(processor.get_score(i))
    assert types[processor.unk_id()] == 2 and types[processor.bos_id()] == 3
    assert all(types[i] == 6 for i in range(processor.vocab_size()) if processor.is_byte(i))
    assert all(t == 5 for t in types[processor.vocab_size():])
    assert field_value(reader, "tokenizer.ggml.bos_token_id") == processor.bos_id()
    assert field_value(reader, "tokenizer.ggml.eos_token_id") == processor.eos_id()
    try:
        import llama_cpp
    except ImportError:
        return
    llm = llama_cpp.Llama(model_path=str(out), vocab_only=True, verbose=False)
    for text in TEXTS[:1]:
        assert llm.tokenize(text.encode(), add_bos=False) == processor.encode(text)


def test_fallback_for_rows_not_multiple_of_256(tmp_path):
    # intermediate 320: ffn_down rows are 320 long -> F16 (exact), listed in the summary
    ckpt = make_checkpoint(tmp_path / "ckpt", intermediate=320, n_layers=1, tokenizer="bpe")
    out = tmp_path / "fb.gguf"
    summary = convert_checkpoint(ckpt.path, out, progress=False)
    tensors = {t.name: t for t in GGUFReader(out).tensors}
    assert tensors["blk.0.ffn_down.weight"].tensor_type == T.F16
    assert tensors["blk.0.ffn_up.weight"].tensor_type == T.TQ2_0
    assert list(summary.fallbacks) == ["blk.0.ffn_down.weight"]
    assert "320" in summary.fallbacks["blk.0.ffn_down.weight"]
    assert "blk.0.ffn_down.weight" in summary.format()
    got = ref_quants.dequantize(tensors["blk.0.ffn_down.weight"].data, T.F16).reshape(256, 320)
    np.testing.assert_array_equal(got, ckpt.values["model.layers.0.mlp.down_proj.weight"])


def test_q8_0_embeddings_option(tmp_path):
    ckpt = make_checkpoint(tmp_path / "ckpt", n_layers=1)
    out = tmp_path / "q8.gguf"
    summary = convert_checkpoint(ckpt.path, out, progress=False, embedding_type="q8_0")
    tensors = {t.name: t for t in GGUFReader(out).tensors}
    for name, hf in (("token_embd.weight", "model.embed_tokens.weight"), ("output.weight", "lm_head.weight")):
        assert tensors[name].tensor_type == T.Q8_0
        np.testing.assert_array_equal(np.asarray(tensors[name].data), ref_quants.quantize(ckpt.values[hf], T.Q8_0))
    assert summary.tensors_per_type["Q8_0"] == 2


def test_ternarize_latent_checkpoint_absmean(tmp_path):
    ckpt = make_checkpoint(tmp_path / "ckpt", latent=True, n_layers=1, intermediate=512)
    out = tmp_path / "t.gguf"
    summary = convert_checkpoint(ckpt.path, out, progress=False, ternarize=True, mp_shards=2)
    assert len(summary.ternarized) == 7
    tensors = {t.name: t for t in GGUFReader(out).tensors}
    hf = "model.layers.0.mlp.up_proj.weight"
    w = ckpt.values[hf].astype(np.float64)
    halves = np.split(w, 2, axis=0)
    want = np.concatenate([np.clip(np.round(h / np.abs(h).mean()), -1, 1) * np.abs(h).mean() for h in halves])
    got = ref_quants.dequantize(tensors["blk.0.ffn_up.weight"].data, T.TQ2_0)
    np.testing.assert_allclose(got, want, rtol=1e-3)  # scale rounded to fp16
    assert len(np.unique(np.abs(got[got != 0]))) == 2


def test_ternarize_keeps_ternary_checkpoint_exact(tmp_path):
    ckpt = make_checkpoint(tmp_path / "ckpt", n_layers=1, mp_groups=4)
    out = tmp_path / "keep.gguf"
    summary = convert_checkpoint(ckpt.path, out, progress=False, ternarize=True)
    assert summary.ternarized == []
    tensors = {t.name: t for t in GGUFReader(out).tensors}
    got = ref_quants.dequantize(tensors["blk.0.ffn_gate.weight"].data, T.TQ2_0)
    np.testing.assert_array_equal(got, ckpt.values["model.layers.0.mlp.gate_proj.weight"])
