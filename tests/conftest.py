"""Shared fixtures: where our build's libraries and tools are, and skips that say why."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def find_tools_dir() -> Path | None:
    """bin/ of a build made with TQ_GGUF_BUILD_TOOLS=ON: $TQ_GGUF_TOOLS_DIR, else the newest
    build/*/bin holding llama-quantize (`pip install` with CMAKE_ARGS=-DTQ_GGUF_BUILD_TOOLS=ON
    or `python -m tq_gguf build-tools` make one)."""
    override = os.environ.get("TQ_GGUF_TOOLS_DIR")
    if override:
        return Path(override)
    candidates = sorted((REPO_ROOT / "build").glob("*/bin/llama-quantize"),
                        key=lambda p: p.stat().st_mtime, reverse=True)
    return candidates[0].parent if candidates else None


@pytest.fixture(scope="session")
def tools_dir() -> Path:
    found = find_tools_dir()
    if found is None:
        pytest.skip("no tools build: run `python -m tq_gguf build-tools` or set TQ_GGUF_TOOLS_DIR")
    return found


@pytest.fixture(scope="session")
def our_llama_cpp():
    """llama_cpp, asserted to run on our libraries (a stock build fails, not skips)."""
    llama_cpp = pytest.importorskip("llama_cpp")
    from tq_gguf import runtime

    assert runtime.is_our_library(runtime.lib_dir()), (
        f"llama_cpp loads libraries from {runtime.lib_dir()}, which are not tq_gguf's")
    return llama_cpp
