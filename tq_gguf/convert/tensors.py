"""Turning one checkpoint tensor into the bytes of one GGUF tensor, a chunk of
rows at a time so that temporaries stay small next to the tensor itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
from gguf import quants as gguf_quants
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

from ..quants import QUANT_CLASSES
from .checkpoint import TensorSource, to_float32
from .errors import ConversionError
from .llama import Role, TensorPlan, rope_row_order
from .ternary import (
    QK,
    NonFinite,
    NotTernary,
    absmean_row_scales,
    check_rows_or_columns_ternary,
    Workspace,
    all_finite,
    recover_codes,
    ternarize_codes,
)

T = GGMLQuantizationType
TERNARY_TYPES = (T.TQ1_0, T.TQ2_0)
# rows are processed in chunks of about this many weights;
CHUNK_ELEMENTS = 1 << 17  # ~128K weights: the working set of a chunk stays in cache (measured best)


@dataclass
class TensorJob:
    plan: TensorPlan
    source: TensorSource
    qtype: GGMLQuantizationType
    fallback_reason: str | None = None  # set when a linear weight could not take the requested type

    @property
    def shape(self) -> tuple[int, ...]:
        return self.source.shape

    @property
    def out_nbytes(self) -> int:
        block, type_size = GGML_QUANT_SIZES[self.qtype]
        n = self.source.n_elements
        return n // block * type_size


def choose_type(plan: TensorPlan, shape: tuple[int, ...], outtype: T, embedding_type: T) -> tuple[T, str | None]:
    """GGUF type of a tensor, and why it differs from the requested one if it does."""
    if plan.role is Role.NORM or len(shape) == 1:
        return T.F32, None
    wanted = embedding_type if plan.role is Role.EMBEDDING else outtype
    block = GGML_QUANT_SIZES[wanted][0]
    if shape[-1] % block == 0:
        return wanted, None
    return T.F16, f"row length {shape[-1]} is not a multiple of {block} ({wanted.name})"


def _row_chunks(n_rows: int, n_cols: int):
    step = max(1, CHUNK_ELEMENTS // max(1, n_cols))
    for r0 in range(0, n_rows, step):
        yield r0, min(n_rows, r0 + step)


def _as_matrix(source: TensorSource) -> np.ndarray:
    array = source.load()
    return array.reshape(1, -1) if array.ndim == 1 else array


def _rows(src: np.ndarray, order: np.ndarray | None, r0: int, r1: int) -> np.ndarray:
    return src[order[r0:r1]] if order is not None else src[r0:r1]


def _finite_float32(chunk: np.ndarray, dtype: str, name: str) -> np.ndarray:
    values = to_float32(chunk, dtype)
    if not np.isfinite(values).all():
        raise ConversionError(f"tensor {name}: contains NaN or Inf")
    return values


def _not_ternary_error(name: str, detail: str) -> ConversionError:
    return ConversionError(
        f"tensor {name}: weights are not ternary times a scale ({detail}); "
        "use --ternarize to apply TriLM's absmean rule to a latent checkpoint"
    )


class TensorConverter:
    """Options shared by all tensors of one conversion.

    ``convert`` streams a tensor's GGUF bytes as consecutive chunks of rows
    (already in llama.cpp's row order), so the output never has to exist in
    memory as a whole; a yielded chunk may be a reused buffer and must be
    written before the next one is requested."""

    def __init__(self, ternary_output: bool, ternarize: bool = False, mp_shards: int = 1):
        self.ternary_output = ternary_output  # linear weights must be (or be made) ternary
        self.ternarize = ternarize
        self.mp_shards = mp_shards
        self.workspace = Workspace()

    def convert(self, job: TensorJob) -> tuple[str, Iterator[np.ndarray]]:
        """How the values are obtained -- "exact" (recovered trits and scales),
        "ternarized" (absmean rule) or "float" -- and the chunks of GGUF bytes."""
        if job.qtype in TERNARY_TYPES:
            return self._ternary(job)
        if job.plan.role is Role.LINEAR and self.ternary_output:
            return self._ternary_fallback(job)
        return "float", self._float(job, _as_matrix(job.source))

    # --- ternary types ------------------------------------------------------------

    def _ternary(self, job: TensorJob) -> tuple[str, Iterator[np.ndarray]]:
        name, dtype = job.plan.hf_name, job.source.storage_dtype
        src = _as_matrix(job.source)
        order = rope_row_order(src.shape[0], job.plan.rope_heads) if job.plan.rope_heads else None
        if self.ternarize and not self._is_ternary(src, dtype, name):
            return "ternarized", self._absmean_chunks(job, src, order)
        return "exact", self._exact_chunks(job, src, order)

    def _is_ternary(self, src: np.ndarray, dtype: str, name: str) -> bool:
        try:
            for r0, r1 in _row_chunks(*src.shape):
                recover_codes(src[r0:r1], dtype, workspace=self.workspace)
        except NonFinite:
            raise ConversionError(f"tensor {name}: contains NaN or Inf") from None
        except NotTernary:
            return False
        return True

    def _exact_chunks(self, job: TensorJob, src: np.ndarray, order: np.ndarray | None) -> Iterator[np.ndarray]:
        name, dtype = job.plan.hf_name, job.source.storage_dtype
        quant = QUANT_CLASSES[job.qtype]
        for r0, r1 in _row_chunks(*src.shape):
            try:
                codes, scales = recover_codes(_rows(src, order, r0, r1), dtype, workspace=self.workspace)
            except NonFinite:
                raise ConversionError(f"tensor {name}: contains NaN or Inf") from None
            except NotTernary as e:
                raise _not_ternary_error(name, str(e)) from None
            yield self._pack(quant, codes, scales, name)

    def _absmean_chunks(self, job: TensorJob, src: np.ndarray, order: np.ndarray | None) -> Iterator[np.ndarray]:
        name, dtype = job.plan.hf_name, job.source.storage_dtype
        quant = QUANT_CLASSES[job.qtype]
        row_scales = self._absmean_scales(src, dtype, name)
        if order is not None:
            row_scales = row_scales[order]
        for r0, r1 in _row_chunks(*src.shape):
            codes, scales = ternarize_codes(to_float32(_rows(src, order, r0, r1), dtype), row_scales[r0:r1])
            yield self._pack(quant, codes, scales, name)

    def _pack(self, quant, codes: np.ndarray, scales: np.ndarray, name: str) -> np.ndarray:
        if not np.isfinite(scales).all():
            raise ConversionError(f"tensor {name}: a scale exceeds the fp16 range of TQ block scales")
        out = self.workspace.get(f"packed-{quant.__name__}", scales.size * quant.type_size, np.uint8)
        return quant.pack_codes(codes.reshape(-1, QK), scales.reshape(-1), out=out.reshape(-1, quant.type_size))

    def _absmean_scales(self, src: np.ndarray, dtype: str, name: str) -> np.ndarray:
        n_rows, n_cols = src.shape
        if n_rows % self.mp_shards != 0:
            raise ConversionError(f"tensor {name}: {n_rows} rows do not split into --mp-shards {self.mp_shards} groups")
        sums = np.empty(n_rows, dtype=np.float64)
        for r0, r1 in _row_chunks(n_rows, n_cols):
            sums[r0:r1] = np.abs(_finite_float32(src[r0:r1], dtype, name)).sum(axis=1, dtype=np.float64)
        return absmean_row_scales(sums, n_cols, self.mp_shards)

    def _ternary_fallback(self, job: TensorJob) -> tuple[str, Iterator[np.ndarray]]:
        """A linear weight that cannot be TQ-packed: check (or ternarize) it, store it as floats."""
        name, dtype = job.plan.hf_name, job.source.storage_dtype
        src = _as_matrix(job.source)
        try:
            check_rows_or_columns_ternary(src, dtype)
        except NonFinite:
            raise ConversionError(f"tensor {name}: contains NaN or Inf") from None
        except NotTernary as e:
            if not self.ternarize:
                raise _not_ternary_error(name, str(e)) from None
            row_scales = self._absmean_scales(src, dtype, name)
            values = to_float32(src, dtype)
            trits = np.clip(np.rint(values / np.where(row_scales == 0, 1, row_scales)[:, None]), -1, 1)
            ternary = (trits * row_scales[:, None]).astype(np.float32)
            return "ternarized", self._float(job, ternary, dtype="f32")
        return "exact", self._float(job, src)

    # --- float and Q8_0 types -----------------------------------------------------------

    def _float(self, job: TensorJob, src: np.ndarray, dtype: str | None = None) -> Iterator[np.ndarray]:
        name, dtype = job.plan.hf_name, dtype or job.source.storage_dtype
        order = rope_row_order(src.shape[0], job.plan.rope_heads) if job.plan.rope_heads else None
        qtype = job.qtype
        # same storage and GGUF type: the chunk is written as it is, after a finiteness check
        passthrough = {T.F32: "f32", T.F16: "f16", T.BF16: "bf16"}.get(qtype) == dtype
        for r0, r1 in _row_chunks(*src.shape):
            chunk = _rows(src, order, r0, r1)
            if passthrough:
                if not all_finite(chunk, dtype):
                    raise ConversionError(f"tensor {name}: contains NaN or Inf")
                yield np.ascontiguousarray(chunk)
                continue
            values = _finite_float32(chunk, dtype, name)
            if qtype == T.F32:
                yield values
            elif qtype == T.F16:
                out = values.astype(np.float16)
                if not np.isfinite(out).all():
                    raise ConversionError(f"tensor {name}: values exceed the F16 range; use --outtype bf16 or f32")
                yield out
            elif qtype == T.BF16:
                if dtype == "bf16":
                    yield np.ascontiguousarray(chunk)
                else:  # round to nearest even, as ggml_compute_fp32_to_bf16
                    bits = values.view(np.uint32)
                    yield ((bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)).astype(np.uint16)
            elif qtype == T.Q8_0:
                yield gguf_quants.quantize(values, T.Q8_0)
            else:
                raise AssertionError(qtype)
