"""tq_gguf CPU kernels (ggml_patches/cpu) against upstream's reference arithmetic.

- vec_dot (token generation path): ours, upstream's (TQ_GGUF_CPU_KERNELS=upstream switch) and
  ggml's generic reference, on random valid TQ data (every TQ1_0 base-3 byte value), full-range
  Q8_K activations and random scales, many row lengths.
- repacked 16-row layout + GEMM/GEMV: every column count 1..19 (tiles and tails), several row
  groups and row lengths.
Reference: numpy port of upstream's arithmetic (exact integer block sums, float32 d_w*d_y).
"""
from __future__ import annotations

import ctypes

import numpy as np
import pytest

from cpu_kernels_common import (QK_K, TQ1_0, TQ2_0, load_cpu_lib, ptr, random_q8k, random_tq,
                                reference)

TYPES = [pytest.param(TQ1_0, id="tq1_0"), pytest.param(TQ2_0, id="tq2_0")]
NAMES = {TQ1_0: "tq1_0", TQ2_0: "tq2_0"}
RTOL = 1e-5


@pytest.fixture(scope="module")
def lib():
    lib = load_cpu_lib()
    yield lib
    lib.tq_gguf_cpu_set_kernels(1)


def vec_dot(lib, fn, k, w, y):
    out = ctypes.c_float(0)
    getattr(lib, fn)(k, ctypes.byref(out), 0, ptr(w), 0, ptr(y), 0, 1)
    return out.value


@pytest.mark.parametrize("ttype", TYPES)
def test_vec_dot_matches_reference(lib, ttype):
    rng = np.random.default_rng(1234 + ttype)
    name = NAMES[ttype]
    generic = f"ggml_vec_dot_{name}_q8_K_generic"
    for nb in list(range(1, 13)) + [16, 22, 23, 36, 43]:
        k = nb * QK_K
        for _ in range(3):
            w = random_tq(rng, ttype, 1, k)
            y = random_q8k(rng, 1, k)
            ref, mag = reference(ttype, w, 1, y, 1, k)
            ref, tol = ref[0, 0], RTOL * mag[0, 0] + 1e-30
            lib.tq_gguf_cpu_set_kernels(1)
            ours = vec_dot(lib, f"tq_gguf_vec_dot_{name}_q8_K", k, w, y)
            lib.tq_gguf_cpu_set_kernels(0)
            upstream = vec_dot(lib, f"tq_gguf_vec_dot_{name}_q8_K", k, w, y)
            lib.tq_gguf_cpu_set_kernels(1)
            assert abs(ours - ref) <= tol, (name, k, ours, ref)
            assert abs(upstream - ref) <= 3 * tol, ("upstream", name, k, upstream, ref)
            if hasattr(lib, generic):
                g = vec_dot(lib, generic, k, w, y)
                assert abs(ours - g) <= 2 * tol, (name, k, ours, g)


@pytest.mark.parametrize("ttype", TYPES)
def test_vec_dot_extreme_activations(lib, ttype):
    """All-(-128) and all-127 activations with all-zero / all-two codes: the 16-bit partial sums
    of the non-VNNI paths sit at their bounds."""
    name = NAMES[ttype]
    rng = np.random.default_rng(7)
    k = 4 * QK_K
    for val in (-128, 127):
        y = random_q8k(rng, 1, k).reshape(-1, 292)
        y[:, 4:260] = np.uint8(val & 0xFF)
        y[:, 260:292] = np.full(16, 16 * val, dtype=np.int16).view(np.uint8)
        y = y.reshape(-1)
        for code in (0, 2):
            w = random_tq(rng, ttype, 1, k)
            if ttype == TQ2_0:
                b = w.reshape(-1, 66)
                b[:, :64] = code * 0x55
            else:
                b = w.reshape(-1, 54)
                b[:, :48] = 0 if code == 0 else 255  # 255 decodes to digit 2 everywhere
                b[:, 48:52] = 0 if code == 0 else 255
            w = b.reshape(-1)
            ref, mag = reference(ttype, w, 1, y, 1, k)
            ours = vec_dot(lib, f"tq_gguf_vec_dot_{name}_q8_K", k, w, y)
            assert abs(ours - ref[0, 0]) <= RTOL * mag[0, 0] + 1e-30, (name, val, code, ours, ref)


def test_variant_reported(lib):
    v = lib.tq_gguf_cpu_vec_dot_variant().decode()
    assert v.startswith(("x86-", "arm-", "upstream")), v


@pytest.mark.parametrize("ttype", TYPES)
def test_repacked_gemm_matches_reference(lib, ttype):
    rng = np.random.default_rng(99 + ttype)
    probe = np.zeros(1056, dtype=np.uint8)
    if lib.tq_gguf_test_repack(ttype, ptr(random_tq(rng, ttype, 16, QK_K)), 16, QK_K, ptr(probe)) != 0:
        pytest.skip("this build has no repacked TQ kernels (no AVX2)")
    for m, k in [(16, 256), (32, 512), (48, 768), (16, 2816), (64, 1536)]:
        w = random_tq(rng, ttype, m, k)
        packed = np.zeros((m // 16) * (k // QK_K) * 1056, dtype=np.uint8)
        assert lib.tq_gguf_test_repack(ttype, ptr(w), m, k, ptr(packed)) == 0
        for n in list(range(1, 20)) + [32, 37]:
            y = random_q8k(rng, n, k)
            out = np.full((n, m), np.nan, dtype=np.float32)
            assert lib.tq_gguf_test_gemm(k, ptr(packed), m, ptr(y), n, ptr(out)) == 0
            ref, mag = reference(ttype, w, m, y, n, k)
            err = np.abs(out - ref) - RTOL * mag
            assert np.all(err <= 1e-30), (NAMES[ttype], m, k, n, float(np.nanmax(np.abs(out - ref) / mag)))


def test_q8K_quantizer_byte_identical(lib):
    """The repacked path's activation quantizer equals ggml-cpu's quantize_row_q8_K byte for byte
    (zero blocks, ties for the largest magnitude, exact .5 products included)."""
    f = lib.tq_gguf_test_quantize_q8_K
    f.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    g = lib.quantize_row_q8_K
    g.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    rng = np.random.default_rng(5)
    for t in range(200):
        k = QK_K * (1 + t % 12)
        x = (rng.standard_normal(k) * rng.uniform(1e-3, 100)).astype(np.float32)
        if t % 7 == 0:
            x[:QK_K] = 0
        if t % 5 == 0:
            x[rng.integers(0, k, 5)] = x.max()
            x[rng.integers(0, k, 5)] = -x.max()
        if t % 3 == 0:
            x = (np.round(x * 4) / 4).astype(np.float32)
        a = np.zeros(k // QK_K * 292, np.uint8)
        b = a.copy()
        f(ptr(x), ptr(a), k)
        g(ptr(x), ptr(b), k)
        assert np.array_equal(a, b), t


def test_q8K_panel_quantizer_matches_quantize_then_pack(lib):
    """The fused activation quantizer of the repacked path (float row -> one column of a panel,
    tq-gemm.h) writes the same bytes as tq_quantize_row_q8_K followed by tq_pack_q8K_column, for
    every panel width 1..16 and column slot, zero blocks and ties included; slots of other
    columns are left alone."""
    fused = lib.tq_gguf_test_quantize_q8K_panel_column
    fused.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64]
    pack = lib.tq_gguf_test_pack_q8K_column
    pack.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64]
    quant = lib.tq_gguf_test_quantize_q8_K
    quant.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    rng = np.random.default_rng(17)
    for t in range(120):
        nb = 1 + t % 5
        k = QK_K * nb
        nc = 1 + t % 16
        c = int(rng.integers(0, nc))
        x = (rng.standard_normal(k) * rng.uniform(1e-3, 100)).astype(np.float32)
        if t % 7 == 0:
            x[QK_K * (nb - 1):] = 0
        if t % 5 == 0:
            x[rng.integers(0, k, 3)] = -np.abs(x).max()
        q8 = np.zeros(nb * 292, np.uint8)
        quant(ptr(x), ptr(q8), k)
        a = rng.integers(0, 256, nb * nc * 264, dtype=np.uint8)  # other columns' bytes must survive
        b = a.copy()
        pack(ptr(q8), nb, ptr(a), nc, c)
        fused(ptr(x), k, ptr(b), nc, c)
        assert np.array_equal(a, b), (t, nb, nc, c)
