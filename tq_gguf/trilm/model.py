"""A Llama-architecture TriLM: `LlamaForCausalLM` with every block linear ternarized.

Embeddings, RMSNorms and the output head stay full precision (as in TriLM). Every block
linear's input length (hidden_size, intermediate_size) is a multiple of 256 so each row
splits into whole TQ1_0/TQ2_0 blocks; row-parallel scale groups split the input into
halves that are themselves multiples of 256, so no 256-weight block straddles two scales.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from .ternary import TernaryLinear
from .tokenizer import BOS_ID, EOS_ID

QK_K = 256

# name -> (scale groups, group_dim). Column-parallel layers split output rows (dim 0),
# row-parallel down_proj splits its input columns (dim 1). o_proj (input = hidden_size,
# one 256-block per row at hidden 256) keeps a single scale.
SCALE_GROUPS = {
    "self_attn.q_proj": (2, 0),
    "self_attn.k_proj": (2, 0),
    "self_attn.v_proj": (2, 0),
    "self_attn.o_proj": (1, 1),
    "mlp.gate_proj": (2, 0),
    "mlp.up_proj": (2, 0),
    "mlp.down_proj": (2, 1),
}


@dataclass
class TriLMShape:
    vocab_size: int = 2048
    hidden_size: int = 256
    intermediate_size: int = 512
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    context_length: int = 256


def llama_config(shape: TriLMShape) -> LlamaConfig:
    head_dim = shape.hidden_size // shape.num_attention_heads
    cfg = LlamaConfig(
        vocab_size=shape.vocab_size,
        hidden_size=shape.hidden_size,
        intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.num_hidden_layers,
        num_attention_heads=shape.num_attention_heads,
        num_key_value_heads=shape.num_key_value_heads,
        head_dim=head_dim,
        max_position_embeddings=shape.context_length,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        hidden_act="silu",
        tie_word_embeddings=False,
        attention_bias=False,
        mlp_bias=False,
        bos_token_id=BOS_ID,
        eos_token_id=EOS_ID,
        initializer_range=0.02,
    )
    cfg.architectures = ["LlamaForCausalLM"]
    return cfg


def check_shape(shape: TriLMShape) -> None:
    for name in ("hidden_size", "intermediate_size"):
        if getattr(shape, name) % QK_K:
            raise ValueError(f"{name}={getattr(shape, name)} must be a multiple of {QK_K} (TQ block size)")
    for suffix, (groups, dim) in SCALE_GROUPS.items():
        if groups > 1 and dim == 1:
            in_features = shape.intermediate_size if suffix.endswith("down_proj") else shape.hidden_size
            if (in_features // groups) % QK_K:
                raise ValueError(f"{suffix}: input {in_features} in {groups} groups straddles {QK_K}-blocks")


def block_linears(model: LlamaForCausalLM):
    """Yield (qualified name, parent module, attribute, (groups, dim)) for every block linear."""
    for i, layer in enumerate(model.model.layers):
        for suffix, groups in SCALE_GROUPS.items():
            parent_name, attr = suffix.split(".")
            parent = getattr(layer, parent_name)
            yield f"model.layers.{i}.{suffix}", parent, attr, groups


def build_trilm(shape: TriLMShape, seed: int = 0) -> LlamaForCausalLM:
    """A freshly initialised TriLM in float32 (latent weights) on the CPU."""
    check_shape(shape)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(llama_config(shape))
    for _, parent, attr, (groups, dim) in block_linears(model):
        dense = getattr(parent, attr)
        tern = TernaryLinear(dense.in_features, dense.out_features, groups=groups, group_dim=dim)
        with torch.no_grad():
            tern.weight.copy_(dense.weight)
        setattr(parent, attr, tern)
    return model.float()


def shape_dict(shape: TriLMShape) -> dict:
    return asdict(shape)
