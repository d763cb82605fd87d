"""Recovering a TriLM checkpoint's own trits and scales, exactly.

A TriLM linear weight is stored as ``trit * scale`` with one scale per
model-parallel shard, i.e. per group of rows (column-parallel layers) or of
columns (row-parallel layers). A TQ block is 256 consecutive weights of one
row, so it lies inside one shard when the shard width is a multiple of 256 and
then has exactly one scale. Recovery therefore works per block:

    scale = max |w| over the block, and every |w| in the block must be 0 or scale.

All of it runs on the raw bit patterns (uint16 for f16/bf16, uint32 for f32):
for non-negative IEEE floats the bit pattern orders like the value, so block
maxima, the zero test and equality are exact integer operations and nothing is
rounded. The only rounding is the final scale -> fp16 conversion, which is a
no-op for fp16 checkpoints. This is precisely what ggml's reference quantizer
does with such blocks (absmax scale, x/scale in {-1, 0, 1}), so the packed
bytes equal gguf-py's ``quants.quantize`` of the same values.

``--ternarize`` instead applies TriLM's absmean rule to latent weights:
``scale = mean |W|`` over the matrix (or over each of N row groups),
``trit = clip(round(W / scale), -1, 1)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .checkpoint import to_float32

QK = 256


@dataclass(frozen=True)
class _BitLayout:
    uint: type
    abs_mask: int
    sign_shift: int
    inf_bits: int  # abs bit patterns >= this are Inf or NaN


_BITS = {
    "f16": _BitLayout(np.uint16, 0x7FFF, 15, 0x7C00),
    "bf16": _BitLayout(np.uint16, 0x7FFF, 15, 0x7F80),
    "f32": _BitLayout(np.uint32, 0x7FFFFFFF, 31, 0x7F800000),
}


class NotTernary(Exception):
    """Raised with a human-readable description of how far a chunk is from ternary."""


class NonFinite(Exception):
    pass


def _bits(chunk: np.ndarray, dtype: str) -> tuple[np.ndarray, _BitLayout]:
    layout = _BITS[dtype]
    return np.ascontiguousarray(chunk).view(layout.uint), layout


def all_finite(chunk: np.ndarray, dtype: str) -> bool:
    """No Inf/NaN, tested on the bit patterns (no float conversion)."""
    bits, layout = _bits(chunk, dtype)
    return bool(((bits & layout.uint(layout.abs_mask)) < layout.uint(layout.inf_bits)).all())


def _magnitudes_to_float16(abs_bits: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "f16":
        return abs_bits.view(np.float16)
    if dtype == "bf16":
        return (abs_bits.astype(np.uint32) << np.uint32(16)).view(np.float32).astype(np.float16)
    return abs_bits.view(np.float32).astype(np.float16)


def _describe_deviation(values: np.ndarray, block_axis_len: int) -> str:
    """How far float32 values (rows, cols) are from ternary-times-a-block-scale."""
    blocks = np.abs(values.reshape(-1, block_axis_len)).astype(np.float64)
    scale = blocks.max(axis=1, keepdims=True)
    safe = np.where(scale == 0, 1.0, scale)
    off_grid = (blocks != 0) & (blocks != scale)
    rel = np.abs(blocks - np.round(blocks / safe) * scale) / safe
    first = int(np.argmax(off_grid.any(axis=1)))
    n_magnitudes = len(np.unique(blocks[first][blocks[first] != 0]))
    hint = ""
    if n_magnitudes <= 4:
        hint = " (ternary, but with scale groups that split a 256-weight block, which TQ types cannot store exactly)"
    return (
        f"{off_grid.mean():.1%} of values are neither 0 nor their block's ±max; "
        f"max distance from the ternary grid {rel.max():.3g} of the scale; "
        f"first bad block has {n_magnitudes} distinct magnitudes{hint}"
    )


class Workspace:
    """Scratch buffers reused across chunks: fresh multi-megabyte temporaries
    cost page faults on every chunk and dominated the run time."""

    def __init__(self) -> None:
        self._buffers: dict[tuple[str, np.dtype], np.ndarray] = {}

    def get(self, name: str, n: int, dtype) -> np.ndarray:
        key = (name, np.dtype(dtype))
        buf = self._buffers.get(key)
        if buf is None or buf.size < n:
            buf = self._buffers[key] = np.empty(n, dtype=dtype)
        return buf[:n]


def recover_codes(
    chunk: np.ndarray, dtype: str, block: int = QK, workspace: Workspace | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """chunk: (rows, cols) in storage dtype, cols % block == 0.

    Returns (codes uint8 (rows, cols) with code = trit + 1, scales fp16 (rows, cols // block)).
    The codes live in the workspace and are overwritten by the next call.
    Raises NonFinite or NotTernary."""
    ws = workspace or Workspace()
    bits, layout = _bits(chunk, dtype)
    rows, cols = bits.shape
    n, n_blocks = rows * cols, rows * cols // block
    flat = bits.reshape(n)
    magnitude = np.bitwise_and(flat, layout.uint(layout.abs_mask), out=ws.get("magnitude", n, layout.uint))
    blocks = magnitude.reshape(n_blocks, block)
    block_max = blocks.max(axis=-1)
    if n_blocks and int(block_max.max()) >= layout.inf_bits:
        raise NonFinite()
    nonzero = np.not_equal(magnitude, 0, out=ws.get("nonzero", n, np.bool_))
    # The block is {0, ±max} exactly when its smallest non-zero magnitude is its max.
    # magnitude - 1 wraps 0 around to the largest integer, so zeros never are the minimum.
    shifted = np.subtract(magnitude, layout.uint(1), out=ws.get("shifted", n, layout.uint))
    block_min_nonzero = shifted.reshape(n_blocks, block).min(axis=-1) + layout.uint(1)
    if not np.array_equal(block_min_nonzero, block_max):
        raise NotTernary(_describe_deviation(to_float32(chunk, dtype) if dtype != "f32" else np.asarray(chunk), block))
    # code = 1 + nonzero - 2 * (nonzero & negative), computed in place on uint8
    negative = np.greater_equal(flat, layout.uint(1 << layout.sign_shift), out=ws.get("negative", n, np.bool_))
    np.bitwise_and(negative, nonzero, out=negative)
    codes = np.add(nonzero.view(np.uint8), np.uint8(1), out=ws.get("codes", n, np.uint8))
    np.subtract(codes, negative.view(np.uint8), out=codes)
    np.subtract(codes, negative.view(np.uint8), out=codes)
    scales = _magnitudes_to_float16(block_max, dtype)
    return codes.reshape(rows, cols), scales.reshape(rows, cols // block)


def check_rows_or_columns_ternary(array: np.ndarray, dtype: str) -> None:
    """For tensors whose rows do not split into 256-blocks (stored as floats):
    each row, or else each column, must be 0 or ±one magnitude. Raises NotTernary/NonFinite."""
    bits, layout = _bits(array, dtype)
    magnitude = bits & layout.uint(layout.abs_mask)
    if magnitude.size and int(magnitude.max()) >= layout.inf_bits:
        raise NonFinite()
    for axis in (1, 0):
        m = magnitude if axis == 1 else magnitude.T
        if np.array_equal((m - layout.uint(1)).min(axis=1) + layout.uint(1), m.max(axis=1)):
            return
    raise NotTernary(_describe_deviation(to_float32(array, dtype) if dtype != "f32" else np.asarray(array), array.shape[1]))


def absmean_row_scales(abs_row_sums: np.ndarray, n_cols: int, n_groups: int) -> np.ndarray:
    """Per-row absmean scale (float32), one value per group of rows."""
    n_rows = abs_row_sums.shape[0]
    group_means = abs_row_sums.reshape(n_groups, n_rows // n_groups).sum(axis=1) / (n_rows // n_groups * n_cols)
    return np.repeat(group_means, n_rows // n_groups).astype(np.float32)


def ternarize_codes(values: np.ndarray, row_scales: np.ndarray, block: int = QK) -> tuple[np.ndarray, np.ndarray]:
    """TriLM's rule on float32 values (rows, cols) with one scale per row.
    Blocks that end up all zero get scale 0, as ggml's quantizer would give them."""
    rows, cols = values.shape
    safe = np.where(row_scales == 0, np.float32(1), row_scales).astype(np.float32)
    trits = np.clip(np.rint(values / safe[:, None]), -1, 1).astype(np.int8)
    codes = (trits + np.int8(1)).view(np.uint8)
    any_nonzero = (trits.reshape(rows, cols // block, block) != 0).any(axis=-1)
    scales = np.where(any_nonzero, row_scales[:, None], 0).astype(np.float16)
    return codes, scales
