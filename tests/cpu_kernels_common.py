"""Shared helpers for the CPU kernel tests: find and load our libggml-cpu, build random TQ1_0 /
TQ2_0 / Q8_K blocks with numpy, and a numpy port of upstream's reference arithmetic."""
from __future__ import annotations

import ctypes
import os
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
QK_K = 256
TQ1_0, TQ2_0 = 34, 35  # enum ggml_type values in the pinned ggml.h
TQ1_SIZE, TQ2_SIZE, Q8K_SIZE = 54, 66, 292

# the 243 byte values TQ1_0's quantizer writes: 5 base-3 digits v scaled as ceil(v * 256 / 243)
TQ1_BYTES = np.array([(v * 256 + 242) // 243 for v in range(243)], dtype=np.uint8)
# qh bytes hold 4 digits (the 5th is 0)
TQ1_QH_BYTES = np.array([(v * 3 * 256 + 242) // 243 for v in range(81)], dtype=np.uint8)


def lib_dir() -> Path | None:
    env = os.environ.get("LLAMA_CPP_LIB_PATH")
    if env:
        return Path(env)
    try:
        from tq_gguf import runtime
        d = runtime.lib_dir()
        if d is not None and runtime.is_our_library(d):
            return d
    except Exception:
        pass
    from conftest import find_tools_dir
    return find_tools_dir()


def load_cpu_lib():
    d = lib_dir()
    if d is None or not (d / "libggml-cpu.so").exists():
        pytest.skip("no libggml-cpu.so of ours: build with `python -m tq_gguf build-tools` "
                    "or set LLAMA_CPP_LIB_PATH")
    ctypes.CDLL(str(d / "libggml-base.so"), mode=ctypes.RTLD_GLOBAL)
    lib = ctypes.CDLL(str(d / "libggml-cpu.so"), mode=ctypes.RTLD_GLOBAL)
    lib.ggml_cpu_init()  # fp16 tables used by upstream's kernels
    if not hasattr(lib, "tq_gguf_vec_dot_tq2_0_q8_K"):
        pytest.fail(f"{d}/libggml-cpu.so has no tq_gguf kernels (stock build?)")
    vd = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t,
          ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    for name in ("tq_gguf_vec_dot_tq1_0_q8_K", "tq_gguf_vec_dot_tq2_0_q8_K",
                 "ggml_vec_dot_tq1_0_q8_K_generic", "ggml_vec_dot_tq2_0_q8_K_generic"):
        if hasattr(lib, name):
            getattr(lib, name).argtypes = vd
            getattr(lib, name).restype = None
    lib.tq_gguf_cpu_set_kernels.argtypes = [ctypes.c_int]
    lib.tq_gguf_cpu_vec_dot_variant.restype = ctypes.c_char_p
    lib.tq_gguf_test_repack.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    lib.tq_gguf_test_gemm.argtypes = [ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p,
                                      ctypes.c_int64, ctypes.c_void_p]
    return lib


def ptr(a: np.ndarray) -> int:
    return a.ctypes.data


def random_tq(rng, ttype: int, nrows: int, k: int, all_values: bool = True) -> np.ndarray:
    """nrows x (k/256) blocks of valid random TQ data, as a flat uint8 array."""
    nb = nrows * (k // QK_K)
    scales = (rng.uniform(-1.5, 1.5, nb)).astype(np.float16).view(np.uint8).reshape(nb, 2)
    if ttype == TQ2_0:
        codes = rng.integers(0, 3, size=(nb, 64, 4), dtype=np.uint8)
        qs = codes[..., 0] | codes[..., 1] << 2 | codes[..., 2] << 4 | codes[..., 3] << 6
        return np.concatenate([qs, scales], axis=1).reshape(-1)
    qs = TQ1_BYTES[rng.integers(0, 243, size=(nb, 48))]
    if all_values and qs.size >= 243:  # every base-3 byte value at least once
        flat = qs.reshape(-1)
        flat[rng.permutation(flat.size)[:243]] = TQ1_BYTES
    qh = TQ1_QH_BYTES[rng.integers(0, 81, size=(nb, 4))]
    return np.concatenate([qs, qh, scales], axis=1).reshape(-1)


def random_q8k(rng, nrows: int, k: int) -> np.ndarray:
    """Q8_K rows with random int8 values (full range, -128 included), consistent bsums, random d."""
    nb = nrows * (k // QK_K)
    qs = rng.integers(-128, 128, size=(nb, 256), dtype=np.int16)
    bsums = qs.reshape(nb, 16, 16).sum(axis=2).astype(np.int16)
    d = rng.uniform(0.001, 0.05, nb).astype(np.float32)
    out = np.zeros((nb, Q8K_SIZE), dtype=np.uint8)
    out[:, 0:4] = d.view(np.uint8).reshape(nb, 4)
    out[:, 4:260] = qs.astype(np.int8).view(np.uint8)
    out[:, 260:292] = bsums.view(np.uint8).reshape(nb, 32)
    return out.reshape(-1)


def tq_trits(ttype: int, data: np.ndarray, nrows: int, k: int):
    """(trits [nrows, k] int32 in {-1,0,1}, scales [nrows, k/256] float32), upstream's decoding."""
    nb = k // QK_K
    if ttype == TQ2_0:
        b = data.reshape(nrows, nb, TQ2_SIZE)
        qs = b[..., :64].astype(np.int32)
        n = np.arange(256)
        byte = 32 * (n // 128) + n % 32
        shift = 2 * ((n % 128) // 32)
        codes = (qs[..., byte] >> shift) & 3
        d = b[..., 64:66].copy().view(np.float16)[..., 0].astype(np.float32)
    else:
        b = data.reshape(nrows, nb, TQ1_SIZE)
        pow3 = np.array([1, 3, 9, 27, 81], dtype=np.int32)

        def dig(q, l):
            m = (q.astype(np.int32) * pow3[l]) & 255
            return (m * 3) >> 8
        qs0, qs1, qh = b[..., :32], b[..., 32:48], b[..., 48:52]
        parts = [dig(qs0, l) for l in range(5)] + [dig(qs1, l) for l in range(5)] + [dig(qh, l) for l in range(4)]
        codes = np.concatenate(parts, axis=-1)
        d = b[..., 52:54].copy().view(np.float16)[..., 0].astype(np.float32)
    return (codes.reshape(nrows, k) - 1).astype(np.int32), d


def q8k_parts(data: np.ndarray, nrows: int, k: int):
    nb = k // QK_K
    b = data.reshape(nrows, nb, Q8K_SIZE)
    d = b[..., 0:4].copy().view(np.float32)[..., 0]
    qs = b[..., 4:260].copy().view(np.int8).astype(np.int32).reshape(nrows, k)
    return qs, d


def reference(ttype, wdata, m, ydata, n, k):
    """[n, m] float64: per block the exact integer sum, times (d_w * d_y) rounded to float32 as
    upstream does, summed in float64; and [n, m] sums of |terms| for tolerances."""
    t, dw = tq_trits(ttype, wdata, m, k)
    q, dy = q8k_parts(ydata, n, k)
    nb = k // QK_K
    tb = t.reshape(m, nb, QK_K).astype(np.int64)
    qb = q.reshape(n, nb, QK_K).astype(np.int64)
    sumi = np.einsum("mbk,nbk->nmb", tb, qb)                         # exact
    scale = (dw[None, :, :] * dy[:, None, :]).astype(np.float32)    # float32 product, as upstream
    ref = (sumi.astype(np.float64) * scale).sum(axis=2)
    mag = (np.abs(sumi).astype(np.float64) * np.abs(scale)).sum(axis=2)
    absum = np.einsum("mbk,nbk->nmb", np.abs(tb), np.abs(qb)).astype(np.float64)
    mag = np.maximum(mag, (absum * np.abs(scale)).sum(axis=2) * 1e-3)
    return ref, mag
