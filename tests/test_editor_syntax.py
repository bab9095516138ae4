"""The editor grammars in editors/, checked by the real engines that use them.

- The TextMate grammar (editors/vscode/syntaxes/flowfile.tmLanguage.json) is run through
  vscode-textmate + vscode-oniguruma, VS Code's own tokenizer (tests/textmate/tokenize.js;
  .ci/textmate-up.sh installs the npm packages), over a sample and over every Flowfile in
  the repository. Where strings, comments and numbers are, it must agree with fileflow's
  own tokenizer (fileflow.lang.tokenizer).
- The Vim syntax file (editors/vim/) is loaded by a real vim, which is asked for the
  syntax group at chosen positions (synID).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import need_service

from fileflow.cli.build_args import FLOWFILE_NAMES
from fileflow.lang import tokenizer

REPO = Path(__file__).resolve().parent.parent
VSCODE = REPO / "editors" / "vscode"
GRAMMAR = VSCODE / "syntaxes" / "flowfile.tmLanguage.json"
VIM_RUNTIME = REPO / "editors" / "vim"
TOKENIZE_JS = REPO / "tests" / "textmate" / "tokenize.js"
DEFAULT_NODE_PATH = "/opt/fileflow-textmate/node_modules"  # where .ci/textmate-up.sh installs

# A Flowfile with every construct the grammars know. Not meant to pass `fileflow check`.
SAMPLE = r'''# Sample Flowfile for the editor grammars. TODO: keep in step with docs/language.md
configfile: "config.yaml"
include: 'rules/common.flow'

SAMPLES = sorted(config.get("samples", ["a", "b"]))
SIZES = [1_000, .5, 1e3, 2.5E-3, 42]
FLAGS = [true, False, none, None] if len(SAMPLES) >= 2 else []
PICKED = "a" not in SAMPLES and env("HOME", "/tmp") != ""

wildcard_constraints: sample = "[a-z]+"
localrules: all, merge
ruleorder: merge > copy
default: expand("out/{sample}.txt", sample=SAMPLES)

rule all:
    input: glob_wildcards("data/{name}.txt").name

rule merge:
    input: reads = "data/{sample}.fq", ref = ancient("ref.fa")
    output: temp("out/{sample}.txt"), protected(directory("keep/{sample}"))
    log: "logs/{sample}.log"
    params: depth = 2 * 3 // 4 % 5, label = r"\d{3}"
    threads: 4
    resources: mem_mb = 1000 * attempt
    retries: 1
    priority: -2
    message: "merging {wildcards.sample}\t{input.reads}"
    wildcard_constraints: sample = "[a-z]+"
    shell: r"""
        awk '{{print $1}}' {input[0]} > {output[0]}  # not a comment
        split {input.ref:q} {output[1]}
        """

rule copy:
    output: r"lanes/{lane,L\d{3}}.txt"
    script: "scripts/copy.py"

storage: s3 = {"region": "eu-west-1"}
REFS = [f"ref/{s}/{{sample}}.fa" for s in SAMPLES if s] + [rf'\d{x}' for x in zip(SIZES)]
SHEET = table("samples.tsv", key="sample")
META = load("meta.yaml")
configschema: "schemas/config.schema.yaml"
from "workflow/common.py" import get_fastq, groups  # Python functions
X = unpack(get_fastq(wildcards))

rule align:
    conda: "envs/align.yaml"
    envmodules: "bwa/0.7.17", "samtools/1.19"
onsuccess: shell="mail -s done me < {log}"

rule index:
    output: multiext("ref/g", ".amb"), touch("flags/done"), ensure("x", non_empty=true)
    benchmark: repeat("bench/index.tsv", 3)
    shell: "bwa index ref/g"

module qc:
    flowfile: "modules/qc/Flowfile"

use rule * from qc as qc_*
use rule copy as copy2 with:
    output: "out2/{sample}.txt"
    group: "per_{sample}"
'''

# (line, text, TextMate scope every character of the text has, Vim syntax group at each
# of its columns or None). The text is looked up on that line, first occurrence.
EXPECTED = [
    (56, "module", "keyword.control.rule", "flowfileRuleKeyword"),
    (56, "qc", "entity.name.namespace.module", "flowfileRuleName"),
    (57, "flowfile", "keyword.other.directive", "flowfileDirective"),
    (59, "use", "keyword.control.rule", "flowfileRuleKeyword"),
    (59, "from", "keyword.control.rule", "flowfileRuleKeyword"),
    (59, "qc_*", "entity.name.function.rule", None),
    (60, "rule", "keyword.control.rule", "flowfileRuleKeyword"),
    (60, "copy2", "entity.name.function.rule", None),
    (60, " as ", "meta.rule", None),
    (60, "with", "keyword.control.rule", "flowfileRuleKeyword"),
    (61, "output", "keyword.other.directive", "flowfileDirective"),
    (61, "{sample}", "meta.placeholder", "flowfilePlaceholder"),
    (62, "group", "keyword.other.directive", "flowfileDirective"),
    (49, "onsuccess", "keyword.control.directive", "flowfileTopDirective"),
    (52, "multiext", "support.function.builtin", "flowfileBuiltin"),
    (52, "touch", "support.function.builtin", "flowfileBuiltin"),
    (52, "ensure", "support.function.builtin", "flowfileBuiltin"),
    (53, "benchmark", "keyword.other.directive", "flowfileDirective"),
    (53, "repeat", "support.function.builtin", "flowfileBuiltin"),
    (1, "#", "comment.line.number-sign", "flowfileComment"),
    (1, "TODO", "comment.line.number-sign", "flowfileTodo"),
    (2, "configfile", "keyword.control.directive", "flowfileTopDirective"),
    (2, '"config.yaml"', "string.quoted.double", "flowfileString"),
    (3, "include", "keyword.control.directive", "flowfileTopDirective"),
    (3, "'rules/common.flow'", "string.quoted.single", "flowfileString"),
    (5, "SAMPLES", "variable.other.assignment", "flowfileAssignment"),
    (5, "sorted", "support.function.builtin", "flowfileBuiltin"),
    (5, "config", "variable.language", "flowfileSpecialVar"),
    (5, "get", "support.function.method", None),
    (6, "1_000", "constant.numeric.integer", "flowfileNumber"),
    (6, ".5", "constant.numeric.float", "flowfileNumber"),
    (6, "1e3", "constant.numeric.float", "flowfileNumber"),
    (6, "2.5E-3", "constant.numeric.float", "flowfileNumber"),
    (6, "42", "constant.numeric.integer", "flowfileNumber"),
    (7, "true", "constant.language", "flowfileConstant"),
    (7, "False", "constant.language", "flowfileConstant"),
    (7, "none", "constant.language", "flowfileConstant"),
    (7, "None", "constant.language", "flowfileConstant"),
    (7, "if", "keyword.control.conditional", "flowfileKeyword"),
    (7, "else", "keyword.control.conditional", "flowfileKeyword"),
    (7, "len", "support.function.builtin", "flowfileBuiltin"),
    (7, ">=", "keyword.operator.comparison", "flowfileOperator"),
    (8, "not", "keyword.operator.logical", "flowfileKeyword"),
    (8, "in", "keyword.operator.logical", "flowfileKeyword"),
    (8, "and", "keyword.operator.logical", "flowfileKeyword"),
    (8, "env", "support.function.builtin", "flowfileBuiltin"),
    (8, "!=", "keyword.operator.comparison", "flowfileOperator"),
    (10, "wildcard_constraints", "keyword.control.directive", "flowfileTopDirective"),
    (10, "sample", "variable.parameter", None),
    (11, "localrules", "keyword.control.directive", "flowfileTopDirective"),
    (11, "merge", "entity.name.function.rule", "flowfileRuleRef"),
    (12, "ruleorder", "keyword.control.directive", "flowfileTopDirective"),
    (12, ">", "keyword.operator.ruleorder", "flowfileOperator"),
    (12, "copy", "entity.name.function.rule", "flowfileRuleRef"),
    (13, "default", "keyword.control.directive", "flowfileTopDirective"),
    (13, "expand", "support.function.builtin", "flowfileBuiltin"),
    (13, "{sample}", "meta.placeholder", "flowfilePlaceholder"),
    (13, "sample", "variable.other.placeholder", "flowfilePlaceholder"),
    (15, "rule", "keyword.control.rule", "flowfileRuleKeyword"),
    (15, "all", "entity.name.function.rule", "flowfileRuleName"),
    (16, "input", "keyword.other.directive", "flowfileDirective"),
    (16, "glob_wildcards", "support.function.builtin", "flowfileBuiltin"),
    (18, "merge", "entity.name.function.rule", "flowfileRuleName"),
    (19, "reads", "variable.parameter", None),
    (19, "ancient", "support.function.builtin", "flowfileBuiltin"),
    (20, "output", "keyword.other.directive", "flowfileDirective"),
    (20, "temp", "support.function.builtin", "flowfileBuiltin"),
    (20, "protected", "support.function.builtin", "flowfileBuiltin"),
    (20, "directory", "support.function.builtin", "flowfileBuiltin"),
    (21, "log", "keyword.other.directive", "flowfileDirective"),
    (22, "params", "keyword.other.directive", "flowfileDirective"),
    (22, "//", "keyword.operator.arithmetic", "flowfileOperator"),
    (22, "%", "keyword.operator.arithmetic", "flowfileOperator"),
    (22, r"\d{3}", "string.quoted.double.raw", "flowfileRawString"),  # raw: no escape, no field
    (23, "threads", "keyword.other.directive", "flowfileDirective"),
    (23, "4", "constant.numeric.integer", "flowfileNumber"),
    (24, "resources", "keyword.other.directive", "flowfileDirective"),
    (24, "*", "keyword.operator.arithmetic", "flowfileOperator"),
    (24, "attempt", "variable.language", "flowfileSpecialVar"),
    (25, "retries", "keyword.other.directive", "flowfileDirective"),
    (26, "priority", "keyword.other.directive", "flowfileDirective"),
    (26, "-", "keyword.operator.arithmetic", "flowfileOperator"),
    (27, "message", "keyword.other.directive", "flowfileDirective"),
    (27, "{wildcards.sample}", "meta.placeholder", "flowfilePlaceholder"),
    (27, ".sample", "variable.other.member", "flowfilePlaceholder"),
    (27, r"\t", "constant.character.escape", "flowfileEscape"),
    (27, "{input.reads}", "meta.placeholder", "flowfilePlaceholder"),
    (28, "wildcard_constraints", "keyword.other.directive", "flowfileDirective"),
    (29, "shell", "keyword.other.directive", "flowfileDirective"),
    (29, 'r"""', "string.quoted.triple.raw", "flowfileTripleString"),
    (30, "awk", "string.quoted.triple.raw", "flowfileTripleString"),
    (30, "{{", "constant.character.escape.brace", "flowfileBraceEscape"),
    (30, "print $1", "string.quoted.triple.raw", "flowfileTripleString"),
    (30, "}}", "constant.character.escape.brace", "flowfileBraceEscape"),
    (30, "{input[0]}", "meta.placeholder", "flowfilePlaceholder"),
    (30, "# not a comment", "string.quoted.triple.raw", "flowfileTripleString"),
    (31, "{input.ref:q}", "meta.placeholder", "flowfilePlaceholder"),
    (31, "q", "storage.modifier.format-spec", "flowfilePlaceholder"),
    (32, '"""', "string.quoted.triple.raw", "flowfileTripleString"),
    (35, r"{lane,L\d{3}}", "meta.placeholder", "flowfilePlaceholder"),
    (35, r"L\d{3}", "string.regexp", "flowfilePlaceholder"),
    (36, "script", "keyword.other.directive", "flowfileDirective"),
    (38, "storage", "keyword.control.directive", "flowfileTopDirective"),
    (38, "s3", "variable.parameter", None),
    (38, '"region"', "string.quoted.double", "flowfileString"),
    (39, 'f"ref/', "string.quoted.double", "flowfileString"),
    (39, "{{", "constant.character.escape.brace", "flowfileBraceEscape"),
    (39, "for", "keyword.control", "flowfileKeyword"),
    (39, "rf'", "string.quoted.single.raw", "flowfileRawString"),
    (39, "zip", "support.function.builtin", "flowfileBuiltin"),
    (40, "table", "support.function.builtin", "flowfileBuiltin"),
    (41, "load", "support.function.builtin", "flowfileBuiltin"),
    (42, "configschema", "keyword.control.directive", "flowfileTopDirective"),
    (43, "from", "keyword.control.import", "flowfileImportKeyword"),
    (43, '"workflow/common.py"', "string.quoted.double", "flowfileString"),
    (43, "import", "keyword.control.import", "flowfileImportKeyword"),
    (43, "get_fastq", "entity.name.function.imported", "flowfileImportedName"),
    (43, "groups", "entity.name.function.imported", "flowfileImportedName"),
    (43, "# Python", "comment.line.number-sign", "flowfileComment"),
    (44, "unpack", "support.function.builtin", "flowfileBuiltin"),
    (47, "conda", "keyword.other.directive", "flowfileDirective"),
    (47, '"envs/align.yaml"', "string.quoted.double", "flowfileString"),
    (48, "envmodules", "keyword.other.directive", "flowfileDirective"),
]


def _column(line: str, text: str, number: int) -> int:
    """0-based column of `text` on `line` (line `number` of SAMPLE)."""
    column = line.find(text)
    assert column >= 0, f"sample line {number} has no {text!r}: {line!r}"
    return column


def _has_scope(scopes: list[str], wanted: str) -> bool:
    return any(s == wanted or s.startswith(wanted + ".") for s in scopes)


# ---------------------------------------------------------------- TextMate (VS Code)

def _node_path() -> str:
    return os.environ.get("FILEFLOW_TEXTMATE_NODE_PATH", DEFAULT_NODE_PATH)


def _textmate_available() -> bool:
    path = Path(_node_path())
    return bool(shutil.which("node")) and all(
        (path / package / "package.json").is_file() for package in ("vscode-textmate", "vscode-oniguruma"))


def _tokenize(paths: list[Path]) -> dict[str, list[list[dict]]]:
    """Per file, per line: the grammar's tokens ({"text", "scopes"}), from one node process."""
    need_service(_textmate_available(),
                 f"node with vscode-textmate and vscode-oniguruma in {_node_path()} (.ci/textmate-up.sh)")
    done = subprocess.run(["node", str(TOKENIZE_JS), str(GRAMMAR), *map(str, paths)],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NODE_PATH": _node_path()})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _scopes_by_char(lines: list[list[dict]]) -> list[list[list[str]]]:
    """For each line, the scope stack of each character."""
    return [[token["scopes"] for token in tokens for _ in token["text"]] for tokens in lines]


def _repo_flowfiles() -> list[Path]:
    found = [REPO / "examples" / d / name for d in os.listdir(REPO / "examples")
             for name in ("Flowfile",) if (REPO / "examples" / d / name).is_file()]
    for path in sorted((REPO / "tests" / "flowfiles").rglob("*")):
        if path.is_file() and (path.name == "Flowfile" or path.suffix == ".flow"):
            found.append(path)
    return found


def _is_valid(path: Path) -> bool:
    return "errors" not in path.relative_to(REPO).parts


@pytest.fixture(scope="module")
def sample_tokens(tmp_path_factory) -> list[list[dict]]:
    path = tmp_path_factory.mktemp("textmate") / "Flowfile"
    path.write_text(SAMPLE)
    return _tokenize([path])[str(path)]


@pytest.fixture(scope="module")
def repo_tokens() -> dict[Path, list[list[dict]]]:
    paths = _repo_flowfiles()
    tokens = _tokenize(paths)
    return {path: tokens[str(path)] for path in paths}


@pytest.mark.parametrize("number, text, scope, vim_group", EXPECTED,
                         ids=[f"{n}:{t}" for n, t, _, _ in EXPECTED])
def test_textmate_scopes_of_key_tokens(sample_tokens, number, text, scope, vim_group):
    line = SAMPLE.splitlines()[number - 1]
    column = _column(line, text, number)
    chars = _scopes_by_char(sample_tokens)[number - 1]
    assert len(chars) == len(line)
    for offset in range(column, column + len(text)):
        assert _has_scope(chars[offset], scope), (
            f"line {number} {line[offset]!r} at {offset + 1} in {text!r}: {chars[offset]}, want {scope}")


def test_textmate_raw_string_has_no_escapes_and_plain_names_no_scope(sample_tokens):
    chars = _scopes_by_char(sample_tokens)
    line22 = SAMPLE.splitlines()[21]
    backslash = line22.index("\\")
    assert not _has_scope(chars[21][backslash], "constant.character.escape")
    assert not _has_scope(chars[21][backslash + 2], "meta.placeholder")  # {3} is a regex count
    line5 = SAMPLE.splitlines()[4]
    # SAMPLES read (not assigned) on line 7: no assignment scope; inside the rule: meta.rule.
    line7 = SAMPLE.splitlines()[6]
    assert not _has_scope(chars[6][line7.index("SAMPLES")], "variable.other.assignment")
    assert not _has_scope(chars[4][line5.index("samples")], "support.function.builtin")
    assert _has_scope(chars[18][4], "meta.rule")
    assert not _has_scope(chars[12][0], "meta.rule")


def test_textmate_rule_block_ends_at_next_top_level_statement(tmp_path):
    path = tmp_path / "blocks.flow"
    path.write_text('rule a:\n# a comment in column 1 does not end the rule\n    output: "x"\n'
                    'B = 1\n    output: "y"\n')
    chars = _scopes_by_char(_tokenize([path])[str(path)])
    assert _has_scope(chars[2][4], "keyword.other.directive")
    assert _has_scope(chars[2][4], "meta.rule")
    assert _has_scope(chars[3][0], "variable.other.assignment")
    assert not _has_scope(chars[3][0], "meta.rule")
    # After the rule, `output:` is not a directive any more (an error fileflow check reports).
    assert not _has_scope(chars[4][4], "keyword.other.directive")


def test_textmate_unclosed_string_stops_at_the_end_of_its_line(tmp_path):
    path = tmp_path / "unclosed.flow"
    path.write_text('A = "no end\nB = 2\nC = """spans\n  "lines" {x}\n"""\nD = 3\n')
    lines = _tokenize([path])[str(path)]
    chars = _scopes_by_char(lines)
    assert _has_scope(chars[0][6], "string.quoted.double")
    assert not any(_has_scope(s, "string") for s in chars[1])
    assert _has_scope(chars[1][4], "constant.numeric.integer")
    assert all(_has_scope(s, "string.quoted.triple") for s in chars[3])
    assert _has_scope(chars[3][len('  "lines" ')], "meta.placeholder")
    assert _has_scope(chars[5][0], "variable.other.assignment")
    assert _has_scope(chars[5][4], "constant.numeric.integer")


def test_textmate_tokenizes_every_repository_flowfile(repo_tokens):
    paths = list(repo_tokens)
    assert any(p.name == "Flowfile" and "examples" in p.parts for p in paths)
    assert sum(_is_valid(p) for p in paths) >= 20 and sum(not _is_valid(p) for p in paths) >= 10
    for path, lines in repo_tokens.items():
        text_lines = path.read_text(encoding="utf-8-sig").splitlines()
        assert len(lines) >= len(text_lines), path
        for number, (tokens, text) in enumerate(zip(lines, text_lines), 1):
            assert "".join(t["text"] for t in tokens) == text, f"{path}:{number}"
            if _is_valid(path):
                for token in tokens:
                    assert not any("invalid" in s for s in token["scopes"]), (
                        f"{path}:{number}: {token['text']!r} is {token['scopes']}")


def _flowfile_tokens(text: str):
    """fileflow's own tokens ("S" strings, "D" numbers, ...) with combined ones unpacked."""
    for token in tokenizer.tokenize(text if text.endswith("\n") else text + "\n"):
        if token[0] == "C":  # ("C", sep, line, name column, name, value kind, value, value column)
            _, _, line, name_column, name, kind, value, value_column = token
            yield ("N", name, line, name_column)
            yield (kind, value, line, value_column)
        else:
            yield token


def _spans(text: str, line: int, column: int) -> list[tuple[int, int]]:
    """(line index, column index) of each character of a token that starts at line:column
    (1-based), newlines left out."""
    spans = []
    row, col = line - 1, column - 1
    for char in text:
        if char == "\n":
            row, col = row + 1, 0
        else:
            spans.append((row, col))
            col += 1
    return spans


def test_textmate_agrees_with_fileflow_tokenizer_on_strings_comments_numbers(repo_tokens):
    """On every valid Flowfile of the repository: the characters the grammar scopes as
    string, comment and number are exactly those of fileflow's own string, comment and
    number tokens."""
    checked = 0
    for path, lines in repo_tokens.items():
        if not _is_valid(path):
            continue
        text = path.read_text(encoding="utf-8-sig")
        try:
            tokens = list(_flowfile_tokens(text))
        except tokenizer.TokenizerStop:  # mixed tabs and spaces: left to Lark
            continue
        want = {"string": set(), "comment": set(), "constant.numeric": set()}
        for kind, token_text, line, column in (t for t in tokens if t[0] in ("S", "F", "D")):
            want["constant.numeric" if kind == "D" else "string"].update(
                _spans(token_text, line, column))
        starts = [0]
        for text_line in text.splitlines(keepends=True):
            starts.append(starts[-1] + len(text_line))
        for offset, comment in tokenizer.comment_offsets(text):
            row = max(i for i, s in enumerate(starts) if s <= offset)
            want["comment"].update((row, offset - starts[row] + i) for i in range(len(comment)))
        chars = _scopes_by_char(lines)
        for scope, positions in want.items():
            got = {(row, col) for row, line_chars in enumerate(chars)
                   for col, scopes in enumerate(line_chars) if _has_scope(scopes, scope)}
            assert got == positions, (
                f"{path}: {scope}: grammar only at {sorted(got - positions)[:5]}, "
                f"fileflow only at {sorted(positions - got)[:5]}")
        checked += 1
    assert checked >= 20


# ---------------------------------------------------------------- VS Code extension files

def test_vscode_manifest_and_language_configuration():
    manifest = json.loads((VSCODE / "package.json").read_text())
    (language,) = manifest["contributes"]["languages"]
    assert language["id"] == "flowfile"
    assert {os.path.basename(name) for name in FLOWFILE_NAMES} <= set(language["filenames"])
    assert ".flow" in language["extensions"]
    (grammar_entry,) = manifest["contributes"]["grammars"]
    assert grammar_entry["language"] == "flowfile"
    grammar = json.loads((VSCODE / grammar_entry["path"]).read_text())
    assert grammar_entry["scopeName"] == grammar["scopeName"] == "source.flowfile"
    assert (VSCODE / manifest["main"]).is_file()

    config = json.loads((VSCODE / language["configuration"]).read_text())
    assert config["comments"]["lineComment"] == "#"
    pairs = {pair["open"]: pair["close"] for pair in config["autoClosingPairs"]}
    assert pairs['"""'] == '"""' and pairs["'''"] == "'''" and pairs['"'] == '"' and pairs["'"] == "'"
    indent_after = re.compile(config["indentationRules"]["increaseIndentPattern"])
    for line in ("rule count:", "rule count:  # the main rule", "    input:", "    shell:"):
        assert indent_after.match(line), line
    for line in ('    input: "a.txt"', "X = 1", "# rule x:"):
        assert not indent_after.match(line), line
    assert re.compile(config["onEnterRules"][0]["beforeText"]).match("rule count:")


def test_vscode_extension_script_parses():
    need_service(bool(shutil.which("node")), "node")
    done = subprocess.run(["node", "--check", str(VSCODE / "extension.js")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# ---------------------------------------------------------------- Vim

def _vim_with_syntax() -> bool:
    vim = shutil.which("vim")
    if not vim:
        return False
    version = subprocess.run([vim, "--version"], capture_output=True, text=True).stdout
    return "+syntax" in version


def _run_vim(tmp_path: Path, commands: list[str], env: dict | None = None) -> list[str]:
    """Run vim headless with editors/vim on the runtime path; `commands` add to g:out."""
    need_service(_vim_with_syntax(), "vim with +syntax (apt-get install vim)")
    out = tmp_path / "vim.out"
    script = tmp_path / "query.vim"
    script.write_text("\n".join([
        f"set runtimepath^={VIM_RUNTIME}",
        "filetype plugin indent on",
        "syntax on",
        "let g:out = []",
        *commands,
        f"call writefile(g:out, '{out}')",
        "qa!",
    ]) + "\n")
    done = subprocess.run(["vim", "-u", "NONE", "-i", "NONE", "-N", "-Es", "-S", str(script)],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                          env={**os.environ, "HOME": str(tmp_path), **(env or {})})
    assert done.returncode == 0 and out.exists(), (done.stdout, done.stderr)
    return out.read_text().splitlines()


def test_vim_syntax_groups_of_key_tokens(tmp_path):
    sample = tmp_path / "Flowfile"
    sample.write_text(SAMPLE)
    lines = SAMPLE.splitlines()
    queries = []
    wanted = []
    for number, text, _, group in EXPECTED:
        if group is None:
            continue
        column = _column(lines[number - 1], text, number)
        for offset in range(column, column + len(text)):
            queries.append(f"call add(g:out, synIDattr(synID({number}, {offset + 1}, 1), 'name'))")
            wanted.append((number, text, offset + 1, group))
    got = _run_vim(tmp_path, [f"edit {sample}", "call add(g:out, &filetype)", *queries])
    assert got[0] == "flowfile"
    wrong = [f"line {n} col {c} ({text!r}): {g!r}, want {want}"
             for (n, text, c, want), g in zip(wanted, got[1:]) if g != want]
    assert len(got) == len(wanted) + 1 and not wrong, "\n".join(wrong)


def test_vim_unclosed_string_and_rule_names(tmp_path):
    sample = tmp_path / "rules.flow"
    sample.write_text('A = "no end\nB = 2\nrule  spaced_name:\n    input: A\n')
    got = _run_vim(tmp_path, [f"edit {sample}"] + [
        f"call add(g:out, synIDattr(synID({line}, {col}, 1), 'name'))"
        for line, col in [(1, 6), (2, 1), (2, 5), (3, 7), (4, 5), (4, 12)]])
    assert got == ["flowfileString", "flowfileAssignment", "flowfileNumber", "flowfileRuleName",
                   "flowfileDirective", ""]


def test_vim_detects_flowfiles_and_sets_comments_and_indent(tmp_path):
    for name in ("Flowfile", "workflow/Flowfile", "rules/align.flow"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("rule a:\n")
    other = tmp_path / "notes.txt"
    other.write_text("rule a:\n")
    got = _run_vim(tmp_path, [
        *(f"edit {tmp_path / name} | call add(g:out, &filetype)"
          for name in ("Flowfile", "workflow/Flowfile", "rules/align.flow", "notes.txt")),
        f"edit {tmp_path / 'Flowfile'}",
        "call add(g:out, &commentstring) | call add(g:out, &shiftwidth) | call add(g:out, &expandtab)",
        # Typing after `rule a:` indents one level; after a directive with a value, it stays.
        'execute "normal! Goinput: \\"x\\"\\<CR>output: \\"y\\"\\<Esc>"',
        "call add(g:out, indent(2)) | call add(g:out, indent(3))",
    ])
    assert got[:4] == ["flowfile", "flowfile", "flowfile", "text"]
    assert got[4:7] == ["# %s", "4", "1"]
    assert got[7:] == ["4", "4"]


def _fileflow_on_path(tmp_path: Path) -> dict:
    """An environment whose `fileflow` runs this checkout's fileflow (as the ftplugin's
    makeprg calls it) with this interpreter."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "fileflow"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m fileflow "$@"\n')
    shim.chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def test_vim_make_puts_lint_findings_and_load_errors_in_quickfix(tmp_path):
    workflow = tmp_path / "wf"
    workflow.mkdir()
    (workflow / "Flowfile").write_text(
        'UNUSED = 1\n\nrule all:\n    input: "out/a.txt"\n\n'
        'rule make:\n    output: "out/{name,[a-z]+}.txt"\n    log: "logs/{name}.log"\n'
        '    shell: "touch {output} 2> {log}"\n')
    (workflow / "broken.flow").write_text('X = 1\nrule a\n    output: "x"\n')
    got = _run_vim(tmp_path, [
        f"cd {workflow}",
        "edit Flowfile",
        "silent make",
        "for item in getqflist() | call add(g:out, printf('%s:%d:%d:%s', "
        "bufname(item.bufnr), item.lnum, item.col, item.text)) | endfor",
        "call add(g:out, '--')",
        "edit broken.flow",
        "silent make",
        "for item in getqflist() | call add(g:out, printf('%s:%d:%d:%s', "
        "bufname(item.bufnr), item.lnum, item.col, item.text)) | endfor",
    ], env=_fileflow_on_path(tmp_path))
    assert got == [
        "Flowfile:1:1:FF105 variable 'UNUSED' is assigned but never read "
        "(fix: remove the assignment (or prefix the name with '_'))",
        "--",
        "broken.flow:2:7:expected ':' after the rule name 'a'",
    ]
