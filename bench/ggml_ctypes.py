"""A small ctypes layer over ggml's PUBLIC C API, for the benchmarks in this folder.

It reaches the kernels only through what any ggml user can call: the type traits
(`ggml_get_type_traits`, `ggml_get_type_traits_cpu`: to_float, from_float, vec_dot,
vec_dot_type), `ggml_quantize_chunk`, the graph API and the backend API (CPU device, its extra
buffer types, `ggml_backend_graph_compute`). No kernel code is copied here; the one C file beside
it (vec_dot_loop.c) only calls a vec_dot pointer in a loop so that ctypes is not what gets timed.

Libraries: `LLAMA_CPP_LIB_PATH` if set, else the installed llama_cpp's lib/ (tq_gguf.runtime),
else this checkout's build/dev/bin.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
import tempfile
from ctypes import (CFUNCTYPE, POINTER, Structure, c_bool, c_char_p, c_float, c_int, c_int64,
                    c_long, c_size_t, c_void_p)
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent

# ggml_type ids (ggml/include/ggml.h of the pinned source)
TYPE_IDS = {"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 8, "Q8_K": 15, "TQ1_0": 34, "TQ2_0": 35,
            "Q2_0": 42}
GGML_OP_MUL_MAT_NAME = "MUL_MAT"
BACKEND_DEVICE_TYPE_CPU = 0
QK_K = 256
Q8_K_BLOCK_BYTES = 4 + QK_K + 2 * (QK_K // 16)  # float d; int8 qs[256]; int16 bsums[16]

VEC_DOT_FN = CFUNCTYPE(None, c_int, POINTER(c_float), c_size_t, c_void_p, c_size_t, c_void_p,
                       c_size_t, c_int)
TO_FLOAT_FN = CFUNCTYPE(None, c_void_p, POINTER(c_float), c_int64)
FROM_FLOAT_FN = CFUNCTYPE(None, POINTER(c_float), c_void_p, c_int64)


class TypeTraits(Structure):  # struct ggml_type_traits
    _fields_ = [("type_name", c_char_p), ("blck_size", c_int64), ("blck_size_interleave", c_int64),
                ("type_size", c_size_t), ("is_quantized", c_bool), ("to_float", c_void_p),
                ("from_float_ref", c_void_p)]


class TypeTraitsCpu(Structure):  # struct ggml_type_traits_cpu
    _fields_ = [("from_float", c_void_p), ("vec_dot", c_void_p), ("vec_dot_type", c_int),
                ("nrows", c_int64)]


class InitParams(Structure):  # struct ggml_init_params (passed by value)
    _fields_ = [("mem_size", c_size_t), ("mem_buffer", c_void_p), ("no_alloc", c_bool)]


def default_lib_dir() -> Path:
    try:
        import warnings
        with warnings.catch_warnings():  # importing tq_gguf warns when llama_cpp is absent
            warnings.simplefilter("ignore")
            from tq_gguf import runtime
        folder = runtime.lib_dir()
    except Exception:  # noqa: BLE001 - tq_gguf not importable: fall through to the dev build
        folder = None
    if folder is not None and (folder / "libggml-cpu.so").exists():
        return folder
    return REPO / "build" / "dev" / "bin"


def _fn(lib, name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype, f.argtypes = restype, list(argtypes)
    return f


class Ggml:
    """The three ggml libraries of one build, with typed entry points."""

    def __init__(self, lib_dir: Path | None = None):
        self.lib_dir = Path(lib_dir) if lib_dir else default_lib_dir()
        mode = ctypes.RTLD_GLOBAL
        self.base = ctypes.CDLL(str(self.lib_dir / "libggml-base.so"), mode=mode)
        self.cpu = ctypes.CDLL(str(self.lib_dir / "libggml-cpu.so"), mode=mode)
        self.ggml = ctypes.CDLL(str(self.lib_dir / "libggml.so"), mode=mode)
        b, c, g = self.base, self.cpu, self.ggml
        self.get_type_traits = _fn(b, "ggml_get_type_traits", POINTER(TypeTraits), c_int)
        self.get_type_traits_cpu = _fn(c, "ggml_get_type_traits_cpu", POINTER(TypeTraitsCpu), c_int)
        self.quantize_chunk = _fn(b, "ggml_quantize_chunk", c_size_t, c_int, c_void_p, c_void_p,
                                  c_int64, c_int64, c_int64, c_void_p)
        self.row_size = _fn(b, "ggml_row_size", c_size_t, c_int, c_int64)
        self.init = _fn(b, "ggml_init", c_void_p, InitParams)
        self.free = _fn(b, "ggml_free", None, c_void_p)
        self.tensor_overhead = _fn(b, "ggml_tensor_overhead", c_size_t)
        self.graph_overhead = _fn(b, "ggml_graph_overhead", c_size_t)
        self.new_tensor_2d = _fn(b, "ggml_new_tensor_2d", c_void_p, c_void_p, c_int, c_int64, c_int64)
        self.mul_mat = _fn(b, "ggml_mul_mat", c_void_p, c_void_p, c_void_p, c_void_p)
        self.new_graph = _fn(b, "ggml_new_graph", c_void_p, c_void_p)
        self.build_forward_expand = _fn(b, "ggml_build_forward_expand", None, c_void_p, c_void_p)
        self.nbytes = _fn(b, "ggml_nbytes", c_size_t, c_void_p)
        self.buft_name = _fn(b, "ggml_backend_buft_name", c_char_p, c_void_p)
        self.alloc_ctx_tensors_from_buft = _fn(b, "ggml_backend_alloc_ctx_tensors_from_buft",
                                               c_void_p, c_void_p, c_void_p)
        self.buffer_free = _fn(b, "ggml_backend_buffer_free", None, c_void_p)
        self.tensor_set = _fn(b, "ggml_backend_tensor_set", None, c_void_p, c_void_p, c_size_t, c_size_t)
        self.tensor_get = _fn(b, "ggml_backend_tensor_get", None, c_void_p, c_void_p, c_size_t, c_size_t)
        self.graph_compute = _fn(b, "ggml_backend_graph_compute", c_int, c_void_p, c_void_p)
        self.backend_free = _fn(b, "ggml_backend_free", None, c_void_p)
        self.dev_supports_op = _fn(b, "ggml_backend_dev_supports_op", c_bool, c_void_p, c_void_p)
        self.dev_backend_reg = _fn(b, "ggml_backend_dev_backend_reg", c_void_p, c_void_p)
        self.reg_get_proc_address = _fn(b, "ggml_backend_reg_get_proc_address", c_void_p, c_void_p, c_char_p)
        self.dev_by_type = _fn(g, "ggml_backend_dev_by_type", c_void_p, c_int)
        self.cpu_init = _fn(c, "ggml_cpu_init", None)
        self.backend_cpu_init = _fn(c, "ggml_backend_cpu_init", c_void_p)
        self.backend_cpu_set_n_threads = _fn(c, "ggml_backend_cpu_set_n_threads", None, c_void_p, c_int)
        self.cpu_buffer_type = _fn(b, "ggml_backend_cpu_buffer_type", c_void_p)
        self.cpu_init()
        self._loop = None

    # --- what this build is -------------------------------------------------------------

    def has(self, feature: str) -> bool:
        """ggml_cpu_has_<feature>(): an ISA feature compiled into libggml-cpu."""
        f = getattr(self.cpu, f"ggml_cpu_has_{feature}", None)
        if f is None:
            return False
        f.restype, f.argtypes = c_int, []
        return bool(f())

    def tq_symbol(self, name: str):
        return getattr(self.cpu, name, None)

    def tq_kernels_info(self) -> dict:
        """Our library's own description of its TQ kernels, empty on a stock build."""
        info = {}
        for name in ("tq_gguf_version", "tq_gguf_cpu_vec_dot_variant", "tq_gguf_cpu_kernels"):
            f = self.tq_symbol(name)
            if f is not None:
                f.restype, f.argtypes = c_char_p, []
                info[name] = f().decode()
        return info

    def set_tq_kernels(self, mode: str) -> None:
        """'ours' or 'upstream' for this process (tq_gguf_cpu_set_kernels, tq-dispatch.c).

        Must be called before weights are allocated: the repack buffer decides at allocation."""
        f = self.tq_symbol("tq_gguf_cpu_set_kernels")
        if f is None:
            if mode != "upstream":
                raise RuntimeError("stock ggml build: only upstream's TQ kernels exist here")
            return
        f.restype, f.argtypes = None, [c_int]
        f(1 if mode == "ours" else 0)

    # --- types --------------------------------------------------------------------------

    def traits(self, type_id: int) -> TypeTraits:
        return self.get_type_traits(type_id).contents

    def traits_cpu(self, type_id: int) -> TypeTraitsCpu:
        return self.get_type_traits_cpu(type_id).contents

    def quantize(self, type_id: int, w: np.ndarray) -> np.ndarray:
        """Rows of w (float32, [rows, n_per_row]) in type_id's layout: uint8 [rows, row_bytes]."""
        w = np.ascontiguousarray(w, dtype=np.float32)
        rows, n = w.shape
        out = np.empty((rows, self.row_size(type_id, n)), dtype=np.uint8)
        self.quantize_chunk(type_id, w.ctypes.data, out.ctypes.data, 0, rows, n, None)
        return out

    def dequantize(self, type_id: int, data: np.ndarray, n_per_row: int) -> np.ndarray:
        """float32 [rows, n_per_row] from rows in type_id's layout (ggml's to_float)."""
        data = np.ascontiguousarray(data)
        rows = data.shape[0]
        if type_id == TYPE_IDS["Q8_K"]:  # ggml has no to_float for Q8_K: read the block
            blocks = data.reshape(-1, Q8_K_BLOCK_BYTES)
            d = blocks[:, :4].copy().view(np.float32)
            qs = blocks[:, 4:4 + QK_K].view(np.int8).astype(np.float32)
            return (d * qs).reshape(rows, n_per_row)
        if type_id == TYPE_IDS["F32"]:
            return data.view(np.float32).reshape(rows, n_per_row).copy()
        to_float = TO_FLOAT_FN(self.traits(type_id).to_float)
        out = np.empty((rows, n_per_row), dtype=np.float32)
        to_float(data.ctypes.data, out.ctypes.data_as(POINTER(c_float)), rows * n_per_row)
        return out

    def to_vec_dot_type(self, type_id: int, x: np.ndarray) -> tuple[int, np.ndarray]:
        """x (float32 [rows, n]) converted as ggml's mul_mat converts activations for type_id:
        (vec_dot_type, uint8 rows), through the CPU from_float of vec_dot_type."""
        vdt = self.traits_cpu(type_id).vec_dot_type
        x = np.ascontiguousarray(x, dtype=np.float32)
        rows, n = x.shape
        out = np.empty((rows, self.row_size(vdt, n)), dtype=np.uint8)
        from_float = FROM_FLOAT_FN(self.traits_cpu(vdt).from_float)
        for r in range(rows):
            from_float(x[r].ctypes.data_as(POINTER(c_float)), out[r].ctypes.data, n)
        return vdt, out

    # --- row kernels --------------------------------------------------------------------

    def _vec_dot_loop(self):
        """Compile vec_dot_loop.c once per machine/source into the temp folder."""
        if self._loop is None:
            src = Path(__file__).with_name("vec_dot_loop.c")
            tag = hashlib.sha256(src.read_bytes()).hexdigest()[:12]
            so = Path(tempfile.gettempdir()) / f"tq_gguf_bench_vec_dot_loop_{tag}.so"
            if not so.exists():
                tmp = so.with_suffix(f".{os.getpid()}.so")
                subprocess.run([os.environ.get("CC", "cc"), "-O2", "-shared", "-fPIC", "-o", str(tmp),
                                str(src)], check=True)
                tmp.replace(so)
            lib = ctypes.CDLL(str(so))
            self._loop = _fn(lib, "tq_bench_vec_dot_loop", None, c_void_p, c_int, c_void_p, c_size_t,
                             c_int, c_void_p, c_long, POINTER(c_float))
        return self._loop

    def vec_dot_rows(self, type_id: int, x_rows: np.ndarray, n: int, y: np.ndarray, passes: int = 1,
                     out: np.ndarray | None = None) -> np.ndarray:
        """type_id's CPU vec_dot of each row of x_rows (uint8 [rows, row_bytes]) with y (one row
        in vec_dot_type), repeated `passes` times; returns the float32 dots of the last pass."""
        if out is None:
            out = np.empty(x_rows.shape[0], dtype=np.float32)
        self._vec_dot_loop()(self.traits_cpu(type_id).vec_dot, n, x_rows.ctypes.data, x_rows.shape[1],
                             x_rows.shape[0], y.ctypes.data, passes, out.ctypes.data_as(POINTER(c_float)))
        return out

    # --- backend: the CPU device and its buffer types -----------------------------------

    def cpu_device(self):
        return self.dev_by_type(BACKEND_DEVICE_TYPE_CPU)

    def extra_buffer_types(self) -> dict[str, int]:
        """The CPU device's extra buffer types by name (e.g. CPU_REPACK): where llama.cpp puts
        weights at model load so that repacked GEMM/GEMV kernels run on them."""
        dev = self.cpu_device()
        reg = self.dev_backend_reg(dev)
        addr = self.reg_get_proc_address(reg, b"ggml_backend_dev_get_extra_bufts")
        if not addr:
            return {}
        get = CFUNCTYPE(POINTER(c_void_p), c_void_p)(addr)
        arr = get(dev)
        found, i = {}, 0
        while arr[i]:
            found[self.buft_name(arr[i]).decode()] = arr[i]
            i += 1
        return found


class MatMul:
    """ggml_mul_mat(W, X) on the CPU backend: W [rows, k] of one type, X float32 [cols, k]
    (ggml ne = (k, rows) and (k, cols)); the result is float32 [cols, rows].

    W goes into the CPU_REPACK extra buffer type when the device says it can run this mul_mat
    from there (what llama.cpp's model loader does), else into the plain CPU buffer. The same
    graph is then computed as often as asked; activations are converted to vec_dot_type inside
    ggml, as in a model."""

    def __init__(self, g: Ggml, type_id: int, w_data: np.ndarray, k: int, x: np.ndarray,
                 n_threads: int, use_repack: bool = True):
        self.g, self.k = g, k
        self.rows, self.cols = w_data.shape[0], x.shape[0]
        self._ctxs, self._bufs = [], []
        self.backend = g.backend_cpu_init()
        g.backend_cpu_set_n_threads(self.backend, n_threads)
        repack = g.extra_buffer_types().get("CPU_REPACK") if use_repack else None
        self.repacked = bool(repack) and self._repack_supported(type_id, repack)
        w_buft = repack if self.repacked else g.cpu_buffer_type()

        self.w = self._tensor_in(w_buft, type_id, k, self.rows)
        g.tensor_set(self.w, w_data.ctypes.data, 0, w_data.nbytes)  # repacks here when repacked
        self.x = self._tensor_in(g.cpu_buffer_type(), TYPE_IDS["F32"], k, self.cols)
        self.set_x(x)
        ctx = self._context(n_tensors=4, graph=True)
        self.out = g.mul_mat(ctx, self.w, self.x)
        self.graph = g.new_graph(ctx)
        g.build_forward_expand(self.graph, self.out)
        self._bufs.append(g.alloc_ctx_tensors_from_buft(ctx, g.cpu_buffer_type()))

    def _context(self, n_tensors: int, graph: bool = False):
        size = self.g.tensor_overhead() * n_tensors + (self.g.graph_overhead() if graph else 0) + 1024
        ctx = self.g.init(InitParams(size, None, True))
        self._ctxs.append(ctx)
        return ctx

    def _tensor_in(self, buft, type_id: int, ne0: int, ne1: int):
        ctx = self._context(n_tensors=1)
        t = self.g.new_tensor_2d(ctx, type_id, ne0, ne1)
        buf = self.g.alloc_ctx_tensors_from_buft(ctx, buft)
        if not buf:
            raise MemoryError(f"could not allocate a {ne1}x{ne0} tensor in {self.g.buft_name(buft)}")
        self._bufs.append(buf)
        return t

    def _repack_supported(self, type_id: int, repack_buft) -> bool:
        """Ask the CPU device, with W allocated in the repack buffer, whether it runs the mul_mat
        (the repack buffer's supports_op: type, shape and ISA; TQ: also the kernels switch)."""
        g = self.g
        ctx = g.init(InitParams(g.tensor_overhead() * 4 + 1024, None, True))
        try:
            w = g.new_tensor_2d(ctx, type_id, self.k, self.rows)
            buf = g.alloc_ctx_tensors_from_buft(ctx, repack_buft)
            if not buf:
                return False
            x = g.new_tensor_2d(ctx, TYPE_IDS["F32"], self.k, self.cols)
            ok = g.dev_supports_op(g.cpu_device(), g.mul_mat(ctx, w, x))
            g.buffer_free(buf)
            return bool(ok)
        finally:
            g.free(ctx)

    def set_x(self, x: np.ndarray) -> None:
        x = np.ascontiguousarray(x, dtype=np.float32)
        self.g.tensor_set(self.x, x.ctypes.data, 0, x.nbytes)

    def compute(self) -> None:
        status = self.g.graph_compute(self.backend, self.graph)
        if status != 0:
            raise RuntimeError(f"ggml_backend_graph_compute failed with status {status}")

    def result(self) -> np.ndarray:
        out = np.empty((self.cols, self.rows), dtype=np.float32)
        self.g.tensor_get(self.out, out.ctypes.data, 0, out.nbytes)
        return out

    def close(self) -> None:
        for buf in self._bufs:
            if buf:
                self.g.buffer_free(buf)
        for ctx in self._ctxs:
            self.g.free(ctx)
        if self.backend:
            self.g.backend_free(self.backend)
        self._bufs, self._ctxs, self.backend = [], [], None
