"""The training script cannot rot: a few dozen steps on a tiny slice of the stdlib make the
loss fall, and the export round-trips through the converter (and llama.cpp, when built)."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from tq_gguf.trilm import train
from tq_gguf.trilm.ternary import TernaryLinear, ternarize


def test_ternarize_absmean_rule_and_straight_through_gradient():
    torch.manual_seed(0)
    w = torch.randn(4, 512)
    trits, gamma = ternarize(w, groups=2, group_dim=1)
    for half, g in ((w[:, :256], gamma[0, 0]), (w[:, 256:], gamma[0, 256])):
        expected_gamma = torch.tensor(1e-5 + half.abs().mean().item()).half().float()
        assert g == expected_gamma
    expected = torch.round(torch.clamp(w / gamma, -1, 1))
    assert torch.equal(trits, expected) and set(trits.unique().tolist()) <= {-1.0, 0.0, 1.0}
    lin = TernaryLinear(512, 4, groups=2, group_dim=1)
    with torch.no_grad():
        lin.weight.copy_(w)
    x = torch.randn(3, 512)
    lin(x).sum().backward()
    # STE: d(sum(x @ Wq^T))/dW == the gradient for a plain linear layer
    assert torch.allclose(lin.weight.grad, x.sum(0).expand(4, 512))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny_trilm")
    summary = train.main([
        "--out", str(out), "--max-files", "40", "--steps", "40", "--batch-size", "8", "--context", "64",
        "--vocab-size", "512", "--layers", "1", "--hidden-size", "256", "--intermediate-size", "512",
        "--lr", "3e-3", "--threads", "1", "--heldout-chars", "6000", "--eval-windows", "4", "--log-every", "10",
    ])
    return out, summary


def test_loss_falls(tiny_run):
    _, summary = tiny_run
    losses = summary["losses"]
    assert len(losses) == 40
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 1.0, (losses[:5], losses[-5:])
    assert summary["heldout_ppl_trained"] < summary["heldout_ppl_untrained"] / 2


def test_export_is_ternary_and_loads_in_transformers(tiny_run):
    out, summary = tiny_run
    assert json.loads((out / "config.json").read_text())["architectures"] == ["LlamaForCausalLM"]
    w = load_file(str(out / "model.safetensors"))["model.layers.0.mlp.down_proj.weight"].float()
    for half in w.chunk(2, dim=1):  # row-parallel: two scale groups along the input
        assert (half.abs().unique() > 0).sum() == 1
    from transformers import LlamaForCausalLM

    model = LlamaForCausalLM.from_pretrained(str(out), dtype=torch.float32)
    assert sum(p.numel() for p in model.parameters()) == summary["parameters"]


def test_export_round_trips_through_the_converter(tiny_run):
    convert = pytest.importorskip("tq_gguf.convert")
    gguf = pytest.importorskip("gguf")
    out, _ = tiny_run
    path = out / "tiny.tq2_0.gguf"
    convert.convert_checkpoint(out, path, outtype="tq2_0", progress=False)
    reader = gguf.GGUFReader(str(path))
    tensors = {t.name: t for t in reader.tensors}
    t = tensors["blk.0.ffn_down.weight"]
    assert t.tensor_type == gguf.GGMLQuantizationType.TQ2_0
    deq = gguf.quants.dequantize(t.data, t.tensor_type)  # gguf-py's own TQ2_0 decoder
    ref = load_file(str(out / "model.safetensors"))["model.layers.0.mlp.down_proj.weight"].float().numpy()
    np.testing.assert_array_equal(deq.reshape(ref.shape).astype(np.float32), ref)
