"""What a helper module reads (fileflow/lang/file_reads.py): the files and folders the user's
Python code reads, importing and called, are recorded with the workflow's watched files;
Python's own files, files written and /proc are not. Real files, real imports."""
from __future__ import annotations

import os
import textwrap

import pytest

from fileflow.errors import Position
from fileflow.lang.file_reads import Reads, call_recording
from fileflow.lang.loader import load_workflow
from fileflow.lang.python_imports import import_module_file, imported_function
from fileflow.lang.values import Record


def write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as fh:
        fh.write(textwrap.dedent(text))


@pytest.fixture
def workflow_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write("samples.tsv", "sample\nA\nB\n")
    write("extra/one.txt", "1\n")
    write("notes.txt", "note\n")
    # A sibling module of a name no other test imports (a module is imported once per process).
    sibling = f"sibling_{os.urandom(4).hex()}"
    write(f"{sibling}.py", "MORE = ['m']\n")
    write("common.py", f"""
        import csv, glob, json, os
        from pathlib import Path
        import {sibling}

        with open("samples.tsv") as fh:
            SAMPLES = [r["sample"] for r in csv.DictReader(fh, delimiter="\\t")]
        EXTRA = sorted(os.listdir("extra")) + glob.glob("globbed/*.txt")
        with open("written.log", "w") as fh:
            fh.write("a file the helper writes is not watched")
        with open("/proc/self/status") as fh:
            fh.read()

        def samples():
            return SAMPLES + EXTRA + {sibling}.MORE

        def note(wildcards):
            return Path("notes.txt").read_text().strip() + "-" + wildcards.s
        """)
    write("Flowfile", """
        from "common.py" import samples, note
        rule all:
            input: expand("out/{s}.txt", s=samples())
        rule mk:
            output: "out/{s}.txt"
            params: note = note(wildcards)
            shell: "echo {params.note} > {output}"
        """)
    return tmp_path, sibling


def test_what_a_helper_module_reads_as_it_is_imported_is_watched(workflow_dir):
    root, sibling = workflow_dir
    workflow = load_workflow("Flowfile")
    assert workflow.read_files == ["common.py", str(root / f"{sibling}.py"), str(root / "samples.tsv")]
    assert list(workflow.listed_dirs) == [str(root / "extra"), str(root / "globbed")]


def test_what_a_helper_function_reads_when_called_is_watched(workflow_dir):
    root, _ = workflow_dir
    reads = Reads([], {})
    module = import_module_file("common.py", "common.py", Position("Flowfile", 2, 6), reads)
    note, _ = imported_function(module, "note", Position("Flowfile", 2, 30))
    before = list(reads.files)
    assert note(Record({"s": "A"}, label="wildcards")) == "note-A"
    assert reads.files == [*before, str(root / "notes.txt")]
    assert str(root / "written.log") not in reads.files


def test_reading_outside_a_recording_records_nothing(workflow_dir):
    root, _ = workflow_dir
    reads = Reads([], {})
    call_recording(reads, lambda: None)
    with open("notes.txt") as fh:
        fh.read()
    os.listdir("extra")
    assert reads.files == [] and reads.folders == {}


def test_a_file_read_twice_is_watched_once(workflow_dir):
    reads = Reads([], {})

    def twice():
        for _ in range(2):
            with open("notes.txt", "rb") as fh:
                fh.read()
            os.close(os.open("notes.txt", os.O_RDONLY))

    call_recording(reads, twice)
    assert len(reads.files) == 1


def test_a_project_below_pythons_installation_prefix_is_watched(tmp_path, monkeypatch):
    """Python in /usr/local and the project in /usr/local/app: only Python's library and the
    installed packages are left out, not everything below the prefix."""
    import sys

    from fileflow.lang import file_reads

    monkeypatch.chdir(tmp_path)
    write("samples.tsv", "sample\nA\n")
    for name in ("prefix", "base_prefix", "exec_prefix", "base_exec_prefix"):
        monkeypatch.setattr(sys, name, str(tmp_path.parent))
    file_reads.library_folders.cache_clear()
    try:
        reads = Reads([], {})
        call_recording(reads, lambda: open("samples.tsv").read())
    finally:
        file_reads.library_folders.cache_clear()
    assert reads.files == [str(tmp_path / "samples.tsv")]
