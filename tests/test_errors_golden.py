"""Golden error messages: every tests/flowfiles/errors/NAME.flow is a malformed Flowfile, and
NAME.expected is exactly what `fileflow check -f NAME.flow` prints (path:line:col, the line,
the caret, the hint). Run from that folder, so the paths in the text are relative and stable.

To regenerate after a deliberate change of wording, run with FILEFLOW_REGEN_GOLDEN=1 -- and
then read every changed .expected file: a golden file must hold a message worth keeping.
Files ending in .inc or .yaml are helpers that the cases include; they are not cases.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fileflow.cli.main import main
from fileflow.errors import EXIT_USAGE

ERRORS = Path(__file__).resolve().parent / "flowfiles" / "errors"
CASES = sorted(p.stem for p in ERRORS.glob("*.flow"))
REGEN = os.environ.get("FILEFLOW_REGEN_GOLDEN") == "1"
# Each error of the output starts like this (several errors are separated by a blank line).
HEADER = re.compile(r"^[^\s:]+:\d+:\d+: error: \S", re.MULTILINE)


def test_there_are_enough_cases():
    assert len(CASES) >= 25
    missing = [c for c in CASES if not (ERRORS / f"{c}.expected").exists() and not REGEN]
    assert not missing, f"no .expected for {missing} (run with FILEFLOW_REGEN_GOLDEN=1, then review)"


@pytest.mark.parametrize("case", CASES)
def test_golden_message(case, capsys, monkeypatch):
    monkeypatch.chdir(ERRORS)
    code = main(["check", "-f", f"{case}.flow"])
    out, err = capsys.readouterr()
    expected_file = ERRORS / f"{case}.expected"
    if REGEN:
        expected_file.write_text(err, encoding="utf-8")
    assert code == EXIT_USAGE
    assert out == ""
    assert "Traceback" not in err
    assert HEADER.match(err), err
    for block in err.rstrip("\n").split("\n\n"):
        lines = block.splitlines()
        assert HEADER.match(lines[0]), block
        assert re.match(r"^ +\d+ \| ", lines[1]), f"no source line in:\n{block}"
        assert re.match(r"^ +\| *\^+$", lines[2]), f"no caret in:\n{block}"
    assert err == expected_file.read_text(encoding="utf-8")


# Through a real process, for a few cases of each kind (lexer, parser, indentation, model,
# include, several errors): exit code 2, no traceback, the same text as main() printed.
SUBPROCESS_CASES = ["unclosed_string", "missing_colon_rule", "tab_space_mix", "two_actions",
                    "include_cycle", "several_errors", "unknown_config_key"]


def test_golden_messages_through_a_real_process():
    assert set(SUBPROCESS_CASES) <= set(CASES)
    env = {**os.environ, "PYTHONWARNINGS": "error::DeprecationWarning:fileflow"}
    procs = {case: subprocess.Popen([sys.executable, "-m", "fileflow", "check", "-f", f"{case}.flow"],
                                    cwd=ERRORS, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, env=env)
             for case in SUBPROCESS_CASES}
    for case, proc in procs.items():
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == EXIT_USAGE, (case, err)
        assert "Traceback" not in err
        assert out == ""
        assert err == (ERRORS / f"{case}.expected").read_text(encoding="utf-8"), case
