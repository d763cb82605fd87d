"""Small synthetic TriLM checkpoints for tests (and for colleagues' tests/demos).

``make_checkpoint(folder, ...)`` writes a complete Hugging Face Llama folder:
config.json, weights (safetensors, optionally sharded with an index, or
pytorch_model*.bin), and a tokenizer (byte-level BPE tokenizer.json trained
on the spot with ``tokenizers``, or a SentencePiece tokenizer.model). Linear
weights are ``trit * scale`` with a different scale per model-parallel shard:
groups of rows for q/k/v/gate/up, groups of 256-column blocks for o/down
(Megatron's column- and row-parallel layers). Returns a ``Checkpoint`` that
holds the exact stored values (float32) for comparisons.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

LINEAR_SUFFIXES = (
    "self_attn.q_proj.weight",
    "self_attn.k_proj.weight",
    "self_attn.v_proj.weight",
    "self_attn.o_proj.weight",
    "mlp.gate_proj.weight",
    "mlp.up_proj.weight",
    "mlp.down_proj.weight",
)
_TORCH_DTYPES = {"f16": torch.float16, "bf16": torch.bfloat16, "f32": torch.float32}

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Ternary language models store every weight as -1, 0 or +1 times a scale.",
    "llama.cpp runs GGUF files on CPUs and GPUs; TQ2_0 packs four trits per byte.",
    "Hello world! Numbers like 12345 and 3.14159 get split into pieces.",
    "Spectra trains TriLMs, FloatLMs and QuantLMs of many sizes, from 99M to 3.9B parameters.",
    "  Leading spaces, tabs\tand\nnewlines are part of byte-level BPE too. ÄÖÜ äöü ß é ñ 日本語",
]


@dataclass
class Checkpoint:
    path: Path
    config: dict
    values: dict[str, np.ndarray] = field(default_factory=dict)  # HF name -> exact stored values, float32
    row_scales: dict[str, np.ndarray] = field(default_factory=dict)  # HF name -> scale of every (row, 256-block)

    @property
    def linear_names(self) -> list[str]:
        return [n for n in self.values if n.endswith(LINEAR_SUFFIXES)]


def _round_to(values: np.ndarray, dtype: str) -> np.ndarray:
    return torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32)).to(_TORCH_DTYPES[dtype]).float().numpy()


def ternary_weight(
    rng: np.random.Generator, rows: int, cols: int, dtype: str, groups: int, column_groups: bool, base_scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """trit * scale with one scale per group of rows (or of 256-column blocks).
    Returns (values float32 exactly representable in dtype, scale per (row, block))."""
    trits = rng.integers(-1, 2, size=(rows, cols)).astype(np.float32)
    n_axis = cols if column_groups else rows
    if n_axis % groups != 0 or (column_groups and (cols // groups) % 256 != 0):
        groups = 1
    scales = _round_to(base_scale * rng.uniform(0.5, 1.5, size=groups), dtype)
    per_index = np.repeat(scales, n_axis // groups)
    values = trits * (per_index[None, :] if column_groups else per_index[:, None])
    if cols % 256 == 0:
        block_scales = np.abs(values).reshape(rows, cols // 256, 256).max(axis=-1)
    else:
        block_scales = np.abs(values).max(axis=1, keepdims=True)
    return values.astype(np.float32), block_scales


def write_bpe_tokenizer(folder: Path, vocab_size: int, chat_template: bool = True) -> int:
    """Train a byte-level BPE (GPT-2 pre-tokenization, like TriLM's) of at most
    vocab_size - 2 tokens plus <|endoftext|> and <|pad|>; returns its size."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - 2,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
        show_progress=False,
    )
    tokenizer.train_from_iterator(CORPUS * 4, trainer)
    tokenizer.add_special_tokens(["<|endoftext|>", "<|pad|>"])
    tokenizer.save(str(folder / "tokenizer.json"))
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<|endoftext|>",
        "eos_token": "<|endoftext|>",
        "pad_token": "<|pad|>",
        "add_bos_token": False,
        "model_max_length": 2048,
    }
    if chat_template:
        tokenizer_config["chat_template"] = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=1))
    return tokenizer.get_vocab_size()


def write_sentencepiece_tokenizer(folder: Path, vocab_size: int) -> int:
    import io

    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS * 20),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="bpe",
        byte_fallback=True,
        character_coverage=1.0,
        minloglevel=2,
        hard_vocab_limit=False,
    )
    (folder / "tokenizer.model").write_bytes(model.getvalue())
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "add_bos_token": True}, indent=1)
    )
    return spm.SentencePieceProcessor(model_proto=model.getvalue()).vocab_size()


def make_checkpoint(
    folder: str | Path,
    *,
    hidden: int = 256,
    intermediate: int = 512,
    n_layers: int = 2,
    n_heads: int = 4,
    n_kv_heads: int | None = None,
    vocab_size: int = 384,
    dtype: str = "f16",
    weight_format: str = "safetensors",
    n_files: int = 1,
    mp_groups: int = 2,
    tokenizer: str | None = "bpe",
    tie_embeddings: bool = False,
    latent: bool = False,
    embedding_std: float = 1.0,
    seed: int = 0,
) -> Checkpoint:
    """Write a synthetic Llama checkpoint with ternary-times-scale linear weights.

    dtype: "f16", "bf16" or "f32" storage; weight_format: "safetensors" or "bin";
    n_files > 1 shards the weights (with an index json); mp_groups: number of
    model-parallel scale groups per linear weight; latent: store plain Gaussian
    (not ternary) linear weights instead; tokenizer: "bpe", "spm" or None."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n_kv_heads = n_kv_heads or n_heads
    head_dim = hidden // n_heads

    if tokenizer == "bpe":
        write_bpe_tokenizer(folder, vocab_size)
    elif tokenizer == "spm":
        write_sentencepiece_tokenizer(folder, vocab_size)

    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": hidden,
        "intermediate_size": intermediate,
        "num_hidden_layers": n_layers,
        "num_attention_heads": n_heads,
        "num_key_value_heads": n_kv_heads,
        "vocab_size": vocab_size,
        "max_position_embeddings": 512,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "hidden_act": "silu",
        "tie_word_embeddings": tie_embeddings,
        "attention_bias": False,
        "mlp_bias": False,
        "torch_dtype": {"f16": "float16", "bf16": "bfloat16", "f32": "float32"}[dtype],
        "bos_token_id": vocab_size - 2 if tokenizer == "bpe" else 1,
        "eos_token_id": vocab_size - 2 if tokenizer == "bpe" else 2,
    }
    (folder / "config.json").write_text(json.dumps(config, indent=1))
    ckpt = Checkpoint(folder, config)

    def add(name: str, values: np.ndarray) -> None:
        ckpt.values[name] = _round_to(values, dtype)

    add("model.embed_tokens.weight", rng.normal(0, embedding_std, size=(vocab_size, hidden)))
    shapes = {
        "self_attn.q_proj.weight": (n_heads * head_dim, hidden, False),
        "self_attn.k_proj.weight": (n_kv_heads * head_dim, hidden, False),
        "self_attn.v_proj.weight": (n_kv_heads * head_dim, hidden, False),
        "self_attn.o_proj.weight": (hidden, n_heads * head_dim, True),
        "mlp.gate_proj.weight": (intermediate, hidden, False),
        "mlp.up_proj.weight": (intermediate, hidden, False),
        "mlp.down_proj.weight": (hidden, intermediate, True),
    }
    for bid in range(n_layers):
        prefix = f"model.layers.{bid}."
        add(prefix + "input_layernorm.weight", 1 + 0.1 * rng.standard_normal(hidden))
        add(prefix + "post_attention_layernorm.weight", 1 + 0.1 * rng.standard_normal(hidden))
        for suffix, (rows, cols, column_groups) in shapes.items():
            base = 1.0 / np.sqrt(cols * 2 / 3)  # keeps activations O(1) (2/3 of trits are non-zero)
            if latent:
                add(prefix + suffix, rng.normal(0, base, size=(rows, cols)))
            else:
                values, block_scales = ternary_weight(rng, rows, cols, dtype, mp_groups, column_groups, base)
                ckpt.values[prefix + suffix] = values
                ckpt.row_scales[prefix + suffix] = block_scales
    add("model.norm.weight", 1 + 0.1 * rng.standard_normal(hidden))
    if not tie_embeddings:
        add("lm_head.weight", rng.normal(0, 1.0, size=(vocab_size, hidden)))

    write_weights(folder, ckpt.values, dtype, weight_format, n_files)
    return ckpt


def write_weights(folder: Path, values: dict[str, np.ndarray], dtype: str, weight_format: str = "safetensors", n_files: int = 1) -> None:
    names = list(values)
    tensors = {n: torch.from_numpy(values[n]).to(_TORCH_DTYPES[dtype]).contiguous() for n in names}
    groups = [names[i::n_files] for i in range(n_files)]
    if weight_format == "safetensors":
        from safetensors.torch import save_file

        file_names = ["model.safetensors"] if n_files == 1 else [f"model-{i + 1:05d}-of-{n_files:05d}.safetensors" for i in range(n_files)]
        index_name = "model.safetensors.index.json"
        for file_name, group in zip(file_names, groups):
            save_file({n: tensors[n] for n in group}, str(folder / file_name), metadata={"format": "pt"})
    elif weight_format == "bin":
        file_names = ["pytorch_model.bin"] if n_files == 1 else [f"pytorch_model-{i + 1:05d}-of-{n_files:05d}.bin" for i in range(n_files)]
        index_name = "pytorch_model.bin.index.json"
        for file_name, group in zip(file_names, groups):
            torch.save({n: tensors[n] for n in group}, folder / file_name)
    else:
        raise ValueError(weight_format)
    if n_files > 1:
        weight_map = {n: file_names[i] for i, group in enumerate(groups) for n in group}
        (folder / index_name).write_text(json.dumps({"metadata": {}, "weight_map": weight_map}, indent=1))


def rope_permute(weights: np.ndarray, n_heads: int) -> np.ndarray:
    """Row order llama.cpp expects for q/k (independent re-derivation of the permutation)."""
    rows = weights.shape[0]
    head_dim = rows // n_heads
    out = np.empty_like(weights)
    for h in range(n_heads):
        for i in range(head_dim // 2):
            out[h * head_dim + 2 * i] = weights[h * head_dim + i]
            out[h * head_dim + 2 * i + 1] = weights[h * head_dim + head_dim // 2 + i]
    return out
