"""The local executor's choice to run a plain command without bash in between."""
from __future__ import annotations

import shutil

import pytest

from fileflow.executors.local import LocalExecutor


@pytest.fixture
def executor() -> LocalExecutor:
    return LocalExecutor(env={})


def test_a_plain_program_call_runs_directly_with_the_same_argv(executor):
    program, argv = executor._direct("cp 'data/a b.txt' \"out/x y.txt\" --flag=1")
    assert program == shutil.which("cp")
    assert argv == ["cp", "data/a b.txt", "out/x y.txt", "--flag=1"]


@pytest.mark.parametrize("command", [
    "cat $HOME", "ls *.txt", "cp a b > c", "cat a | wc -l", "true; false", "echo hi",
    "cd dir", "VAR=1 env", "cmd `x`", "a && b", "x\ny", "cp a\\ b c", "cat ~/x",
    "no-such-program-xyz a", "'unclosed",
])
def test_anything_the_shell_would_interpret_goes_to_bash(executor, command):
    assert executor._direct(command) is None
