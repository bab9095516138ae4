"""Property: any mutation of a valid Flowfile loads into a Workflow or fails with a FileflowError
whose rendering starts `path:line:col: error:` and shows the line -- never another exception.

Seeds: examples/quickstart/Flowfile (when present) and the valid Flowfiles under
tests/flowfiles/valid/. Mutations are character and line edits that mimic real typos.
FILEFLOW_FUZZ_EXAMPLES raises the number of examples for a longer local hunt.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fileflow.errors import FileflowError, FlowfileError, FlowfileErrors
from fileflow.lang.loader import load_workflow
from fileflow.lang.model import Workflow

ROOT = Path(__file__).resolve().parent.parent
VALID = Path(__file__).resolve().parent / "flowfiles" / "valid"


def _seeds() -> list[Path]:
    seeds = sorted(VALID.rglob("Flowfile")) + sorted(VALID.rglob("*.flow"))
    quickstart = ROOT / "examples" / "quickstart" / "Flowfile"
    if quickstart.is_file():
        seeds.insert(0, quickstart)
    return seeds


SEEDS = _seeds()
SEED_TEXT = {p: p.read_text(encoding="utf-8") for p in SEEDS}

# Characters and snippets that typos and half-edits typically leave behind.
CHARS = list("\"'()[]{}:,=+-*/%<>!.#\\\t \n") + ["a", "0", "_", "é", "\r", "\f"]
SNIPPETS = ["rule ", "rule x:", '"""', "'''", "if ", " else ", "not ", " in ", "and ", "{x}",
            "{x,[a-z]+}", "wildcards.", "config.", "expand(", "temp(", "input:", "output:",
            "shell:", "run:", "    ", "\t", "\n    ", "r\"", "\\x", "\\N{", "{{", "}}", "1e999",
            "9" * 30, "[" * 40, "-" * 40, "include: \"Flowfile\"", "configfile: \"nope.yaml\""]

FLOWFILE_POSITION = re.compile(r"^(?P<path>[^\n]+?):(?P<line>\d+):(?P<col>\d+): error: \S")


@st.composite
def mutation(draw, text: str) -> str:
    kind = draw(st.sampled_from(["delete", "insert", "replace", "snippet", "drop_line",
                                 "duplicate_line", "indent", "dedent", "tabify", "swap_lines"]))
    lines = text.split("\n")
    if kind in ("drop_line", "duplicate_line", "indent", "dedent", "tabify", "swap_lines"):
        i = draw(st.integers(0, len(lines) - 1))
        line = lines[i]
        if kind == "drop_line":
            del lines[i]
        elif kind == "duplicate_line":
            lines.insert(i, line)
        elif kind == "indent":
            lines[i] = draw(st.sampled_from(["  ", "    ", "\t", "        "])) + line
        elif kind == "dedent":
            lines[i] = line[draw(st.integers(1, 4)):] if line[:1].isspace() else line
        elif kind == "tabify":
            lines[i] = re.sub(r"^( {4})", "\t", line)
        else:
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        return "\n".join(lines)
    i = draw(st.integers(0, len(text)))
    if kind == "delete":
        n = draw(st.integers(1, 3))
        return text[:i] + text[i + n:]
    if kind == "insert":
        return text[:i] + draw(st.sampled_from(CHARS)) + text[i:]
    if kind == "replace":
        return text[:i] + draw(st.sampled_from(CHARS)) + text[i + 1:]
    return text[:i] + draw(st.sampled_from(SNIPPETS)) + text[i:]


@st.composite
def mutated_flowfile(draw) -> tuple[Path, str]:
    path = draw(st.sampled_from(SEEDS))
    text = SEED_TEXT[path]
    for _ in range(draw(st.integers(1, 4))):
        text = draw(mutation(text))
    return path, text


def _check_rendering(err: FileflowError, path: Path, text: str) -> None:
    errors = err.errors if isinstance(err, FlowfileErrors) else [err]
    assert errors, "an empty FlowfileErrors"
    for one in errors:
        assert isinstance(one, FlowfileError), f"{type(one).__name__} has no position: {one}"
        rendered = one.render()
        m = FLOWFILE_POSITION.match(rendered)
        assert m, f"no 'path:line:col: error:' in:\n{rendered}"
        assert one.pos is not None and one.pos.line >= 1 and one.pos.column >= 1, rendered
        if one.pos.path == str(path):
            # An error in the mutated file points into it, and shows the line with a caret.
            assert one.pos.line <= text.count("\n") + 2, rendered
            assert "^" in rendered, f"no caret in:\n{rendered}"
        assert "Traceback" not in rendered


def load_mutated(path: Path, text: str) -> None:
    try:
        workflow = load_workflow(str(path), text=text, workdir=str(path.parent))
    except FileflowError as err:
        _check_rendering(err, path, text)
    else:
        assert isinstance(workflow, Workflow)


def test_seeds_are_valid():
    assert SEEDS, "no seed Flowfiles found"
    for path in SEEDS:
        if path.suffix == ".flow":
            continue  # fragments; they are loaded through their includer
        assert isinstance(load_workflow(str(path), workdir=str(path.parent)), Workflow)


@settings(max_examples=int(os.environ.get("FILEFLOW_FUZZ_EXAMPLES", "300")), deadline=None,
          database=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_flowfile())
def test_mutations_give_a_workflow_or_a_clean_error(case):
    path, text = case
    load_mutated(path, text)


def test_known_crashers_are_clean_errors():
    """Inputs that once crashed the loader, kept as plain regression cases."""
    path = VALID / "full" / "Flowfile"
    for text in [
        'X = "\\x4"\n',                              # truncated escape
        'X = "\\N{no such name}"\n',                 # unknown unicode name
        "X = " + "9" * 5000 + "\n",                  # more digits than int() converts
        "X = " + "-" * 3000 + "1\n",                 # deep unary chain
        "X = " + "not " * 3000 + "1\n",
        "X = " + "[" * 3000 + "]" * 3000 + "\n",     # deep brackets
        "X = " + " + ".join(["1"] * 5000) + "\n",    # long left-nested sum
        "X = len(range(100000000000))\n",            # would exhaust memory
        'X = "a" * 10000000000\n',
        'X = "{:99999999999}".format(1)\n',
        'X = "{0.__class__}".format(1)\n',          # reaches into Python objects
        "X = int(1e999)\n",
        "X = round(1e999)\n",
    ]:
        load_mutated(path, text)
        try:
            load_workflow(str(path), text=text, workdir=str(path.parent))
        except FlowfileError as err:
            assert err.pos is not None and err.pos.line == 1
        else:
            raise AssertionError(f"no error for {text[:40]!r}")
