"""The pytest plugin: test one job of a workflow with inputs a test gives, and compare its
outputs (docs/testing.md). Registered through the `pytest11` entry point, so installing
fileflow gives every pytest run the `fileflow_job` fixture. Layer 5.

    from fileflow.testing import assert_same_text

    def test_count_words(fileflow_job):
        result = fileflow_job("Flowfile", "count_words[sample=demo]",
                              inputs={"text": "the cat the\\n"})
        assert_same_text(result["top"], "   2 the\\n   1 cat\\n")

An input is given by its name or its path: a pathlib.Path is a file to use, a str or
bytes its content; inputs not given are the workflow's own files. Heavy modules are
imported only when a job runs, so loading the plugin costs a pytest session nothing.
"""
from __future__ import annotations

import csv
import difflib
import io
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

__all__ = ["JobResult", "JobFailed", "run_flowfile_job", "fileflow_job", "assert_same_bytes",
           "assert_same_text", "assert_same_table", "assert_same_json", "assert_same_output"]

Given = Path | str | bytes
LOG_TAIL_LINES = 20


class JobFailed(AssertionError):
    """The job under test failed; the message ends with the last lines of its log."""


@dataclass(frozen=True)
class JobResult:
    """A job run by the fixture: its folder, its outputs by path and by name, its log."""

    name: str
    folder: Path
    outputs: Mapping[str, Path]              # the job's output path -> the file made
    named: Mapping[str, Path] = field(default_factory=dict)   # output name -> the file
    log: Path | None = None
    exit_code: int = 0
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def __getitem__(self, key: str) -> Path:
        """An output by its name (`output: counts = ...`) or its path."""
        if key in self.named:
            return self.named[key]
        if key in self.outputs:
            return self.outputs[key]
        raise KeyError(f"job {self.name} has no output named {key!r} "
                       f"(its outputs: {', '.join(list(self.named) + list(self.outputs))})")

    def text(self, key: str) -> str:
        return self[key].read_text(encoding="utf-8")

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log else ""


def run_flowfile_job(flowfile: str | os.PathLike[str], job: str, folder: str | os.PathLike[str],
                     inputs: Mapping[str, Given] | None = None,
                     config: Mapping[str, object] | None = None,
                     configfiles: Sequence[str] = (), check: bool = True,
                     workdir: str | os.PathLike[str] | None = None) -> JobResult:
    """Load `flowfile` (its paths are read from `workdir`, by default its folder), and run
    the job `job` names (`rule[wildcard=value,...]`, a rule's name, or a file it makes) in
    the empty folder `folder`, with `inputs` given by the test. With `check`, a failed job
    raises JobFailed."""
    from fileflow.lang.loader import load_workflow
    from fileflow.run.one_job import find_job, run_job, stage_job, working_in

    flowfile = os.path.abspath(flowfile)
    workdir = os.path.abspath(workdir) if workdir is not None else os.path.dirname(flowfile)
    folder = os.path.abspath(folder)
    work = os.path.join(folder, "work")
    given_dir = os.path.join(folder, "given")
    with working_in(workdir):
        workflow = load_workflow(flowfile, workdir=workdir, config=dict(config or {}),
                                 configfiles=list(configfiles))
        # the job alone: its inputs count as there (given, or looked for when staged)
        job_found = find_job(workflow, job, exists=lambda path: True)
        given = _given_files(job_found, inputs or {}, given_dir)
        os.makedirs(work, exist_ok=True)
        stage_job(workflow, job_found, work, given=given)
    done = run_job(workflow, job_found, work)
    outputs = {p: Path(made) for p, made in zip(job_found.outputs, done.outputs)}
    names = job_found.values.outputs.names
    named = {n: outputs[p] for p, n in zip(job_found.outputs, names) if n}
    result = JobResult(job_found.name, Path(work), outputs, named,
                       Path(done.log) if done.log else None, done.exit_code, done.message)
    if check and not result.ok:
        tail = "\n".join(result.log_text().splitlines()[-LOG_TAIL_LINES:])
        words = f", {done.message}" if done.message else ""
        raise JobFailed(f"job {result.name} failed (exit {done.exit_code}{words}) in {work}"
                        + (f"; its log ends:\n{tail}" if tail else "; it wrote no log"))
    return result


def _given_files(job, inputs: Mapping[str, Given], folder: str) -> dict[str, str]:
    """The job's input path -> the file to use, for each input the test gives: a name stands
    for the one path of that named input, content is written to a file under `folder`."""
    values, names = job.values.inputs.values, job.values.inputs.names
    given: dict[str, str] = {}
    for key, value in inputs.items():
        paths = [p for p, n in zip(values, names) if n == key] or (
            [os.path.normpath(key)] if os.path.normpath(key) in values else [])
        if len(paths) != 1:
            known = ", ".join(sorted({n for n in names if n} | set(values)))
            raise ValueError(f"job {job.name}: no single input named {key!r} "
                             f"(give one of: {known})")
        path = paths[0]
        if isinstance(value, Path):
            given[path] = str(value.resolve())
            continue
        target = os.path.join(folder, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as fh:
            fh.write(value.encode("utf-8") if isinstance(value, str) else value)
        given[path] = target
    return given


@pytest.fixture
def fileflow_job(tmp_path_factory) -> Callable[..., JobResult]:
    """`fileflow_job(FLOWFILE, JOB, inputs={...}, config={...}, check=True, workdir=None)`:
    run one job in a new temporary folder; returns a JobResult (see run_flowfile_job)."""
    def run(flowfile, job: str, inputs: Mapping[str, Given] | None = None,
            config: Mapping[str, object] | None = None, configfiles: Sequence[str] = (),
            check: bool = True, workdir: str | os.PathLike[str] | None = None) -> JobResult:
        folder = tmp_path_factory.mktemp("fileflow-job")
        return run_flowfile_job(flowfile, job, folder, inputs, config, configfiles, check,
                                workdir)

    return run


# ---------------------------------------------------------------- comparing outputs

def _bytes(value: Given) -> bytes:
    if isinstance(value, Path):
        return value.read_bytes()
    return value.encode("utf-8") if isinstance(value, str) else value


def _read(got: str | os.PathLike[str]) -> bytes:
    return Path(got).read_bytes()


def assert_same_bytes(got: str | os.PathLike[str], expected: Given) -> None:
    """The file `got` holds exactly `expected` (a Path: that file's bytes; str or bytes:
    that content)."""
    have, want = _read(got), _bytes(expected)
    if have != want:
        at = next((i for i, (a, b) in enumerate(zip(have, want)) if a != b), min(len(have), len(want)))
        raise AssertionError(f"{got}: {len(have)} bytes, expected {len(want)}; "
                             f"they differ from byte {at}")


def _lines(data: bytes) -> list[str]:
    lines = [line.rstrip() for line in data.decode("utf-8", "replace").splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def assert_same_text(got: str | os.PathLike[str], expected: Given) -> None:
    """The same text line by line, whitespace at the ends of lines and empty lines at the
    end ignored; a unified diff when not."""
    have, want = _lines(_read(got)), _lines(_bytes(expected))
    if have != want:
        diff = "\n".join(difflib.unified_diff(want, have, "expected", str(got), lineterm=""))
        raise AssertionError(f"{got} differs from what was expected:\n{diff}")


def _rows(data: bytes, delimiter: str | None) -> list[list[str]]:
    text = data.decode("utf-8", "replace")
    if delimiter is None:
        first = text.split("\n", 1)[0]
        delimiter = "\t" if "\t" in first else ","
    rows = [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text), delimiter=delimiter)]
    return [row for row in rows if any(row)]


def assert_same_table(got: str | os.PathLike[str], expected: Given, *,
                      delimiter: str | None = None, ordered: bool = True,
                      header: bool = False) -> None:
    """The same rows of cells (CSV, or TSV when the first line holds a tab), cells compared
    without surrounding spaces, empty rows ignored; `ordered=False` ignores the order of
    the rows (but for the first one, the header, with `header=True`)."""
    have, want = _rows(_read(got), delimiter), _rows(_bytes(expected), delimiter)
    if not ordered:
        keep = 1 if header else 0
        have = have[:keep] + sorted(have[keep:])
        want = want[:keep] + sorted(want[keep:])
    if have != want:
        missing = [r for r in want if r not in have][:5]
        extra = [r for r in have if r not in want][:5]
        raise AssertionError(f"{got}: {len(have)} rows, expected {len(want)}; rows missing: "
                             f"{missing}; rows not expected: {extra}")


def assert_same_json(got: str | os.PathLike[str], expected: Given | object) -> None:
    """The same JSON value (key order and layout ignored); `expected` may also be the value."""
    have = json.loads(_read(got))
    want = (json.loads(_bytes(expected)) if isinstance(expected, (Path, str, bytes))
            else expected)
    if have != want:
        raise AssertionError(f"{got} holds another JSON value:\n"
                             f"{json.dumps(have, indent=1, sort_keys=True)[:2000]}\nexpected:\n"
                             f"{json.dumps(want, indent=1, sort_keys=True)[:2000]}")


TABLE_SUFFIXES = (".csv", ".tsv", ".tab")


def assert_same_output(got: str | os.PathLike[str], expected: str | os.PathLike[str]) -> None:
    """Compare two files as their kind asks: JSON by value, tables by rows, text ignoring
    trailing whitespace, anything else byte for byte."""
    name = str(expected).lower()
    want = Path(expected)
    if want.is_dir():
        _assert_same_tree(Path(got), want)
    elif name.endswith(".json"):
        assert_same_json(got, want)
    elif name.endswith(TABLE_SUFFIXES):
        assert_same_table(got, want)
    elif _is_text(want.read_bytes()):
        assert_same_text(got, want)
    else:
        assert_same_bytes(got, want)


def _assert_same_tree(got: Path, want: Path) -> None:
    """Two folders holding the same files, each compared as assert_same_output does."""
    def files(root: Path) -> list[str]:
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

    have, expected = (files(got) if got.is_dir() else []), files(want)
    if have != expected:
        raise AssertionError(f"{got} holds other files: missing {sorted(set(expected) - set(have))}, "
                             f"not expected {sorted(set(have) - set(expected))}")
    for rel in expected:
        assert_same_output(got / rel, want / rel)


def _is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
