"""`python -m tq_gguf demo` (tq_gguf.demo.main) end to end on the shipped tiny TriLM, with a
short held-out slice so it stays quick."""

import json

import pytest

pytest.importorskip("tq_gguf.convert")
pytest.importorskip("llama_cpp")

from tq_gguf.demo import main  # noqa: E402
from tq_gguf.trilm.compare import SHIPPED_CHECKPOINT  # noqa: E402


def test_demo_runs_whole_pipeline_and_prints_table(tmp_path, capsys):
    heldout = tmp_path / "heldout.txt"
    heldout.write_text((SHIPPED_CHECKPOINT / "heldout.txt").read_text()[:5000])
    out_json = tmp_path / "demo.json"
    rc = main(["--heldout", str(heldout), "--json", str(out_json), "--out-dir", str(tmp_path / "gguf"),
               "--max-tokens", "16", "--threads", "2"])
    assert rc == 0
    text = capsys.readouterr().out
    for marker in ("[1/6]", "[6/6]", "llama.cpp TQ2_0", "llama.cpp TQ1_0", "llama.cpp F16", "perplexity", "gen tok/s"):
        assert marker in text, marker
    result = json.loads(out_json.read_text())
    rows = {r["name"]: r for r in result["rows"]}
    ref = rows["transformers (HF ckpt)"]
    for t in ("F16", "TQ2_0", "TQ1_0"):
        row = rows[f"llama.cpp {t}"]
        assert abs(row["ppl"] - ref["ppl"]) / ref["ppl"] < 0.01
        assert row["generation"] == ref["generation"]
        assert row["llama_tokenizer_agrees"]
        assert (tmp_path / "gguf" / f"tiny-trilm.{t.lower()}.gguf").is_file()
    assert rows["llama.cpp TQ1_0"]["size"] < rows["llama.cpp TQ2_0"]["size"] < rows["llama.cpp F16"]["size"] / 2
    assert 1.6 < rows["llama.cpp TQ1_0"]["bpw_linear"] < 1.7 and 2.0 < rows["llama.cpp TQ2_0"]["bpw_linear"] < 2.1
