"""Offline training text: the CPython standard library's modules and packages.

Every Python installation has them, so nothing is downloaded. The split is by file
(deterministic: sorted names, every `HELDOUT_EVERY`-th file is held out) so held-out
perplexity measures text the model never saw. Python's stdlib is PSF-licensed; the
shipped held-out excerpt keeps its origin in the model card.
"""

from __future__ import annotations

import sysconfig
from dataclasses import dataclass
from pathlib import Path

HELDOUT_EVERY = 16
# Test suites, the IDE, third-party packages and demos are left out: they are large, very
# repetitive (tests) or not part of every installation.
EXCLUDED_PARTS = {"test", "tests", "site-packages", "dist-packages", "idlelib", "lib2to3", "turtledemo", "__pycache__"}


@dataclass(frozen=True)
class CorpusFile:
    name: str
    text: str


def stdlib_dir() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def read_stdlib_modules(directory: Path | None = None, max_files: int | None = None) -> list[CorpusFile]:
    """`*.py` files of the standard library (recursively, minus EXCLUDED_PARTS), sorted by
    relative path, decoded as UTF-8."""
    directory = Path(directory) if directory is not None else stdlib_dir()
    files = []
    paths = sorted(directory.rglob("*.py"), key=lambda p: p.relative_to(directory).as_posix())
    for path in paths:
        rel = path.relative_to(directory)
        if EXCLUDED_PARTS.intersection(rel.parts[:-1]) or rel.parts[0].startswith("config-"):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if text.strip():
            files.append(CorpusFile(rel.as_posix(), text))
        if max_files is not None and len(files) >= max_files:
            break
    if not files:
        raise FileNotFoundError(f"no readable *.py files under {directory}")
    return files


def split_train_heldout(files: list[CorpusFile], every: int = HELDOUT_EVERY) -> tuple[list[CorpusFile], list[CorpusFile]]:
    """Files at index i with i % every == every // 2 are held out; the rest train."""
    train = [f for i, f in enumerate(files) if i % every != every // 2]
    heldout = [f for i, f in enumerate(files) if i % every == every // 2]
    if not heldout:  # tiny corpora (tests): hold out the last file
        train, heldout = files[:-1], files[-1:]
    return train, heldout


def join_documents(files: list[CorpusFile]) -> str:
    """One string, files separated by a blank line (used for the held-out text file)."""
    return "\n\n".join(f.text.rstrip("\n") for f in files) + "\n"
