"""The shipped tiny TriLM (tq_gguf/models/tiny-trilm): layout, exact ternary weights, and
that it is actually trained (checked against transformers, which we did not write)."""

import json

import pytest
import torch
from safetensors.torch import load_file

from tq_gguf.trilm.compare import SHIPPED_CHECKPOINT, load_transformers
from tq_gguf.trilm.evaluate import load_heldout_ids, token_windows, transformers_perplexity
from tq_gguf.trilm.model import SCALE_GROUPS, TriLMShape, build_trilm

CKPT = SHIPPED_CHECKPOINT


@pytest.fixture(scope="module")
def tensors():
    return load_file(str(CKPT / "model.safetensors"))


@pytest.fixture(scope="module")
def config():
    return json.loads((CKPT / "config.json").read_text())


def test_files_in_hugging_face_layout(config):
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "heldout.txt", "README.md"):
        assert (CKPT / name).is_file(), name
    assert config["architectures"] == ["LlamaForCausalLM"]
    assert config["hidden_size"] % 256 == 0 and config["intermediate_size"] % 256 == 0
    total = sum(p.stat().st_size for p in CKPT.iterdir())
    assert total < 8 * 2**20, f"shipped checkpoint is {total} bytes"


def block_linear_names(config):
    for i in range(config["num_hidden_layers"]):
        for suffix, groups in SCALE_GROUPS.items():
            yield f"model.layers.{i}.{suffix}.weight", groups


def test_linear_weights_are_exactly_ternary_times_a_scale(tensors, config):
    names = dict(block_linear_names(config))
    two_scale_layers = 0
    for name, (groups, dim) in names.items():
        w = tensors[name]
        assert w.dtype == torch.float16
        scales = []
        for chunk in w.float().chunk(groups, dim=dim):
            mags = chunk.abs().unique()
            nonzero = mags[mags > 0]
            assert len(nonzero) == 1, f"{name}: {len(nonzero)} distinct nonzero magnitudes in a scale group"
            assert (chunk == 0).any() and (chunk > 0).any() and (chunk < 0).any()
            scales.append(nonzero.item())
        two_scale_layers += len(set(scales)) == 2
    # model-parallel-style scale groups: most layers really carry two different scales
    assert two_scale_layers >= config["num_hidden_layers"] * 5 // 2
    # everything else (embeddings, norms, head) is full precision, not ternary
    others = [n for n in tensors if n not in names]
    assert set(others) == {"model.embed_tokens.weight", "lm_head.weight", "model.norm.weight"} | {
        f"model.layers.{i}.{k}.weight" for i in range(config["num_hidden_layers"])
        for k in ("input_layernorm", "post_attention_layernorm")}
    assert tensors["lm_head.weight"].float().abs().unique().numel() > 1000


def test_trained_perplexity_far_below_untrained(config):
    summary = json.loads((CKPT / "train_summary.json").read_text())
    windows = token_windows(load_heldout_ids(CKPT), config["max_position_embeddings"])[:6]
    trained = transformers_perplexity(load_transformers(CKPT), windows)
    shape = TriLMShape(**summary["shape"])
    untrained = transformers_perplexity(build_trilm(shape, seed=summary["seed"]), windows)
    assert untrained > 1000  # ~ vocab size: an untrained model knows nothing
    assert trained < 30, trained
    assert trained * 50 < untrained


def test_tokenizer_round_trips_and_adds_bos():
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(CKPT))
    text = (CKPT / "heldout.txt").read_text()[:3000]
    ids = tok(text).input_ids
    assert ids[0] == tok.bos_token_id == 0
    assert tok.decode(ids, skip_special_tokens=True) == text
