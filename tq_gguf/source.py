"""The pinned llama.cpp source: fetch, verify, extract, patch.

The only upstream code we build is llama.cpp exactly as vendored in the llama-cpp-python
sdist pinned below. It is fetched at build time through pip (whatever index pip is
configured with), checked against the recorded SHA-256, extracted, and then every
``ggml_patches/*.patch`` is applied in sorted file-name order. Nothing upstream is committed.

Prepared tree layout (``--dest DIR``)::

    DIR/llama.cpp/    vendor/llama.cpp of the sdist, minus docs/, media/, models/, patched
    DIR/llama_cpp/    llama-cpp-python's own Python package, unmodified
    DIR/stamp.json    what DIR was prepared from (sdist hash, patch-set hash)

This file runs standalone (``python tq_gguf/source.py prepare --dest DIR``) because CMake
calls it before the package is installed; it needs the standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

LLAMA_CPP_PYTHON_VERSION = "0.3.36"
SDIST_NAME = f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}.tar.gz"
SDIST_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
SDIST_ROOT = f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}"

REPO_ROOT = Path(__file__).resolve().parents[1]
PATCH_DIR = REPO_ROOT / "ggml_patches"

# Parts of vendor/llama.cpp that no build target reads: left out to save time and disk.
SKIPPED_TOP_DIRS = {"docs", "media", "models", "benches"}


class SourceError(RuntimeError):
    """The pinned source could not be fetched, verified or patched."""


def _log(msg: str) -> None:
    print(f"[tq_gguf.source] {msg}", file=sys.stderr, flush=True)


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tq_gguf"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_sdist(path: Path) -> None:
    digest = sha256_file(path)
    if digest != SDIST_SHA256:
        raise SourceError(
            f"{path}: SHA-256 {digest} does not match the pinned llama-cpp-python "
            f"{LLAMA_CPP_PYTHON_VERSION} sdist ({SDIST_SHA256}); refusing to build from it"
        )


def fetch_sdist() -> Path:
    """Return a verified copy of the pinned sdist: $TQ_GGUF_SDIST, the cache, or pip."""
    override = os.environ.get("TQ_GGUF_SDIST")
    if override:
        path = Path(override)
        if not path.is_file():
            raise SourceError(f"TQ_GGUF_SDIST={override}: no such file")
        verify_sdist(path)
        return path
    cached = cache_dir() / SDIST_NAME
    if cached.is_file():
        try:
            verify_sdist(cached)
            return cached
        except SourceError:
            _log(f"cached {cached} is corrupt; fetching it again")
            cached.unlink()
    cached.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cached.parent) as tmp:
        _log(f"fetching llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION} sdist through pip")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               "--no-build-isolation", "--no-cache-dir", "-d", tmp,
               f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}"]
        # pip download of an sdist also prepares its metadata, which needs a build backend;
        # --no-build-isolation avoids a second download of it when one is present.
        proc = subprocess.run(cmd, capture_output=True, text=True)
        got = Path(tmp) / SDIST_NAME
        if not got.is_file():
            cmd.remove("--no-build-isolation")
            proc = subprocess.run(cmd, capture_output=True, text=True)
        if not got.is_file():
            raise SourceError(
                "could not fetch the pinned llama-cpp-python sdist through pip "
                f"(exit {proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}\n"
                "Set TQ_GGUF_SDIST=/path/to/" + SDIST_NAME + " to build offline."
            )
        verify_sdist(got)
        os.replace(got, cached)
    return cached


def patch_files() -> list[Path]:
    return sorted(PATCH_DIR.glob("*.patch"))


def patchset_hash() -> str:
    """Hash of every patch (name and bytes): identifies the patch set compiled in."""
    h = hashlib.sha256()
    for p in patch_files():
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _extract(tarball: Path, dest: Path, verify: bool) -> None:
    """Extract vendor/llama.cpp and llama_cpp/ (sdist) or llama.cpp/ (device pack) into dest."""
    if verify:
        verify_sdist(tarball)
    with tarfile.open(tarball, "r:*") as tar:
        for member in tar:
            parts = Path(member.name).parts
            if len(parts) >= 3 and parts[0] == SDIST_ROOT and parts[1] == "vendor" and parts[2] == "llama.cpp":
                rel = Path("llama.cpp", *parts[3:])
            elif len(parts) >= 2 and parts[0] == SDIST_ROOT and parts[1] == "llama_cpp":
                rel = Path("llama_cpp", *parts[2:])
            elif parts and parts[0] in ("llama.cpp", "llama_cpp"):  # a pack-device tarball
                rel = Path(*parts)
            else:
                continue
            if rel.parts[0] == "llama.cpp" and len(rel.parts) > 1 and rel.parts[1] in SKIPPED_TOP_DIRS:
                continue
            if member.issym() or member.islnk() or ".git" in rel.parts:
                # The pinned tree needs no links (they could point outside dest); its .git
                # file names the sdist author's submodule and would confuse `git apply`.
                continue
            target = dest / rel
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                target.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
                os.chmod(target, 0o755 if member.mode & 0o111 else 0o644)


def apply_patches(tree: Path) -> None:
    # Stop git from finding an enclosing repository: inside one, `git apply` would take the
    # patch paths relative to that repository's root instead of the llama.cpp tree.
    env = dict(os.environ, GIT_CEILING_DIRECTORIES=str(Path(tree).resolve().parent))
    for patch in patch_files():
        check = subprocess.run(["git", "apply", "--check", "-p1", str(patch)], cwd=tree,
                               capture_output=True, text=True, env=env)
        if check.returncode != 0:
            raise SourceError(f"{patch.name} does not apply cleanly to the pinned source:\n"
                              f"{check.stderr.strip()}")
        subprocess.run(["git", "apply", "-p1", str(patch)], cwd=tree, check=True, env=env)
        _log(f"applied {patch.name}")


def prepare(dest: Path, pristine_tarball: Path | None = None) -> dict:
    """Make dest hold the patched tree; a no-op when its stamp already matches."""
    dest = Path(dest)
    stamp_path = dest / "stamp.json"
    stamp = {
        "llama_cpp_python": LLAMA_CPP_PYTHON_VERSION,
        "sdist_sha256": SDIST_SHA256,
        "source": "device-pack" if pristine_tarball else "sdist",
        "patches": [p.name for p in patch_files()],
        "patchset": patchset_hash(),
    }
    if stamp_path.is_file():
        try:
            if json.loads(stamp_path.read_text()) == stamp:
                return stamp
        except json.JSONDecodeError:
            pass
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        if pristine_tarball is not None:
            _log(f"extracting {pristine_tarball} (made by pack-device from the verified sdist)")
            _extract(Path(pristine_tarball), fresh, verify=False)
        else:
            sdist = fetch_sdist()
            _log(f"extracting {sdist.name} (SHA-256 verified)")
            _extract(sdist, fresh, verify=False)
        if not (fresh / "llama.cpp" / "CMakeLists.txt").is_file():
            raise SourceError(f"{dest}: the tarball held no llama.cpp tree")
        apply_patches(fresh / "llama.cpp")
        stamp_path.unlink(missing_ok=True)
        changed = _sync_tree(fresh, dest)
    _log(f"{changed} files changed in {dest}")
    stamp_path.write_text(json.dumps(stamp, indent=1))
    return stamp


def _sync_tree(src: Path, dest: Path) -> int:
    """Make dest equal src, touching only files whose bytes differ.

    Unchanged files keep their modification times, so a new or edited patch rebuilds only
    the objects it affects instead of all of llama.cpp (minutes on a 2-core machine).
    """
    changed = 0
    wanted = set()
    for path in src.rglob("*"):
        rel = path.relative_to(src)
        wanted.add(rel)
        target = dest / rel
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif not target.is_file() or target.read_bytes() != path.read_bytes():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            changed += 1
    for path in sorted(dest.rglob("*"), reverse=True):
        rel = path.relative_to(dest)
        if rel not in wanted and rel.name != "stamp.json":
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    return changed


def pack_device(out: Path) -> Path:
    """Write the verified pristine tree, trimmed, for machines without a package index.

    The full sdist is 76 MB, over what a device call can carry; the trimmed tree is ~10 MB.
    """
    sdist = fetch_sdist()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        _extract(sdist, Path(tmp), verify=False)
        with tarfile.open(out, "w:gz") as tar:
            for name in ("llama.cpp", "llama_cpp"):
                tar.add(Path(tmp) / name, arcname=name)
            note = f"pristine llama.cpp of {SDIST_NAME} (sha256 {SDIST_SHA256})\n".encode()
            info = tarfile.TarInfo("llama.cpp/TQ_GGUF_PRISTINE")
            info.size = len(note)
            tar.addfile(info, io.BytesIO(note))
    _log(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tq_gguf.source", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare", help="fetch, verify, extract and patch the pinned source")
    p.add_argument("--dest", required=True, type=Path, help="folder to prepare")
    p.add_argument("--pristine-tarball", type=Path, default=None,
                   help="use a tarball written by pack-device instead of fetching the sdist")
    p.add_argument("--print-patchset", action="store_true", help="print the patch-set hash")
    d = sub.add_parser("pack-device", help="write a trimmed pristine tarball for offline machines")
    d.add_argument("--out", type=Path, default=REPO_ROOT / ".device" / "llama.cpp-pristine.tar.gz")
    sub.add_parser("patchset", help="print the hash of the current patch set")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "prepare":
            stamp = prepare(args.dest, args.pristine_tarball)
            if args.print_patchset:
                print(stamp["patchset"])
        elif args.cmd == "pack-device":
            pack_device(args.out)
        else:
            print(patchset_hash())
    except SourceError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
