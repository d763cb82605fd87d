"""The README's two commands are the ones that CI and users run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text()
    section = text.split("## The two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)\n```", section, flags=re.S)


def test_readme_states_two_commands():
    assert len(_readme_commands()) == 2


def test_ci_runs_the_readme_test_command_verbatim():
    test_command = _readme_commands()[1]
    ci_lines = (REPO_ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines


def test_main_job_command_names_real_entry_points():
    main_job = _readme_commands()[0]
    assert "python -m tq_gguf demo" in main_job
    proc = subprocess.run([sys.executable, "-m", "tq_gguf", "--help"], capture_output=True,
                          text=True, cwd=REPO_ROOT)
    assert proc.returncode == 0 and "demo" in proc.stdout
