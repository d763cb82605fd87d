"""The Llama architecture: hyperparameters, tensor names, expected shapes, and
the q/k row permutation llama.cpp's rope needs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

import numpy as np

from .errors import ConversionError

SUPPORTED_ARCHITECTURES = ("LlamaForCausalLM",)


class Role(Enum):
    LINEAR = "linear"  # the seven projections of a block: written ternary
    EMBEDDING = "embedding"  # token_embd / output
    NORM = "norm"  # 1-d, always F32


# HF per-block suffix -> (GGUF per-block name, role)
_BLOCK_TENSORS = {
    "self_attn.q_proj.weight": ("attn_q.weight", Role.LINEAR),
    "self_attn.k_proj.weight": ("attn_k.weight", Role.LINEAR),
    "self_attn.v_proj.weight": ("attn_v.weight", Role.LINEAR),
    "self_attn.o_proj.weight": ("attn_output.weight", Role.LINEAR),
    "mlp.gate_proj.weight": ("ffn_gate.weight", Role.LINEAR),
    "mlp.up_proj.weight": ("ffn_up.weight", Role.LINEAR),
    "mlp.down_proj.weight": ("ffn_down.weight", Role.LINEAR),
    "input_layernorm.weight": ("attn_norm.weight", Role.NORM),
    "post_attention_layernorm.weight": ("ffn_norm.weight", Role.NORM),
}
_GLOBAL_TENSORS = {
    "model.embed_tokens.weight": ("token_embd.weight", Role.EMBEDDING),
    "model.norm.weight": ("output_norm.weight", Role.NORM),
    "lm_head.weight": ("output.weight", Role.EMBEDDING),
}
# buffers some checkpoints carry that llama.cpp recomputes
_IGNORED = re.compile(r"^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$|^model\.rotary_emb\.inv_freq$")
_BLOCK_NAME = re.compile(r"^model\.layers\.(\d+)\.(.+)$")


@dataclass(frozen=True)
class LlamaParams:
    n_vocab: int
    n_embd: int
    n_layer: int
    n_ff: int
    n_head: int
    n_head_kv: int
    head_dim: int
    head_dim_explicit: bool
    n_ctx: int
    rms_eps: float
    rope_theta: float
    rope_scaling: dict | None
    tie_embeddings: bool
    name: str

    @classmethod
    def from_config(cls, config: dict, config_path: str, default_name: str) -> "LlamaParams":
        archs = config.get("architectures") or []
        model_type = config.get("model_type")
        if not (any(a in SUPPORTED_ARCHITECTURES for a in archs) or (not archs and model_type == "llama")):
            found = ", ".join(archs) if archs else f"model_type {model_type!r}"
            raise ConversionError(f"{config_path}: unsupported architecture {found} (supported: LlamaForCausalLM / model_type llama)")
        if model_type not in (None, "llama"):
            raise ConversionError(f"{config_path}: unsupported model_type {model_type!r} (supported: llama)")

        def need(key: str) -> int:
            value = config.get(key)
            if not isinstance(value, int) or value <= 0:
                raise ConversionError(f"{config_path}: {key} missing or not a positive integer")
            return value

        n_embd, n_head = need("hidden_size"), need("num_attention_heads")
        n_head_kv = config.get("num_key_value_heads") or n_head
        head_dim = config.get("head_dim") or n_embd // n_head
        if n_head % n_head_kv != 0:
            raise ConversionError(f"{config_path}: num_attention_heads {n_head} is not a multiple of num_key_value_heads {n_head_kv}")
        if head_dim % 2 != 0:
            raise ConversionError(f"{config_path}: head dimension {head_dim} is odd, rope needs it even")
        rope = config.get("rope_parameters") or {}
        rope_theta = config.get("rope_theta", rope.get("rope_theta", 10000.0))
        rope_scaling = config.get("rope_scaling") or (rope if rope.get("rope_type") not in (None, "default") else None)
        for key in ("attention_bias", "mlp_bias"):
            if config.get(key):
                raise ConversionError(f"{config_path}: {key}=true is not supported (TriLM checkpoints have no biases)")
        return cls(
            n_vocab=need("vocab_size"),
            n_embd=n_embd,
            n_layer=need("num_hidden_layers"),
            n_ff=need("intermediate_size"),
            n_head=n_head,
            n_head_kv=n_head_kv,
            head_dim=head_dim,
            head_dim_explicit="head_dim" in config and head_dim != n_embd // n_head,
            n_ctx=int(config.get("max_position_embeddings", 2048)),
            rms_eps=float(config.get("rms_norm_eps", 1e-6)),
            rope_theta=float(rope_theta),
            rope_scaling=rope_scaling,
            tie_embeddings=bool(config.get("tie_word_embeddings", False)),
            name=str(config.get("_name_or_path") or default_name),
        )

    def expected_shape(self, gguf_name: str) -> tuple[int, ...]:
        """Shape in Hugging Face (out_features, in_features) order."""
        parts = gguf_name.split(".")
        base = parts[2] if parts[0] == "blk" else parts[0]
        q_dim, kv_dim = self.n_head * self.head_dim, self.n_head_kv * self.head_dim
        return {
            "token_embd": (self.n_vocab, self.n_embd),
            "output": (self.n_vocab, self.n_embd),
            "output_norm": (self.n_embd,),
            "attn_norm": (self.n_embd,),
            "ffn_norm": (self.n_embd,),
            "attn_q": (q_dim, self.n_embd),
            "attn_k": (kv_dim, self.n_embd),
            "attn_v": (kv_dim, self.n_embd),
            "attn_output": (self.n_embd, q_dim),
            "ffn_gate": (self.n_ff, self.n_embd),
            "ffn_up": (self.n_ff, self.n_embd),
            "ffn_down": (self.n_embd, self.n_ff),
        }[base]

    def rope_heads(self, gguf_name: str) -> int | None:
        """Number of heads whose rows get the rope permutation, None if not permuted."""
        if gguf_name.endswith("attn_q.weight"):
            return self.n_head
        if gguf_name.endswith("attn_k.weight"):
            return self.n_head_kv
        return None


@dataclass(frozen=True)
class TensorPlan:
    hf_name: str
    gguf_name: str
    role: Role
    rope_heads: int | None


def plan_tensors(params: LlamaParams, hf_names: list[str], shapes: dict[str, tuple[int, ...]]) -> list[TensorPlan]:
    """Map every checkpoint tensor to its GGUF name, check shapes against the
    config, and order them the way llama.cpp's converter does (globals around blocks)."""
    plans: dict[str, TensorPlan] = {}
    for hf_name in hf_names:
        if _IGNORED.match(hf_name):
            continue
        if hf_name in _GLOBAL_TENSORS:
            gguf_name, role = _GLOBAL_TENSORS[hf_name]
        elif (m := _BLOCK_NAME.match(hf_name)) and m.group(2) in _BLOCK_TENSORS:
            bid = int(m.group(1))
            if bid >= params.n_layer:
                raise ConversionError(f"tensor {hf_name}: block {bid} but config has num_hidden_layers={params.n_layer}")
            suffix, role = _BLOCK_TENSORS[m.group(2)]
            gguf_name = f"blk.{bid}.{suffix}"
        else:
            raise ConversionError(f"tensor {hf_name}: not a LlamaForCausalLM tensor this converter knows")
        expected = params.expected_shape(gguf_name)
        if tuple(shapes[hf_name]) != expected:
            raise ConversionError(f"tensor {hf_name}: shape {list(shapes[hf_name])} does not match config (expected {list(expected)})")
        plans[gguf_name] = TensorPlan(hf_name, gguf_name, role, params.rope_heads(gguf_name))

    required = ["token_embd.weight", "output_norm.weight"]
    if not params.tie_embeddings:
        required.append("output.weight")
    for bid in range(params.n_layer):
        required += [f"blk.{bid}.{suffix}" for suffix, _ in _BLOCK_TENSORS.values()]
    hf_of = {g: h for h, (g, _) in _GLOBAL_TENSORS.items()}
    for gguf_name in required:
        if gguf_name not in plans:
            hf_name = hf_of.get(gguf_name) or _hf_block_name(gguf_name)
            raise ConversionError(f"tensor {hf_name}: missing from the checkpoint")

    block_order = {suffix: i for i, (suffix, _) in enumerate(_BLOCK_TENSORS.values())}

    def order(name: str) -> tuple[int, int, int]:
        # token_embd, then blocks in order (q, k, v, o, gate, up, down, norms), then the head
        if name == "token_embd.weight":
            return (0, 0, 0)
        if name.startswith("blk."):
            _, bid, suffix = name.split(".", 2)
            return (1, int(bid), block_order[suffix])
        return (2, 0, 0 if name == "output_norm.weight" else 1)

    return [plans[name] for name in sorted(plans, key=order)]


def _hf_block_name(gguf_name: str) -> str:
    _, bid, suffix = gguf_name.split(".", 2)
    for hf_suffix, (g, _) in _BLOCK_TENSORS.items():
        if g == suffix:
            return f"model.layers.{bid}.{hf_suffix}"
    return gguf_name


def rope_row_order(n_rows: int, n_heads: int) -> np.ndarray:
    """Source row of every destination row for llama.cpp's rope layout.

    HF stores each head's rows as [first half of the rotary pairs, second
    half]; llama.cpp (GPT-J style) wants them interleaved: destination row
    (h, i, j) for i < head_dim/2, j in {0, 1} takes source row (h, j, i)."""
    half = n_rows // n_heads // 2
    return np.arange(n_rows).reshape(n_heads, 2, half).swapaxes(1, 2).reshape(n_rows)
