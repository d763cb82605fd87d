"""tq_gguf.quants packs byte-identically to gguf-py's reference quantizer."""

from __future__ import annotations

import numpy as np
import pytest
from gguf import quants as ref_quants

from tq_gguf.quants import TQ1_0, TQ2_0, codes_from_trits

QUANTS = [TQ1_0, TQ2_0]


def ternary_rows(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    trits = rng.integers(-1, 2, size=(rows, cols)).astype(np.float32)
    scales = rng.uniform(1e-3, 4, size=(rows, cols // 256)).astype(np.float16).astype(np.float32)
    return trits * np.repeat(scales, 256, axis=1)


@pytest.mark.parametrize("quant", QUANTS, ids=lambda q: q.__name__)
def test_pack_codes_matches_gguf_py(quant):
    rng = np.random.default_rng(1)
    values = ternary_rows(rng, 24, 1024)
    values[0, :256] = 0.0  # an all-zero block: scale 0
    values[1, :256] = -0.0
    values[2, 256:512] = np.where(values[2, 256:512] != 0, np.float32(6e-8), 0)  # fp16 subnormal scale
    values[3] = np.sign(values[3])  # all trits -1/+1
    values[3, ::2] = 1.0
    blocks = values.reshape(-1, 256)
    scales = np.abs(blocks).max(axis=1).astype(np.float16)
    trits = np.where(blocks == 0, 0, np.sign(blocks)).astype(np.int8)
    mine = quant.pack_codes(codes_from_trits(trits), scales)
    ref = ref_quants.quantize(values, quant.qtype).reshape(-1, quant.type_size)
    assert mine.dtype == np.uint8 and mine.shape == ref.shape
    np.testing.assert_array_equal(mine, ref)


@pytest.mark.parametrize("quant", QUANTS, ids=lambda q: q.__name__)
def test_float_quantize_matches_gguf_py_on_arbitrary_floats(quant):
    rng = np.random.default_rng(2)
    values = rng.standard_normal((16, 512)).astype(np.float32)
    values[0, :256] = 0
    values[1, 0] = 0.5  # exact halves exercise round-half-away-from-zero
    values[1, 1:256] = 1.0
    np.testing.assert_array_equal(quant.quantize(values), ref_quants.quantize(values, quant.qtype))


@pytest.mark.parametrize("quant", QUANTS, ids=lambda q: q.__name__)
def test_dequantize_matches_gguf_py_and_unpack_inverts_pack(quant):
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 3, size=(40, 256)).astype(np.uint8)
    scales = rng.uniform(-2, 2, size=40).astype(np.float16)
    packed = quant.pack_codes(codes, scales)
    got_codes, got_scales = quant.unpack_codes(packed)
    np.testing.assert_array_equal(got_codes, codes)
    np.testing.assert_array_equal(got_scales.view(np.uint16), scales.view(np.uint16))
    np.testing.assert_array_equal(quant.dequantize(packed.reshape(4, -1)), ref_quants.dequantize(packed.reshape(4, -1), quant.qtype))


@pytest.mark.parametrize("quant", QUANTS, ids=lambda q: q.__name__)
def test_every_code_in_every_position(quant):
    # each of the 256 positions takes each code once across 3 blocks
    codes = (np.arange(3)[:, None] + np.arange(256)[None, :]) % 3
    codes = codes.astype(np.uint8)
    scales = np.ones(3, dtype=np.float16)
    values = (codes.astype(np.float32) - 1) * 1.0
    np.testing.assert_array_equal(quant.pack_codes(codes, scales), ref_quants.quantize(values, quant.qtype))
