"""Which llama.cpp libraries `llama_cpp` loads, and whether they are ours.

Design: our wheel installs llama-cpp-python's unmodified Python package `llama_cpp` with our
patched libraries in `llama_cpp/lib/` (where it looks by default). Two things can break that
silently, and both are reported here: a stock llama-cpp-python distribution installed in the
same environment (it owns the same files, so whichever was installed last wins), and
LLAMA_CPP_LIB_PATH pointing somewhere else. Our libggml-cpu exports `tq_gguf_version()`;
a stock one does not.
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import importlib.util
import os
from pathlib import Path

VERSION_SYMBOL = b"tq_gguf_version"
STOCK_DISTRIBUTIONS = ("llama_cpp_python", "llama-cpp-python")


def lib_dir() -> Path | None:
    """The folder llama_cpp will load libllama from (without importing llama_cpp)."""
    override = os.environ.get("LLAMA_CPP_LIB_PATH")
    if override:
        return Path(override)
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).parent / "lib"


def _shared_object(folder: Path, stem: str) -> Path | None:
    for name in (f"lib{stem}.so", f"lib{stem}.dylib", f"{stem}.dll"):
        if (folder / name).exists():
            return folder / name
    return None


def is_our_library(folder: Path | None) -> bool:
    """True when folder's libggml-cpu carries our version symbol (read, not loaded)."""
    if folder is None:
        return False
    so = _shared_object(folder, "ggml-cpu")
    return so is not None and VERSION_SYMBOL in so.read_bytes()


def stock_distribution() -> str | None:
    """Version of a stock llama-cpp-python distribution installed here, if any."""
    for name in STOCK_DISTRIBUTIONS:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def environment_problems() -> list[str]:
    """Plain sentences for everything that would make llama_cpp run stock kernels."""
    problems = []
    stock = stock_distribution()
    if stock is not None:
        problems.append(
            f"a stock llama-cpp-python {stock} is installed in this environment; it shares the "
            "llama_cpp package with tq_gguf, so whichever was installed last provides the "
            "libraries. Run `pip uninstall llama-cpp-python` and reinstall tq_gguf.")
    folder = lib_dir()
    if folder is None:
        problems.append("llama_cpp is not installed: reinstall tq_gguf (pip install .)")
    elif not is_our_library(folder):
        where = "LLAMA_CPP_LIB_PATH" if os.environ.get("LLAMA_CPP_LIB_PATH") else "llama_cpp/lib"
        problems.append(f"the libraries in {folder} ({where}) are not tq_gguf's: TQ1_0/TQ2_0 "
                        "would run on stock kernels (and not at all on CUDA)")
    return problems


def loaded_libraries() -> dict[str, str]:
    """Shared objects of llama/ggml mapped into this process (Linux: /proc/self/maps)."""
    found: dict[str, str] = {}
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.rstrip().split(" ")[-1]
                name = os.path.basename(path)
                if name.startswith(("libllama", "libggml")) and ".so" in name:
                    found.setdefault(name.split(".so")[0], path)
    except OSError:
        pass
    return found


def loaded_version() -> str | None:
    """tq_gguf_version() of the libggml-cpu that this process has loaded, else None."""
    path = loaded_libraries().get("libggml-cpu")
    if path is None:
        return None
    lib = ctypes.CDLL(path)
    fn = getattr(lib, "tq_gguf_version", None)
    if fn is None:
        return None
    fn.restype = ctypes.c_char_p
    return fn().decode()
