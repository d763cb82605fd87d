"""Bad input: one clear line naming the file or tensor, exit status 1, and no output file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from convert_helpers import make_checkpoint, write_weights
from tq_gguf.convert import ConversionError, convert_checkpoint
from tq_gguf.convert.tensors import TensorConverter

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def good_ckpt(tmp_path_factory):
    return make_checkpoint(tmp_path_factory.mktemp("good") / "ckpt", n_layers=2, n_files=2, dtype="bf16")


def clone(ckpt, tmp_path: Path) -> Path:
    folder = tmp_path / "ckpt"
    folder.mkdir()
    for f in ckpt.path.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    return folder


def assert_refused(folder: Path, out: Path, *fragments: str, **kwargs) -> str:
    watched = next(p for p in out.parents if p.is_dir())
    before = set(watched.rglob("*"))
    with pytest.raises(ConversionError) as info:
        convert_checkpoint(folder, out, progress=False, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    assert set(watched.rglob("*")) == before, "conversion left files behind"
    return message


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, TQ_GGUF_NO_ENV_CHECK="1", PYTHONPATH=str(REPO_ROOT))
    return subprocess.run([sys.executable, "-m", "tq_gguf.convert", *args], capture_output=True, text=True, env=env, timeout=120)


def test_missing_config(good_ckpt, tmp_path):
    folder = clone(good_ckpt, tmp_path)
    (folder / "config.json").unlink()
    assert_refused(folder, tmp_path / "out.gguf", "config.json", str(folder))


def test_missing_folder(tmp_path):
    assert_refused(tmp_path / "nope", tmp_path / "out.gguf", "nope")


@pytest.mark.parametrize("change", [{"architectures": ["MistralForCausalLM"], "model_type": "mistral"}, {"architectures": ["GPT2LMHeadModel"]}])
def test_unsupported_architecture(good_ckpt, tmp_path, change):
    folder = clone(good_ckpt, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config.update(change)
    (folder / "config.json").write_text(json.dumps(config))
    assert_refused(folder, tmp_path / "out.gguf", "unsupported", change["architectures"][0])


def test_shard_in_index_missing(good_ckpt, tmp_path):
    folder = clone(good_ckpt, tmp_path)
    (folder / "model-00002-of-00002.safetensors").unlink()
    assert_refused(folder, tmp_path / "out.gguf", "model-00002-of-00002.safetensors", "missing")


def test_truncated_safetensors(good_ckpt, tmp_path):
    folder = clone(good_ckpt, tmp_path)
    path = folder / "model-00001-of-00002.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert_refused(folder, tmp_path / "out.gguf", path.name, "truncated")


@pytest.mark.parametrize("header", [b"\xff" * 8 + b"{}", (20).to_bytes(8, "little") + b"not json at all....."])
def test_corrupt_safetensors_header(good_ckpt, tmp_path, header):
    folder = clone(good_ckpt, tmp_path)
    path = folder / "model-00002-of-00002.safetensors"
    path.write_bytes(header)
    assert_refused(folder, tmp_path / "out.gguf", path.name, "header")


def test_shape_mismatch_against_config(good_ckpt, tmp_path):
    folder = clone(good_ckpt, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config["intermediate_size"] = 768
    (folder / "config.json").write_text(json.dumps(config))
    message = assert_refused(folder, tmp_path / "out.gguf", "mlp", "768")
    assert "model.layers.0." in message


def test_missing_tensor(good_ckpt, tmp_path):
    folder = clone(good_ckpt, tmp_path)
    values = dict(good_ckpt.values)
    del values["model.layers.1.self_attn.v_proj.weight"]
    for f in folder.glob("model*.safetensors*"):
        f.unlink()
    write_weights(folder, values, "bf16")
    assert_refused(folder, tmp_path / "out.gguf", "model.layers.1.self_attn.v_proj.weight", "missing")


@pytest.mark.parametrize(
    "name,bad", [("model.layers.1.mlp.up_proj.weight", np.nan), ("model.embed_tokens.weight", np.inf), ("model.norm.weight", np.nan)]
)
def test_nan_inf_weights(good_ckpt, tmp_path, name, bad):
    folder = clone(good_ckpt, tmp_path)
    values = {k: v.copy() for k, v in good_ckpt.values.items()}
    values[name].flat[7] = bad
    for f in folder.glob("model*.safetensors*"):
        f.unlink()
    write_weights(folder, values, "bf16")
    assert_refused(folder, tmp_path / "out.gguf", name, "NaN or Inf")


def test_not_ternary_names_first_offending_tensor(tmp_path):
    ckpt = make_checkpoint(tmp_path / "latent", latent=True, n_layers=1)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    message = assert_refused(ckpt.path, out_dir / "out.gguf", "model.layers.0.self_attn.q_proj.weight", "not ternary", "--ternarize")
    assert "%" in message and "scale" in message


def test_almost_ternary_is_refused(tmp_path):
    ckpt = make_checkpoint(tmp_path / "ckpt", n_layers=1, dtype="f16")
    values = dict(ckpt.values)
    name = "model.layers.0.mlp.gate_proj.weight"
    values[name] = values[name].copy()
    nz = np.flatnonzero(values[name])[5]
    values[name].flat[nz] *= np.float32(1.001)  # one weight off by one f16 ulp-ish
    (ckpt.path / "model.safetensors").unlink()
    write_weights(ckpt.path, values, "f16")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    assert_refused(ckpt.path, out_dir / "out.gguf", name, "not ternary")


def test_unwritable_output(good_ckpt, tmp_path):
    assert_refused(good_ckpt.path, tmp_path / "no" / "such" / "dir" / "out.gguf", "does not exist")
    (tmp_path / "adir").mkdir()
    assert_refused(good_ckpt.path, tmp_path / "adir", "directory")
    if os.geteuid() != 0:  # root can write anywhere
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            assert_refused(good_ckpt.path, locked / "out.gguf", "not writable")
        finally:
            locked.chmod(0o700)


def test_failure_keeps_existing_output_and_leaves_no_partial(good_ckpt, tmp_path, monkeypatch):
    out = tmp_path / "out.gguf"
    out.write_bytes(b"previous model")
    calls = {"n": 0}
    original = TensorConverter.convert

    def interrupted(self, job):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return original(self, job)

    monkeypatch.setattr(TensorConverter, "convert", interrupted)
    with pytest.raises(KeyboardInterrupt):
        convert_checkpoint(good_ckpt.path, out, progress=False)
    assert out.read_bytes() == b"previous model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.gguf"]


def test_cli_bad_input_one_line_exit_1(good_ckpt, tmp_path):
    result = run_cli(str(tmp_path / "missing"), str(tmp_path / "out.gguf"))
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out.gguf").exists()


def test_cli_converts_with_summary(good_ckpt, tmp_path):
    out = tmp_path / "model.gguf"
    result = run_cli(str(good_ckpt.path), str(out), "--outtype", "tq1_0")
    assert result.returncode == 0, result.stderr
    assert out.is_file()
    assert "TQ1_0 14" in result.stdout and "bits/weight" in result.stdout and "1.6875" in result.stdout
    assert str(out) in result.stdout


def test_cli_help_explains_every_option():
    result = run_cli("--help")
    assert result.returncode == 0
    for option in ("--outtype", "--embedding-type", "--ternarize", "--mp-shards", "--no-progress", "CKPT_DIR", "OUT.gguf"):
        assert option in result.stdout
    for outtype in ("tq2_0", "tq1_0", "f16", "bf16", "q8_0"):
        assert outtype in result.stdout


@pytest.mark.parametrize("file_name", ["tokenizer.json", "tokenizer_config.json"])
def test_corrupt_tokenizer_files(good_ckpt, tmp_path, file_name):
    folder = clone(good_ckpt, tmp_path)
    (folder / file_name).write_text("{ this is not json")
    assert_refused(folder, tmp_path / "out.gguf", str(folder))


def test_corrupt_pytorch_bin(tmp_path):
    ckpt = make_checkpoint(tmp_path / "ckpt", n_layers=1, weight_format="bin")
    path = ckpt.path / "pytorch_model.bin"
    path.write_bytes(path.read_bytes()[:1000])
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    assert_refused(ckpt.path, out_dir / "out.gguf", "pytorch_model.bin")
