"""Vectorised TQ1_0 / TQ2_0 packing and unpacking.

Byte-identical to gguf-py's ``gguf.quants`` (and therefore to ggml's
``quantize_row_tq1_0_ref`` / ``quantize_row_tq2_0_ref``), but much faster:

* the converter never goes through floats to find trits: it hands over trit
  *codes* (``code = trit + 1`` in {0, 1, 2}, uint8) and one fp16 scale per
  block, so packing is pure integer work;
* the integer work runs on uint64 lanes (8 codes per operation) wherever no
  lane can carry into its neighbour.

``quantize_blocks`` / ``dequantize_blocks`` keep gguf-py's float interface
(absmax scale per block, round half away from zero) for drop-in comparison.

Block layouts (QK_K = 256 weights per block, little endian):

TQ2_0 (66 bytes): ``qs[64] | d[fp16]``. Weight ``n`` of the block is 2 bits in
byte ``32*(n//128) + n%32`` at shift ``2*((n%128)//32)``; code ``c`` means trit
``c - 1``.

TQ1_0 (54 bytes): ``qs[48] | qh[4] | d[fp16]``. Weights 0..159 fill ``qs[0:32]``
(byte ``i`` holds weights ``i, i+32, .., i+128``), weights 160..239 fill
``qs[32:48]`` (byte ``i`` holds ``160+i, 160+i+16, ..``), weights 240..255 fill
``qh`` (byte ``i`` holds ``240+i, 244+i, 248+i, 252+i``). A byte's trits form a
base-3 number ``v`` (first weight most significant; qh bytes are 4 trits, i.e.
``v`` carries an extra factor 3) that is stored as ``ceil(v * 256 / 243)`` so
that ``(byte * 3^k * 3) >> 8`` recovers trit ``k`` by fixed-point arithmetic.
"""

from __future__ import annotations

import numpy as np
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType, QK_K

__all__ = ["TQ1_0", "TQ2_0", "TernaryQuant", "QUANT_CLASSES", "codes_from_trits"]


def codes_from_trits(trits: np.ndarray) -> np.ndarray:
    """Trits in {-1, 0, 1} (any integer dtype) -> codes in {0, 1, 2} (uint8)."""
    return (trits.astype(np.int8, copy=False) + np.int8(1)).view(np.uint8)


def _round_half_away(x: np.ndarray) -> np.ndarray:
    # ggml rounds with roundf() (half away from zero), numpy's rint rounds half to even
    return np.sign(x) * np.floor(np.abs(x) + np.float32(0.5))


def _as_u64_lanes(a: np.ndarray) -> np.ndarray:
    """View the last axis of a contiguous uint8 array (length % 8 == 0) as uint64 lanes."""
    a = np.ascontiguousarray(a)
    return a.view(np.uint64)


class TernaryQuant:
    """Shared interface of the ternary block types; one subclass per ggml type."""

    qtype: GGMLQuantizationType
    block_size: int
    type_size: int

    def __init_subclass__(cls, qtype: GGMLQuantizationType, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls.qtype = qtype
        cls.block_size, cls.type_size = GGML_QUANT_SIZES[qtype]
        assert cls.block_size == QK_K

    # --- integer interface used by the converter ---------------------------------

    @classmethod
    def pack_codes(cls, codes: np.ndarray, scales: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """codes: uint8 (n_blocks, 256) in {0,1,2}; scales: fp16 (n_blocks,).
        Returns uint8 (n_blocks, type_size)."""
        raise NotImplementedError

    @classmethod
    def unpack_codes(cls, blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 (n_blocks, type_size) -> (codes uint8 (n_blocks, 256), scales fp16 (n_blocks,))."""
        raise NotImplementedError

    # --- float interface, same semantics as gguf-py --------------------------------

    @classmethod
    def quantize_blocks(cls, blocks: np.ndarray) -> np.ndarray:
        """float (n_blocks, 256) -> packed bytes, absmax scale per block like ggml's reference."""
        blocks = np.asarray(blocks, dtype=np.float32)
        d = np.abs(blocks).max(axis=-1, keepdims=True)
        with np.errstate(divide="ignore"):
            inv_d = np.where(d == 0, np.float32(0), np.float32(1) / d)
        trits = _round_half_away(blocks * inv_d).astype(np.int8)
        return cls.pack_codes(codes_from_trits(trits), d[:, 0].astype(np.float16))

    @classmethod
    def dequantize_blocks(cls, blocks: np.ndarray) -> np.ndarray:
        codes, scales = cls.unpack_codes(blocks)
        trits = codes.view(np.int8) - np.int8(1)
        return scales.astype(np.float32)[:, None] * trits.astype(np.float32)

    @classmethod
    def bytes_shape(cls, shape: tuple[int, ...]) -> tuple[int, ...]:
        if shape[-1] % cls.block_size != 0:
            raise ValueError(f"row size {shape[-1]} is not a multiple of {cls.qtype.name} block size {cls.block_size}")
        return (*shape[:-1], shape[-1] // cls.block_size * cls.type_size)

    @classmethod
    def quantize(cls, data: np.ndarray) -> np.ndarray:
        """Whole tensor, like ``gguf.quants.quantize(data, qtype)``."""
        data = np.asarray(data)
        out_shape = cls.bytes_shape(data.shape)
        packed = cls.quantize_blocks(data.reshape(-1, cls.block_size))
        return packed.reshape(out_shape)

    @classmethod
    def dequantize(cls, data: np.ndarray) -> np.ndarray:
        """Whole tensor, like ``gguf.quants.dequantize(data, qtype)``."""
        data = np.asarray(data).view(np.uint8)
        if data.shape[-1] % cls.type_size != 0:
            raise ValueError(f"{data.shape[-1]} bytes per row is not a multiple of {cls.qtype.name} type size")
        out_shape = (*data.shape[:-1], data.shape[-1] // cls.type_size * cls.block_size)
        return cls.dequantize_blocks(data.reshape(-1, cls.type_size)).reshape(out_shape)


class TQ2_0(TernaryQuant, qtype=GGMLQuantizationType.TQ2_0):
    @classmethod
    def pack_codes(cls, codes: np.ndarray, scales: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        n_blocks = codes.shape[0]
        if out is None:
            out = np.empty((n_blocks, cls.type_size), dtype=np.uint8)
        # (block, half, shift group, 32 bytes) viewed as (block, half, group, 4 lanes of 8):
        # each code is < 4 and shifted at most by 6, so no byte carries into the next.
        lanes = _as_u64_lanes(codes.reshape(n_blocks, 2, 4, 32))
        qs = lanes[:, :, 0] | (lanes[:, :, 1] << np.uint64(2))
        qs |= lanes[:, :, 2] << np.uint64(4)
        qs |= lanes[:, :, 3] << np.uint64(6)
        out[:, :64] = qs.view(np.uint8).reshape(n_blocks, 64)
        out[:, 64:66] = np.asarray(scales, dtype=np.float16).reshape(n_blocks, 1).view(np.uint8)
        return out

    @classmethod
    def unpack_codes(cls, blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        blocks = np.ascontiguousarray(blocks).view(np.uint8)
        n_blocks = blocks.shape[0]
        qs = np.ascontiguousarray(blocks[:, :64]).reshape(n_blocks, 2, 1, 32)
        shifts = np.array([0, 2, 4, 6], dtype=np.uint8).reshape(1, 1, 4, 1)
        codes = ((qs >> shifts) & np.uint8(3)).reshape(n_blocks, QK_K)
        scales = np.ascontiguousarray(blocks[:, 64:66]).view(np.float16).reshape(n_blocks)
        return codes, scales


_TQ1_POW3 = np.array([1, 3, 9, 27, 81], dtype=np.uint8)


class TQ1_0(TernaryQuant, qtype=GGMLQuantizationType.TQ1_0):
    @staticmethod
    def _horner(lanes: np.ndarray, n_digits: int) -> np.ndarray:
        # lanes: (n, n_digits, k) uint64/uint32, digits most significant first. Every
        # intermediate value is <= 242, so the lanes never carry between bytes.
        value = lanes[:, 0].copy()
        for i in range(1, n_digits):
            value *= value.dtype.type(3)
            value += lanes[:, i]
        return value

    @classmethod
    def pack_codes(cls, codes: np.ndarray, scales: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        n_blocks = codes.shape[0]
        if out is None:
            out = np.empty((n_blocks, cls.type_size), dtype=np.uint8)
        codes = np.ascontiguousarray(codes)
        values = np.empty((n_blocks, 52), dtype=np.uint8)  # base-3 number of every qs/qh byte
        head = _as_u64_lanes(codes[:, :160].reshape(n_blocks, 5, 32))
        mid = _as_u64_lanes(codes[:, 160:240].reshape(n_blocks, 5, 16))
        tail = np.ascontiguousarray(codes[:, 240:256].reshape(n_blocks, 4, 4)).view(np.uint32)
        values[:, 0:32] = cls._horner(head, 5).view(np.uint8).reshape(n_blocks, 32)
        values[:, 32:48] = cls._horner(mid, 5).view(np.uint8).reshape(n_blocks, 16)
        # qh bytes hold 4 trits: one more factor 3 puts them at the top of a 5-trit number
        values[:, 48:52] = (cls._horner(tail, 4) * np.uint32(3)).view(np.uint8).reshape(n_blocks, 4)
        out[:, 0:52] = (values.astype(np.uint16) * np.uint16(256) + np.uint16(242)) // np.uint16(243)
        out[:, 52:54] = np.asarray(scales, dtype=np.float16).reshape(n_blocks, 1).view(np.uint8)
        return out

    @classmethod
    def unpack_codes(cls, blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        blocks = np.ascontiguousarray(blocks).view(np.uint8)
        n_blocks = blocks.shape[0]
        # multiplying by 3^k (mod 256) moves trit k to the top; (byte * 3) >> 8 reads it
        def digits(qs: np.ndarray, n_digits: int) -> np.ndarray:
            shifted = qs[:, None, :] * _TQ1_POW3[:n_digits].reshape(1, n_digits, 1)
            return ((shifted.astype(np.uint16) * 3) >> 8).astype(np.uint8).reshape(n_blocks, -1)

        codes = np.concatenate(
            [digits(blocks[:, 0:32], 5), digits(blocks[:, 32:48], 5), digits(blocks[:, 48:52], 4)], axis=1
        )
        scales = np.ascontiguousarray(blocks[:, 52:54]).view(np.float16).reshape(n_blocks)
        return codes, scales


QUANT_CLASSES: dict[GGMLQuantizationType, type[TernaryQuant]] = {
    GGMLQuantizationType.TQ1_0: TQ1_0,
    GGMLQuantizationType.TQ2_0: TQ2_0,
}
