"""Reading a Hugging Face checkpoint folder lazily, one tensor at a time.

Safetensors files are parsed here (8-byte little-endian header length, JSON
header, raw data) and memory-mapped, so a tensor is only paged in when it is
read and the header is validated against the file size before anything else
happens. ``pytorch_model*.bin`` files go through ``torch.load(mmap=True)``.

A tensor is handed out in its *storage* dtype: float16 and float32 as such,
bfloat16 as its raw uint16 bits (numpy has no bfloat16), so that nothing is
rounded before the ternary analysis looks at the exact stored values.
"""

from __future__ import annotations

import json
import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .errors import ConversionError

# storage dtype name -> (numpy dtype the data is handed out as, bytes per element)
_SAFETENSORS_DTYPES: dict[str, tuple[str, np.dtype, int]] = {
    "F16": ("f16", np.dtype("<f2"), 2),
    "BF16": ("bf16", np.dtype("<u2"), 2),
    "F32": ("f32", np.dtype("<f4"), 4),
    "F64": ("f64", np.dtype("<f8"), 8),
}
_MAX_HEADER_BYTES = 100 * 1024 * 1024


def to_float32(array: np.ndarray, dtype: str) -> np.ndarray:
    """Storage array -> float32 (exact for f16/bf16/f32)."""
    if dtype == "bf16":
        return (array.astype(np.uint32) << np.uint32(16)).view(np.float32)
    return array.astype(np.float32, copy=False)


@dataclass
class TensorSource:
    """One checkpoint tensor, not yet read."""

    name: str
    shape: tuple[int, ...]
    dtype: str  # "f16", "bf16", "f32" or "f64"
    file: Path
    _load: Callable[[], np.ndarray]
    _release: Callable[[], None] | None = None

    @property
    def n_elements(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.n_elements * {"f16": 2, "bf16": 2, "f32": 4, "f64": 8}[self.dtype]

    def load(self) -> np.ndarray:
        """The tensor in its storage dtype (bf16 as uint16 bits); a view of the
        memory map where possible, so reading it costs no anonymous memory."""
        array = self._load()
        if self.dtype == "f64":  # rare; narrow once so the rest only sees f16/bf16/f32
            array = array.astype(np.float32)
        return array.reshape(self.shape)

    def release(self) -> None:
        """Drop the tensor's pages from this process once it is written: pages of a
        file mapping stay resident (and count in RSS) after being read otherwise."""
        if self._release is not None:
            self._release()

    @property
    def storage_dtype(self) -> str:
        return "f32" if self.dtype == "f64" else self.dtype


class SafetensorsFile:
    """A memory-mapped safetensors file with a validated header."""

    def __init__(self, path: Path):
        self.path = path
        try:
            with open(path, "rb") as f:
                size = path.stat().st_size
                if size < 8:
                    raise ConversionError(f"{path}: truncated safetensors file ({size} bytes, no header)")
                (header_len,) = struct.unpack("<Q", f.read(8))
                if header_len > min(size - 8, _MAX_HEADER_BYTES):
                    raise ConversionError(
                        f"{path}: corrupt or truncated safetensors header (claims {header_len} bytes, file has {size})"
                    )
                header_bytes = f.read(header_len)
                self._mmap = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size > 8 + header_len else None
        except OSError as e:
            raise ConversionError(f"{path}: cannot read ({e.strerror})") from None
        try:
            header = json.loads(header_bytes.decode("utf-8"))
            if not isinstance(header, dict):
                raise ValueError("header is not a JSON object")
        except (UnicodeDecodeError, ValueError) as e:
            raise ConversionError(f"{path}: corrupt safetensors header ({e})") from None
        data_start = 8 + header_len
        data_len = size - data_start
        self.tensors: dict[str, tuple[str, tuple[int, ...], int, int]] = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            try:
                st_dtype, shape, (begin, end) = info["dtype"], tuple(int(d) for d in info["shape"]), info["data_offsets"]
            except (KeyError, TypeError, ValueError):
                raise ConversionError(f"{path}: corrupt safetensors header entry for tensor {name!r}") from None
            if st_dtype not in _SAFETENSORS_DTYPES:
                raise ConversionError(f"{path}: tensor {name!r} has unsupported dtype {st_dtype}")
            _, _, itemsize = _SAFETENSORS_DTYPES[st_dtype]
            n = int(np.prod(shape, dtype=np.int64)) if shape else 1
            if not (0 <= begin <= end) or end - begin != n * itemsize:
                raise ConversionError(f"{path}: corrupt safetensors header: tensor {name!r} offsets do not match its shape")
            if end > data_len:
                raise ConversionError(
                    f"{path}: truncated safetensors file: tensor {name!r} ends at byte {data_start + end}, file has {size}"
                )
            self.tensors[name] = (st_dtype, shape, data_start + begin, n)

    def sources(self) -> Iterator[TensorSource]:
        for name, (st_dtype, shape, offset, n) in self.tensors.items():
            dtype, np_dtype, _ = _SAFETENSORS_DTYPES[st_dtype]

            def load(offset=offset, n=n, np_dtype=np_dtype) -> np.ndarray:
                if n == 0:
                    return np.empty(0, dtype=np_dtype)
                return np.frombuffer(self._mmap, dtype=np_dtype, count=n, offset=offset)

            def release(offset=offset, nbytes=n * np_dtype.itemsize) -> None:
                if self._mmap is None or nbytes == 0 or not hasattr(mmap, "MADV_DONTNEED"):
                    return
                start = offset - offset % mmap.PAGESIZE
                self._mmap.madvise(mmap.MADV_DONTNEED, start, offset + nbytes - start)

            yield TensorSource(name, shape, dtype, self.path, load, release)


def _torch_bin_sources(path: Path) -> Iterator[TensorSource]:
    try:
        import torch
    except ImportError:
        raise ConversionError(f"{path}: reading pytorch_model*.bin needs torch, which is not installed") from None
    try:
        state = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    except Exception as e:  # torch raises many types for corrupt pickles/zips
        raise ConversionError(f"{path}: cannot load PyTorch checkpoint ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    if not isinstance(state, dict):
        raise ConversionError(f"{path}: PyTorch checkpoint is not a state dict")
    dtypes = {torch.float16: "f16", torch.bfloat16: "bf16", torch.float32: "f32", torch.float64: "f64"}
    for name, tensor in state.items():
        if not isinstance(tensor, torch.Tensor):
            continue
        if tensor.dtype not in dtypes:
            raise ConversionError(f"{path}: tensor {name!r} has unsupported dtype {tensor.dtype}")
        dtype = dtypes[tensor.dtype]

        def load(tensor=tensor, dtype=dtype) -> np.ndarray:
            t = tensor.contiguous()
            if dtype == "bf16":
                return t.view(torch.int16).numpy().view(np.uint16)
            return t.numpy()

        yield TensorSource(name, tuple(tensor.shape), dtype, path, load)


def _files_from_index(folder: Path, index_name: str) -> list[Path]:
    index_path = folder / index_name
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
        weight_map = index["weight_map"]
        files = sorted(set(weight_map.values()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise ConversionError(f"{index_path}: unreadable index ({type(e).__name__}: {e})") from None
    for name in files:
        if not (folder / name).is_file():
            raise ConversionError(f"{folder / name}: shard named in {index_name} is missing")
    return [folder / name for name in files]


def find_weight_files(folder: Path) -> list[Path]:
    """Weight files of a checkpoint folder, safetensors preferred."""
    if (folder / "model.safetensors.index.json").is_file():
        return _files_from_index(folder, "model.safetensors.index.json")
    files = sorted(folder.glob("*.safetensors"))
    if files:
        return files
    if (folder / "pytorch_model.bin.index.json").is_file():
        return _files_from_index(folder, "pytorch_model.bin.index.json")
    files = sorted(folder.glob("pytorch_model*.bin"))
    if files:
        return files
    raise ConversionError(f"{folder}: no weights found (*.safetensors or pytorch_model*.bin)")


def index_tensors(folder: Path) -> dict[str, TensorSource]:
    """All tensors of the checkpoint by name; only headers are read."""
    tensors: dict[str, TensorSource] = {}
    for path in find_weight_files(folder):
        sources = SafetensorsFile(path).sources() if path.suffix == ".safetensors" else _torch_bin_sources(path)
        for source in sources:
            if source.name in tensors:
                raise ConversionError(f"{path}: tensor {source.name!r} also appears in {tensors[source.name].file}")
            tensors[source.name] = source
    return tensors


def load_config(folder: Path) -> dict:
    path = folder / "config.json"
    if not folder.is_dir():
        raise ConversionError(f"{folder}: checkpoint folder does not exist")
    if not path.is_file():
        raise ConversionError(f"{path}: missing config.json")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConversionError(f"{path}: unreadable config ({e})") from None
    if not isinstance(config, dict):
        raise ConversionError(f"{path}: config is not a JSON object")
    return config
