"""End to end: llama.cpp (through llama-cpp-python) running a converted checkpoint
gives the logits of Hugging Face transformers' float32 forward pass.

TQ types on the CPU quantize activations to 8 bits (Q8_K), so the bar is top-1
agreement >= 0.95 and a max |logit diff| small against the logits' spread."""

from __future__ import annotations

import numpy as np
import pytest

from convert_helpers import make_checkpoint
from tq_gguf.convert import convert_checkpoint

CASES = {
    "tq2_0-f16-gqa": (dict(dtype="f16", n_heads=4, n_kv_heads=2, intermediate=768, mp_groups=2), "tq2_0"),
    "tq1_0-bf16-mha": (dict(dtype="bf16", n_heads=4, intermediate=512, mp_groups=4, weight_format="bin"), "tq1_0"),
}
N_PROMPT = 48


def transformers_logits(folder, tokens: list[int]) -> np.ndarray:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    model = transformers.LlamaForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
    model.eval()
    with torch.no_grad():
        return model(torch.tensor([tokens])).logits[0].numpy()


def llama_cpp_logits(llama_cpp, gguf_path, tokens: list[int]) -> np.ndarray:
    llm = llama_cpp.Llama(model_path=str(gguf_path), logits_all=True, n_ctx=128, n_threads=2, verbose=False)
    llm.eval(tokens)
    return np.array(llm.scores[: len(tokens)], dtype=np.float32)


@pytest.mark.parametrize("case", list(CASES))
def test_llama_cpp_matches_transformers(case, tmp_path, our_llama_cpp):
    kwargs, outtype = CASES[case]
    ckpt = make_checkpoint(tmp_path / "ckpt", n_layers=2, hidden=256, vocab_size=384, seed=11, **kwargs)
    out = tmp_path / f"{case}.gguf"
    convert_checkpoint(ckpt.path, out, outtype=outtype, progress=False)

    rng = np.random.default_rng(5)
    tokens = [int(t) for t in rng.integers(0, 380, size=N_PROMPT)]
    want = transformers_logits(ckpt.path, tokens)
    got = llama_cpp_logits(our_llama_cpp, out, tokens)
    assert got.shape == want.shape

    agreement = float(np.mean(got.argmax(axis=1) == want.argmax(axis=1)))
    spread = float(want.max() - want.min())
    max_diff = float(np.abs(got - want).max())
    assert agreement >= 0.95, f"top-1 agreement {agreement:.3f}"
    assert max_diff <= 0.05 * spread, f"max |diff| {max_diff:.4f} vs spread {spread:.2f}"
