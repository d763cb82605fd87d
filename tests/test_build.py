"""The one build: the pinned source is checked, patches apply or fail loudly, and the
`llama_cpp` that the environment imports runs our libraries (TQ1_0 and TQ2_0 load and
generate through `Llama`). Stock libraries and stock installs are reported, not hidden."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tq_gguf import __version__, runtime, source

REPO_ROOT = Path(__file__).resolve().parents[1]


def _run_python(code: str, env_extra: dict[str, str], cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    env = dict(os.environ, **env_extra)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd)


# --- pinned source ------------------------------------------------------------------------

def test_sdist_with_wrong_hash_is_refused(tmp_path):
    fake = tmp_path / source.SDIST_NAME
    fake.write_bytes(b"not the pinned sdist")
    with pytest.raises(source.SourceError, match="does not match the pinned"):
        source.verify_sdist(fake)


def test_missing_sdist_override_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("TQ_GGUF_SDIST", str(tmp_path / "absent.tar.gz"))
    with pytest.raises(source.SourceError, match="no such file"):
        source.fetch_sdist()


def test_patch_that_does_not_apply_fails_with_its_name(tmp_path, monkeypatch):
    tree = tmp_path / "llama.cpp"
    tree.mkdir()
    (tree / "file.c").write_text("int a = 1;\n")
    patches = tmp_path / "patches"
    patches.mkdir()
    (patches / "10-bad.patch").write_text(
        "--- a/file.c\n+++ b/file.c\n@@ -1 +1 @@\n-int a = 2;\n+int a = 3;\n")
    monkeypatch.setattr(source, "PATCH_DIR", patches)
    with pytest.raises(source.SourceError, match="10-bad.patch does not apply"):
        source.apply_patches(tree)
    assert (tree / "file.c").read_text() == "int a = 1;\n"


def test_every_committed_patch_applies_to_the_pinned_source(tmp_path):
    """The real series against the real pinned tree (the sdist is in pip's reach or cached)."""
    try:
        stamp = source.prepare(tmp_path / "upstream")
    except source.SourceError as e:
        if "could not fetch" in str(e):
            pytest.skip(f"pinned sdist not reachable here: {e}")
        raise
    assert stamp["patches"] == [p.name for p in source.patch_files()]
    assert (tmp_path / "upstream" / "llama.cpp" / "ggml" / "src" / "ggml-cpu" / "ggml-cpu.c").is_file()
    assert (tmp_path / "upstream" / "llama_cpp" / "llama.py").is_file()
    # Re-preparing an up-to-date tree is a no-op that keeps file times (incremental builds).
    probe = tmp_path / "upstream" / "llama.cpp" / "CMakeLists.txt"
    os.utime(probe, (1_000_000_000, 1_000_000_000))
    source.prepare(tmp_path / "upstream")
    assert probe.stat().st_mtime == 1_000_000_000


def test_sync_rewrites_only_changed_files(tmp_path):
    src, dest = tmp_path / "src", tmp_path / "dest"
    for d in (src, dest):
        (d / "sub").mkdir(parents=True)
    (src / "same.txt").write_text("same")
    (dest / "same.txt").write_text("same")
    (src / "sub" / "new.txt").write_text("new")
    (dest / "stale.txt").write_text("gone")
    os.utime(dest / "same.txt", (1_000_000_000, 1_000_000_000))
    assert source._sync_tree(src, dest) == 1
    assert (dest / "sub" / "new.txt").read_text() == "new"
    assert not (dest / "stale.txt").exists()
    assert (dest / "same.txt").stat().st_mtime == 1_000_000_000


def test_device_pack_round_trips(tmp_path, monkeypatch):
    """pack-device output prepares the same tree as the sdist (offline machines)."""
    tarball = tmp_path / "pristine.tar.gz"
    (tmp_path / "llama.cpp").mkdir()
    (tmp_path / "llama.cpp" / "CMakeLists.txt").write_text("project(x)\n")
    (tmp_path / "llama_cpp").mkdir()
    (tmp_path / "llama_cpp" / "__init__.py").write_text("")
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(tmp_path / "llama.cpp", arcname="llama.cpp")
        tar.add(tmp_path / "llama_cpp", arcname="llama_cpp")
    monkeypatch.setattr(source, "PATCH_DIR", tmp_path / "no-patches")
    stamp = source.prepare(tmp_path / "prepared", pristine_tarball=tarball)
    assert stamp["source"] == "device-pack"
    assert (tmp_path / "prepared" / "llama.cpp" / "CMakeLists.txt").read_text() == "project(x)\n"


# --- stock libraries and stock installs are reported ------------------------------------

def test_stock_library_folder_is_reported(tmp_path):
    (tmp_path / "libggml-cpu.so").write_bytes(b"\x7fELF stock ggml without our symbol")
    assert not runtime.is_our_library(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "tq_gguf", "info"], capture_output=True, text=True,
                          env=dict(os.environ, LLAMA_CPP_LIB_PATH=str(tmp_path)), cwd=REPO_ROOT)
    assert proc.returncode != 0
    assert "are not tq_gguf's" in proc.stdout + proc.stderr


def test_stock_distribution_warns_at_import(tmp_path):
    dist = tmp_path / "llama_cpp_python-0.3.36.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: llama_cpp_python\nVersion: 0.3.36\n")
    proc = _run_python("import warnings; warnings.simplefilter('always'); import tq_gguf",
                       {"PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{tmp_path}"})
    assert proc.returncode == 0, proc.stderr
    assert "a stock llama-cpp-python 0.3.36 is installed" in proc.stderr


# --- the installed llama_cpp runs our build -----------------------------------------------

def test_info_reports_our_library(our_llama_cpp):
    from tq_gguf import info

    report = info.collect()
    assert report["problems"] == []
    version = report["library_version"]
    assert version is not None and f"tq_gguf {__version__}" in version
    # A build from an older patch set would silently test stale kernels: catch it.
    assert f"patch set {source.patchset_hash()}" in version, (
        f"the loaded library was built from another patch set: {version}; rebuild")
    assert report["cpu_features_compiled"], "ggml_cpu_has_* reported no CPU features"
    assert any(d.startswith("CPU") for d in report["devices"])


@pytest.fixture(scope="module")
def tiny_ggufs(tmp_path_factory):
    sys.path.insert(0, str(Path(__file__).parent))
    from convert_helpers import make_checkpoint
    from tq_gguf.convert import convert_checkpoint

    folder = tmp_path_factory.mktemp("build-e2e")
    make_checkpoint(folder / "ckpt", hidden=256, intermediate=512, n_layers=2, n_heads=4,
                    n_kv_heads=2, vocab_size=384)
    out = {}
    for outtype in ("tq2_0", "tq1_0"):
        out[outtype] = folder / f"model-{outtype}.gguf"
        convert_checkpoint(folder / "ckpt", out[outtype], outtype=outtype, progress=False)
    return out


@pytest.mark.parametrize("outtype", ["tq2_0", "tq1_0"])
def test_tq_model_loads_and_generates(our_llama_cpp, tiny_ggufs, outtype):
    from llama_cpp import Llama

    llm = Llama(model_path=str(tiny_ggufs[outtype]), n_ctx=128, n_threads=2, verbose=False,
                seed=0)
    result = llm("The quick brown fox", max_tokens=8, temperature=0.0)
    assert result["usage"]["completion_tokens"] > 0
    # the file really is ternary: llama.cpp reports the file type it loaded
    meta = llm.metadata
    assert meta.get("general.file_type") == {"tq2_0": "37", "tq1_0": "36"}[outtype], meta
