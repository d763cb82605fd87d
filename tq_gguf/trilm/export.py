"""Export a trained TriLM in Hugging Face layout, as TriLM checkpoints are published.

Files: config.json (LlamaForCausalLM, dtype float16), model.safetensors, tokenizer.json,
tokenizer_config.json. In model.safetensors every block linear is stored as
trit * scale in fp16 (trit in {-1,0,1}, one fp16 scale per scale group); embeddings,
norms and lm_head are the fp16 rounding of the latent full-precision tensors.
A plain `LlamaForCausalLM.from_pretrained` therefore computes exactly the ternary model.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer

from .model import block_linears
from .tokenizer import save_tokenizer


def ternary_state_dict(model) -> dict[str, torch.Tensor]:
    quantized = {f"{name}.weight": getattr(parent, attr).quantized_weight() for name, parent, attr, _ in block_linears(model)}
    tensors = {}
    for name, tensor in model.state_dict().items():
        if "rotary_emb" in name:  # buffers recomputed from the config
            continue
        t = quantized.get(name, tensor)
        tensors[name] = t.detach().to("cpu", torch.float16).contiguous()
    return tensors


def add_legacy_config_keys(config_path: Path) -> None:
    """transformers 5 writes rope settings as `rope_parameters`; published TriLM configs (and
    converters written against them) read top-level `rope_theta` and `torch_dtype`. Keep both."""
    cfg = json.loads(config_path.read_text())
    rope = cfg.get("rope_parameters") or {}
    cfg.setdefault("rope_theta", rope.get("rope_theta", 10000.0))
    cfg.setdefault("torch_dtype", cfg.get("dtype", "float16"))
    config_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def export_checkpoint(model, tokenizer: Tokenizer, out_dir: Path) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = model.config
    config.architectures = ["LlamaForCausalLM"]
    config.dtype = "float16"
    config.save_pretrained(out_dir)
    add_legacy_config_keys(out_dir / "config.json")
    save_file(ternary_state_dict(model), str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    save_tokenizer(tokenizer, out_dir, model_max_length=config.max_position_embeddings)
    return out_dir
