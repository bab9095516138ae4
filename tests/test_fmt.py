"""`fileflow fmt`: golden layouts, idempotence, meaning and comment preservation over every
repository Flowfile and generated ones, and the command line (--check, --diff, stdin, errors).

FILEFLOW_REGEN_GOLDEN=1 rewrites tests/flowfiles/fmt/*.out.flow from the *.in.flow files."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_fuzz_flowfile import mutated_flowfile
from test_syntax_fast import CORNERS, FLOWFILES, flowfiles

from fileflow.errors import FlowfileError
from fileflow.lang.directives import RULE_DIRECTIVE_ORDER, RULE_DIRECTIVES
from fileflow.lang.fmt import format_text
from fileflow.lang.syntax import RuleDecl, UseRule, parse_flowfile
from fileflow.lang.tokenizer import comment_offsets
from fileflow.lang.tree_meaning import comparable

GOLDEN = Path(__file__).resolve().parent / "flowfiles" / "fmt"
INPUTS = sorted(GOLDEN.glob("*.in.flow"))
ERRORS = Path(__file__).resolve().parent / "flowfiles" / "errors"
EXAMPLES = int(os.environ.get("FILEFLOW_FUZZ_EXAMPLES", "60"))


def comments(text: str) -> list[str]:
    source = text if text.endswith("\n") else text + "\n"
    return [body.rstrip() for _, body in comment_offsets(source)]


def reorders_directives(text: str) -> bool:
    """Whether fmt moves a rule's directives (and so their comments) into the docs' order."""
    for node in parse_flowfile(text).statements:
        if isinstance(node, RuleDecl | UseRule):
            keys = [RULE_DIRECTIVE_ORDER.index(d.name) if d.name in RULE_DIRECTIVE_ORDER
                    else len(RULE_DIRECTIVE_ORDER) for d in node.directives]
            if keys != sorted(keys):
                return True
    return False


def check_formatting(text: str, path: str = "Flowfile") -> str:
    """fmt's promises for one valid text; returns the formatted text."""
    formatted = format_text(text, path)
    assert format_text(formatted, path) == formatted, f"not idempotent:\n{text}\n---\n{formatted}"
    assert comparable(parse_flowfile(formatted, path)) == comparable(parse_flowfile(text, path))
    before, after = comments(text), comments(formatted)
    if reorders_directives(text):
        assert sorted(before) == sorted(after)
    else:
        assert before == after, f"comments lost or moved:\n{text}\n---\n{formatted}"
    return formatted


def test_there_are_enough_golden_files():
    assert len(INPUTS) >= 15


def test_the_layout_orders_every_rule_directive():
    assert sorted(RULE_DIRECTIVE_ORDER) == sorted(RULE_DIRECTIVES)


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.name[:-len(".in.flow")])
def test_golden(path):
    formatted = check_formatting(path.read_text(encoding="utf-8"), str(path))
    expected = path.with_name(path.name.replace(".in.flow", ".out.flow"))
    if os.environ.get("FILEFLOW_REGEN_GOLDEN"):
        expected.write_text(formatted, encoding="utf-8")
    assert formatted == expected.read_text(encoding="utf-8")
    assert check_formatting(formatted) == formatted  # a golden output is its own layout


def _valid_texts():
    for path in FLOWFILES:
        text = path.read_text(encoding="utf-8")
        try:
            parse_flowfile(text, str(path))
        except FlowfileError:
            assert ERRORS in path.parents, f"{path} does not parse"
            continue
        yield path, text


@pytest.mark.parametrize("path,text", list(_valid_texts()),
                         ids=lambda v: str(v)[-40:] if isinstance(v, Path) else "")
def test_repository_flowfiles(path, text):
    check_formatting(text, str(path))


@pytest.mark.parametrize("text", CORNERS)
def test_parser_corners(text):
    try:
        parse_flowfile(text)
    except FlowfileError:
        with pytest.raises(FlowfileError):
            format_text(text)
        return
    check_formatting(text)


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(flowfiles())
def test_generated_flowfiles(text):
    try:
        parse_flowfile(text)
    except FlowfileError:
        assume(False)  # the generator also makes invalid text, for the parsers' tests
    check_formatting(text)


def test_layout_rules():
    out = format_text("rule a:\n  shell: 'x'\n  # on input\n  input: 'i'  # in\n  output: 'o'\n"
                      "X = ['aaaaaaaaaaaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', "
                      "'cccccccccccccccccccccccccc']\n")
    assert out == ('rule a:\n    # on input\n    input: "i"  # in\n    output: "o"\n    shell: "x"\n\n'
                   'X = [\n    "aaaaaaaaaaaaaaaaaaaaaaaaa",\n    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",\n'
                   '    "cccccccccccccccccccccccccc",\n]\n')
    assert format_text("X = - -x\nY = (a + b) * -(c)\n") == "X = - -x\nY = (a + b) * -c\n"
    assert format_text("") == "" and format_text("# only\n\n\n") == "# only\n"
    # triple-quoted text is kept as written, blanks at the ends of its lines too
    assert format_text('X = """a  \n  b\t\n"""\n') == 'X = """a  \n  b\t\n"""\n'
    # joined strings keep the comments between and after their literals, in place
    joined = 'X = [\n    "a"  # ca\n    # own\n    "b",  # cb\n]\nY = (\n    "c"  # cc\n    "d"  # cd\n)\n'
    assert format_text(joined) == joined
    # brackets left open with a trailing comma stay open; on one line they close
    assert format_text("X = [1,\n  2,\n  ]\nY = f(a,\n b)\nZ = [1, 2,]\n") == \
        "X = [\n    1,\n    2,\n]\nY = f(a, b)\nZ = [1, 2]\n"
    # the block form keeps one entry per line; a single entry joins the name's line
    assert format_text("localrules:\n    a\ninclude:\n  'x', 'y'\n") == \
        'localrules: a\ninclude:\n    "x",\n    "y",\n'


# ---------------------------------------------------------------- the command line

def fmt(*args, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fileflow", "fmt", *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, timeout=60)


MESSY = "x=1\nrule a:\n  shell: 'touch {output}'  # act\n  output: 'a.txt'\n"
TIDY = 'x = 1\n\nrule a:\n    output: "a.txt"\n    shell: "touch {output}"  # act\n'


def test_cli_refuses_a_device_or_a_folder_without_reading_it(tmp_path):
    (tmp_path / "folder").mkdir()
    done = fmt("/dev/zero", "folder", "--check", cwd=tmp_path)
    assert done.returncode == 2, done
    assert done.stderr.splitlines() == [
        "fileflow fmt: cannot read /dev/zero: it is a character device, not a regular file",
        "fileflow fmt: cannot read folder: it is a directory, not a regular file"]


def test_cli_formats_in_place_and_check_passes_after(tmp_path):
    flowfile = tmp_path / "Flowfile"
    flowfile.write_text(MESSY)
    assert fmt("--check", cwd=tmp_path).returncode == 1  # the default Flowfile
    assert flowfile.read_text() == MESSY  # --check changes nothing
    done = fmt(cwd=tmp_path)
    assert done.returncode == 0 and "reformatted Flowfile" in done.stderr
    assert flowfile.read_text() == TIDY
    assert [p.name for p in tmp_path.iterdir()] == ["Flowfile"]  # no temporary left
    mtime = flowfile.stat().st_mtime_ns
    again = fmt("Flowfile", cwd=tmp_path)
    assert again.returncode == 0 and again.stderr == "" and flowfile.stat().st_mtime_ns == mtime
    assert fmt("--check", "Flowfile", cwd=tmp_path).returncode == 0


def test_cli_check_names_the_files_that_would_change(tmp_path):
    (tmp_path / "tidy.flow").write_text(TIDY)
    (tmp_path / "messy.flow").write_text(MESSY)
    result = fmt("--check", "tidy.flow", "messy.flow", cwd=tmp_path)
    assert result.returncode == 1
    assert "would reformat messy.flow" in result.stderr and "tidy.flow" not in result.stderr
    assert (tmp_path / "messy.flow").read_text() == MESSY


def test_cli_shows_a_file_name_with_an_escape_sequence_escaped(tmp_path):
    name = "messy\x1b[2J.flow"   # ESC [2J would clear the terminal
    (tmp_path / name).write_text(MESSY)
    result = fmt("--check", name, cwd=tmp_path)
    assert result.returncode == 1
    assert "\x1b" not in result.stderr
    assert "would reformat messy\\x1b[2J.flow" in result.stderr
    done = fmt(name, cwd=tmp_path)
    assert "\x1b" not in done.stderr and "reformatted messy\\x1b[2J.flow" in done.stderr


def test_cli_diff(tmp_path):
    (tmp_path / "Flowfile").write_text(MESSY)
    result = fmt("--diff", "Flowfile", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("--- Flowfile (original)\n+++ Flowfile (formatted)\n@@")
    assert "-x=1\n+x = 1\n" in result.stdout and '+    output: "a.txt"\n' in result.stdout
    assert (tmp_path / "Flowfile").read_text() == MESSY
    assert fmt("--diff", "--check", "Flowfile", cwd=tmp_path).returncode == 1


def test_cli_stdin_to_stdout(tmp_path):
    result = fmt("-", cwd=tmp_path, stdin=MESSY)
    assert result.returncode == 0 and result.stdout == TIDY
    assert list(tmp_path.iterdir()) == []
    assert fmt("--check", "-", cwd=tmp_path, stdin=TIDY).returncode == 0
    assert fmt("--check", "-", cwd=tmp_path, stdin=MESSY).returncode == 1


def test_cli_syntax_error_leaves_the_file_untouched(tmp_path):
    broken = "x = 1\nrule a\n    output: 'a'\n"
    (tmp_path / "bad.flow").write_text(broken)
    (tmp_path / "good.flow").write_text(MESSY)
    result = fmt("bad.flow", "good.flow", cwd=tmp_path)
    assert result.returncode == 2
    assert "bad.flow:2:7: error: expected ':' after the rule name 'a'" in result.stderr
    assert (tmp_path / "bad.flow").read_text() == broken
    assert (tmp_path / "good.flow").read_text() == TIDY  # the other files are still done
    assert fmt("missing.flow", cwd=tmp_path).returncode == 2


def test_cli_without_files_formats_and_checks_the_included_files_too(tmp_path, monkeypatch, capsys):
    from fileflow.cli.main import main

    (tmp_path / "rules" / "common").mkdir(parents=True)
    (tmp_path / "Flowfile").write_text('include: "rules/a.flow"\ninclude: "rules/a.flow"\n' + TIDY)
    (tmp_path / "rules" / "a.flow").write_text('include: "common/b.flow"\n' + MESSY.replace("a", "b"))
    (tmp_path / "rules" / "common" / "b.flow").write_text(MESSY.replace("a", "c"))
    monkeypatch.chdir(tmp_path)
    assert main(["fmt", "--check"]) == 1
    err = capsys.readouterr().err
    assert err == "would reformat rules/a.flow\nwould reformat rules/common/b.flow\n"
    assert main(["fmt"]) == 0
    assert capsys.readouterr().err == "reformatted rules/a.flow\nreformatted rules/common/b.flow\n"
    assert (tmp_path / "rules" / "common" / "b.flow").read_text() == TIDY.replace("a", "c")
    assert main(["fmt", "--check"]) == 0


# ---------------------------------------------------------------- comments put anywhere

SEEDS = [p.read_text(encoding="utf-8") for p in INPUTS] + [t for _, t in _valid_texts()]


@st.composite
def commented_flowfiles(draw) -> str:
    """A valid Flowfile with comments added at the ends of lines and on lines of their own,
    at any indentation (kept only where they are comments and the text still parses)."""
    lines = draw(st.sampled_from(SEEDS)).split("\n")
    for n in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(lines) - 1))
        if draw(st.booleans()):
            lines[at] += draw(st.sampled_from(["  ", " ", ""])) + f"# end {n}"
        else:
            lines.insert(at, draw(st.sampled_from(["", "  ", "    ", "        "])) + f"# own {n}")
    return "\n".join(lines)


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(commented_flowfiles())
def test_comments_anywhere(text):
    try:
        parse_flowfile(text)
    except FlowfileError:
        assume(False)
    check_formatting(text)


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_flowfile())
def test_typo_mutations_that_still_parse(case):
    """The fuzz tests' typo-like edits of the valid Flowfiles: those that still parse give
    odd but valid text (stray operators, split lines, odd indentation)."""
    path, text = case
    try:
        parse_flowfile(text, str(path))
    except FlowfileError:
        assume(False)
    check_formatting(text, str(path))


def test_a_formatter_bug_that_changes_meaning_is_refused_before_writing(monkeypatch, tmp_path):
    """The meaning check guards every rewrite; --check and --diff write nothing and skip it."""
    import fileflow.lang.fmt as format_module_
    from fileflow.cli.fmt_files import format_paths

    text = 'rule a:\n  output: "a.txt"\n  shell: "touch {output}"\n'
    real = format_module_.format_module
    monkeypatch.setattr(format_module_, "format_module",
                        lambda module: real(module).replace('"a.txt"', '"b.txt"'))
    from fileflow.errors import FileflowError

    with pytest.raises(FileflowError, match="change the file.s meaning"):
        format_text(text, "Flowfile")
    assert '"b.txt"' in format_text(text, "Flowfile", verify=False)
    path = tmp_path / "Flowfile"
    path.write_text(text)
    assert format_paths([str(path)]) == 2
    assert path.read_text() == text  # left as it was
    assert format_paths([str(path)], check=True) == 1


def test_a_checkpoint_keeps_its_keyword():
    text = "checkpoint   split :\n  output: directory('c/{s}')\n  shell: 'x'\n"
    assert format_text(text) == ('checkpoint split:\n    output: directory("c/{s}")\n'
                                 '    shell: "x"\n')
    # a rule and a checkpoint of one body differ: fmt never turns one into the other
    rule = parse_flowfile("rule split:\n    output: 'x'\n")
    checkpoint = parse_flowfile("checkpoint split:\n    output: 'x'\n")
    assert comparable(rule) != comparable(checkpoint)
