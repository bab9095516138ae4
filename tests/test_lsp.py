"""`fileflow lsp`: the features as pure functions of (path, text) (fileflow/editor), then the
real server process spoken to over stdio with the protocol (one process for the session
tests, which open a document each)."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from lspclient import LspClient, uri

from fileflow.editor.analysis import Analysis, Span, analyze, including_flowfile
from fileflow.editor.completion import completion
from fileflow.editor.definition import Location, definition
from fileflow.editor.diagnostics import diagnostics
from fileflow.editor.formatting import format_document
from fileflow.editor.hover import hover
from fileflow.editor.language_docs import BUILTIN_DOCS, DIRECTIVE_DOCS
from fileflow.editor.partial_parse import statement_starts
from fileflow.editor.symbols import symbols
from fileflow.lang.builtins import BUILTIN_NAMES
from fileflow.lang.directives import RULE_DIRECTIVES, TOP_DIRECTIVES
from fileflow.lang.fmt import format_text

pytest.importorskip("pygls")

CONFIG = "samples: [a, b]\nquality: 20\nref: {genome: g.fa, index: g.idx}\n"

# Valid, and clean for `fileflow lint`: no diagnostics at all.
CLEAN = """\
configfile: "config.yaml"

SAMPLES = config.samples

rule all:
    input: expand("results/{sample}.count", sample=SAMPLES)

rule count:
    input: "data/{sample}.txt"
    output: "results/{sample}.count"
    log: "logs/count/{sample}.log"
    wildcard_constraints: sample = "[a-z]+"
    shell: "wc -w < {input} > {output} 2> {log} # {wildcards.sample}"
"""

# Features to look at: two rules for one kind of file, a ruleorder, localrules.
RICH = """\
configfile: "config.yaml"

SAMPLES = config.samples
REF = "ref/genome.fa"

rule all:
    input: expand("trimmed/{sample}.fq", sample=SAMPLES), "report.txt"

rule trim:
    input: "data/{sample}.fq"
    output: "trimmed/{sample,[a-z]+}.fq"
    log: "logs/trim/{sample}.log"
    shell: "trimmer {input} > {output} 2> {log}"

rule report:
    input: REF
    output: "report.txt"
    log: "logs/report.log"
    shell: "wc {input} > {output} 2> {log}"

ruleorder: trim > report
localrules: all, report
"""


def analysis(tmp_path: Path, text: str, name: str = "Flowfile") -> Analysis:
    (tmp_path / "config.yaml").write_text(CONFIG)
    path = tmp_path / name
    path.write_text(text)
    return analyze(str(path), text)


def line_col(text: str, needle: str, skip: int = 0, nth: int = 0) -> tuple[int, int]:
    """1-based (line, column) of the nth occurrence of `needle` in `text`, plus `skip` characters."""
    at = -1
    for _ in range(nth + 1):
        at = text.index(needle, at + 1)
    at += skip
    return text.count("\n", 0, at) + 1, at - (text.rfind("\n", 0, at) + 1) + 1


# ---------------------------------------------------------------- the features, without a server

def test_a_clean_flowfile_has_no_diagnostics(tmp_path):
    result = analysis(tmp_path, CLEAN)
    assert result.workflow is not None
    assert diagnostics(result) == []


def test_syntax_error_has_its_exact_range_and_the_outline_survives(tmp_path):
    text = CLEAN.replace("rule count:", "rule count")
    result = analysis(tmp_path, text)
    found = diagnostics(result)
    assert [(d.span.line, d.span.column, d.severity) for d in found] == [(8, 11, "error")]
    assert found[0].message.startswith("expected ':' after the rule name 'count'")
    outline = [(sym.name, sym.kind) for sym in symbols(result)]
    assert outline == [("configfile", "directive"), ("SAMPLES", "variable"), ("all", "rule")]


def test_one_bad_line_in_the_middle_leaves_the_rest_of_the_outline(tmp_path):
    text = RICH.replace('REF = "ref/genome.fa"', 'REF = "ref/genome.fa" +')
    result = analysis(tmp_path, text)
    names = [sym.name for sym in symbols(result)]
    assert names == ["configfile", "SAMPLES", "all", "trim", "report", "ruleorder", "localrules"]
    errors = [d for d in diagnostics(result) if d.severity == "error"]
    assert errors and errors[0].span.line == 4
    # `input: REF` reads the broken assignment: that echo is not reported as well
    assert not any("'REF'" in d.message for d in errors)


def test_an_unclosed_bracket_is_reported_where_it_opens(tmp_path):
    text = RICH.replace("SAMPLES = config.samples", "SAMPLES = [config.samples")
    result = analysis(tmp_path, text)
    errors = [d for d in diagnostics(result) if d.severity == "error"]
    assert (errors[0].span.line, errors[0].span.column) == (3, 11)
    assert "never closed" in errors[0].message
    assert "trim" in [sym.name for sym in symbols(result)]


def test_tabs_in_one_rule_and_spaces_in_another_are_still_an_error(tmp_path):
    text = RICH.replace('    input: "data/{sample}.fq"', '\tinput: "data/{sample}.fq"')
    text = text.replace('    output: "trimmed/{sample,[a-z]+}.fq"', '\toutput: "trimmed/{sample,[a-z]+}.fq"')
    text = text.replace('    log: "logs/trim/{sample}.log"', '\tlog: "logs/trim/{sample}.log"')
    text = text.replace('    shell: "trimmer', '\tshell: "trimmer')
    result = analysis(tmp_path, text)
    assert any("tabs and spaces" in d.message for d in diagnostics(result))


def test_validation_errors_are_those_of_check_with_the_name_extent(tmp_path):
    text = CLEAN.replace('    input: "data/{sample}.txt"', '    inptu: "data/{sample}.txt"')
    found = diagnostics(analysis(tmp_path, text))
    assert [(d.span, d.severity) for d in found] == [(Span(9, 5, 9, 10), "error")]
    assert found[0].message.startswith("unknown directive 'inptu' in rule 'count'")
    assert "did you mean 'input'?" in found[0].message


def test_lint_warnings_are_warnings_with_their_code(tmp_path):
    text = CLEAN.replace('    log: "logs/count/{sample}.log"\n', "").replace(" 2> {log}", "")
    text = text.replace("SAMPLES = config.samples", "SAMPLES = config.samples\nUNUSED = 1")
    found = diagnostics(analysis(tmp_path, text))
    assert [(d.code, d.severity, d.span.line) for d in found] == [
        ("FF105", "warning", 4), ("FF101", "warning", 9)]
    assert found[0].span == Span(4, 1, 4, 7)


def test_an_error_in_an_included_file_shows_at_the_include(tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "more.flow").write_text("rule more\n")
    text = CLEAN + 'include: "rules/more.flow"\n'
    found = diagnostics(analysis(tmp_path, text))
    assert len(found) == 1
    assert found[0].span == Span(14, 10, 14, 27)
    assert "more.flow:1:10: expected ':' after the rule name 'more'" in found[0].message


def test_an_error_in_a_sample_sheet_shows_at_the_table_call_that_reads_it(tmp_path):
    (tmp_path / "samples.tsv").write_text("sample\tfq\na\tx\nb\ty\tz\n")
    text = CLEAN + 'SHEET = table("samples.tsv", key="sample")\n'
    found = diagnostics(analysis(tmp_path, text))
    assert len(found) == 1
    assert found[0].span == Span(14, 15, 14, 28)
    assert "samples.tsv:3:1: this row of samples.tsv has 3 fields, the header has 2" in found[0].message


def test_symbols_are_rules_with_their_directives(tmp_path):
    outline = symbols(analysis(tmp_path, RICH))
    trim = next(sym for sym in outline if sym.name == "trim")
    assert trim.kind == "rule" and trim.span == Span(9, 1, 13, 49)
    assert trim.name_span == Span(9, 6, 9, 10)
    assert [c.name for c in trim.children] == ["input", "output", "log", "shell"]
    ref = next(sym for sym in outline if sym.name == "REF")
    assert (ref.kind, ref.detail) == ("variable", '"ref/genome.fa"')


def test_hover(tmp_path):
    result = analysis(tmp_path, RICH)
    rule = hover(result, *line_col(RICH, "trim > report"))
    assert rule.markdown.startswith("**rule `trim`** (line 9)")
    assert 'input: "data/{sample}.fq"' in rule.markdown
    directive = hover(result, *line_col(RICH, "output:", 2))
    assert "**`output:`** (rule directive)" in directive.markdown
    builtin = hover(result, *line_col(RICH, "expand", 3))
    assert builtin.markdown.startswith("**`expand`** (builtin)")
    assert builtin.span == Span(7, 12, 7, 18)
    wildcard = hover(result, *line_col(RICH, '"data/{sample}', 8))
    assert "**wildcard `{sample}`** of rule `trim`" in wildcard.markdown
    assert "defined by output `trimmed/{sample,[a-z]+}.fq` (line 11)" in wildcard.markdown
    assert "constraint: `[a-z]+` (in the pattern)" in wildcard.markdown
    assert wildcard.span == Span(10, 18, 10, 26)
    variable = hover(result, *line_col(RICH, "input: REF", 8))
    assert 'REF = "ref/genome.fa"' in variable.markdown
    assert hover(result, 2, 1) is None   # a blank line


def test_hover_on_a_rule_reference(tmp_path):
    text = RICH.replace("    input: REF\n", "    input: REF, rules.trim.output[0]\n")
    result = analysis(tmp_path, text)
    rule = hover(result, *line_col(text, "rules.trim", 7))
    assert rule is not None and rule.markdown.startswith("**rule `trim`** (line 9)")
    name = hover(result, *line_col(text, "rules.trim", 2))
    assert name is not None and name.markdown.startswith("**`rules`**")


def test_hover_on_a_wildcard_in_a_command_names_its_rule_and_constraint(tmp_path):
    result = analysis(tmp_path, CLEAN)
    found = hover(result, *line_col(CLEAN, "{wildcards.sample}", 3))
    assert found.markdown.splitlines() == [
        "**wildcard `{sample}`** of rule `count`", "",
        "defined by output `results/{sample}.count` (line 10)",
        "constraint: `[a-z]+` (the rule's wildcard_constraints)"]
    in_expand = hover(result, *line_col(CLEAN, "{sample}.count", 2))
    assert "filled by `expand()`'s `sample=` values" in in_expand.markdown


def test_definition(tmp_path):
    result = analysis(tmp_path, RICH)
    path = str(tmp_path / "Flowfile")
    # an input path -> the rule whose output pattern makes it
    assert definition(result, *line_col(RICH, '"report.txt"', 3)) == [
        Location(path, Span(15, 6, 15, 12))]
    assert definition(result, *line_col(RICH, '"trimmed/{sample}.fq"', 3)) == [
        Location(path, Span(9, 6, 9, 10))]
    # a name -> its assignment
    assert definition(result, *line_col(RICH, "input: REF", 8)) == [
        Location(path, Span(4, 1, 4, 4))]
    # rule names in ruleorder and localrules
    assert definition(result, *line_col(RICH, "trim > report", 8)) == [
        Location(path, Span(15, 6, 15, 12))]
    assert definition(result, *line_col(RICH, "all, report", 1)) == [
        Location(path, Span(6, 6, 6, 9))]
    # a source file no rule makes: nowhere
    assert definition(result, *line_col(RICH, '"data/{sample}.fq"', 3)) == []


def test_definition_of_a_conda_environment_file(tmp_path):
    text = ('rule a:\n    output: "a"\n    conda: "envs/a.yaml"\n'
            '    envmodules: "a.txt"\n    shell: "x"\n'
            'rule b:\n    output: "a.txt"\n    shell: "x"\n')
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "a.yaml").write_text("dependencies: []\n")
    result = analysis(tmp_path, text)
    assert definition(result, *line_col(text, '"envs/a.yaml"', 3)) == [
        Location(str(tmp_path / "envs" / "a.yaml"), Span(1, 1, 1, 1))]
    # a module name is no file a rule makes
    assert definition(result, *line_col(text, '"a.txt"', 3)) == []


def test_completion(tmp_path):
    text = (RICH.replace("    log: \"logs/report.log\"\n", "    lo\n")
            .replace("REF = \"ref/genome.fa\"", "REF = config."))
    result = analysis(tmp_path, text)

    def labels(line, column):
        return [c.label for c in completion(result, line, column)]

    inside_rule = labels(*line_col(text, "    lo\n", 6))
    assert "log" in inside_rule and "shell" not in inside_rule and "input" not in inside_rule
    assert set(labels(*line_col(text, "ruleorder: ", 11))) == {"all", "trim", "report"}
    assert labels(*line_col(text, "config.", 7, nth=1)) == ["samples", "quality", "ref"]
    assert labels(22, 1) == ["rule", "checkpoint", "from", "use rule", "module", *TOP_DIRECTIVES]


REUSE = """\
rule copy:
    input: "in/{s}.txt"
    output: "out/{s}.txt"
    shell: "cp {input} {output}"

use rule copy as loud with:
    output: "loud/{s}.txt"
    pa

module qc:
    flowfile: "qc.flow"
    pre

use rule * from qc as qc_*
"""


def test_hover_outline_and_completion_of_use_rule_and_module(tmp_path):
    (tmp_path / "qc.flow").write_text('rule count:\n    output: "c.txt"\n    shell: "touch c.txt"\n')
    text = REUSE.replace("    pa\n", "").replace("    pre\n", "")
    result = analysis(tmp_path, text)
    assert hover(result, *line_col(text, "copy as")).markdown.startswith("**rule `copy`** (line 1)")
    assert hover(result, *line_col(text, "use rule")).markdown.startswith("**`use rule`**")
    assert hover(result, *line_col(text, "qc_*")).markdown == "**rules `qc_*`**\n\n`qc_count`"
    assert hover(result, *line_col(text, "from qc", 5)).markdown.startswith("**module `qc`**")
    setting = hover(result, *line_col(text, "flowfile:"))
    assert "**`flowfile:`** (module setting)" in setting.markdown
    directive = hover(result, *line_col(text, "output:", nth=1))
    assert "**`output:`** (rule directive)" in directive.markdown
    outline = {sym.name: sym for sym in symbols(result)}
    assert outline["loud"].kind == "rule" and outline["loud"].detail == "use rule copy"
    assert [c.name for c in outline["loud"].children] == ["output"]
    assert outline["qc"].detail == "module"

    typing = analysis(tmp_path, REUSE)

    def labels(line, column):
        return [c.label for c in completion(typing, line, column)]

    assert "params" in labels(*line_col(REUSE, "    pa\n", 6))
    assert "prefix" in labels(*line_col(REUSE, "    pre\n", 7))
    assert "copy" in labels(*line_col(REUSE, "use rule copy", 9))
    assert labels(*line_col(REUSE, "from qc", 5)) == ["qc"]


def test_an_error_in_a_module_shows_at_its_flowfile_setting(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "Flowfile").write_text('rule count:\n    output: "x.txt"\n    shel: "x"\n')
    text = 'module qc:\n    flowfile: "m/Flowfile"\n\nuse rule * from qc\n'
    (found,) = diagnostics(analysis(tmp_path, text))
    assert found.span == Span(2, 15, 2, 27) and found.severity == "error"
    assert "m/Flowfile:3:5: unknown directive 'shel' in rule 'count'" in found.message


def test_completion_of_rule_references(tmp_path):
    text = RICH.replace('"report.txt"\n', '"report.txt", rules.\n', 1).replace(
        'output: "report.txt"', 'output: table="report.txt"')
    result = analysis(tmp_path, text)
    line, column = line_col(text, "rules.\n", 6)
    assert {c.label for c in completion(result, line, column)} == {"all", "trim", "report"}
    for written, labels in [("rules.trim.", ["input", "output", "log"]),
                            ("rules.report.output.", ["table"]),
                            ("rules.trim.output.", [])]:
        edited = text.replace("rules.\n", written + "\n")
        line, column = line_col(edited, written + "\n", len(written))
        assert [c.label for c in completion(analysis(tmp_path, edited), line, column)] == labels


def test_completion_of_config_keys_by_index_and_nested(tmp_path):
    text = CLEAN.replace("SAMPLES = config.samples", 'SAMPLES = config["ref"]["')
    result = analysis(tmp_path, text)
    assert [c.label for c in completion(result, 3, len('SAMPLES = config["ref"]["') + 1)] == [
        "genome", "index"]


def test_every_builtin_and_directive_has_a_description():
    assert BUILTIN_NAMES <= set(BUILTIN_DOCS)
    assert set(RULE_DIRECTIVES) | set(TOP_DIRECTIVES) <= set(DIRECTIVE_DOCS)


def test_statement_starts_skip_continuations_and_long_strings():
    lines = textwrap.dedent('''\
        X = [
        "a",
        ]
        rule a:
            shell: """
        not a statement
            """
        Y = 1 + \\
        2
        # comment
        rule b:
        ''').split("\n")
    assert statement_starts(lines) == [1, 4, 8, 11]


def test_format_document(tmp_path):
    messy = "rule  a :\n  output : 'x.txt'\n  shell : 'touch {output}'\n"
    assert format_document(messy, "Flowfile") == format_text(messy)
    assert format_document("rule a\n", "Flowfile") is None


# ---------------------------------------------------------------- the server, over stdio

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("lsp")
    (root / "config.yaml").write_text(CONFIG)
    client = LspClient(root)
    client.root = root
    client.capabilities = client.initialize(root)["capabilities"]
    yield client
    if client.process.poll() is None:
        client.process.kill()


def test_server_initialize_announces_the_features(server):
    caps = server.capabilities
    for provider in ("hoverProvider", "definitionProvider", "documentSymbolProvider",
                     "documentFormattingProvider", "completionProvider"):
        assert caps.get(provider), provider
    assert "." in caps["completionProvider"]["triggerCharacters"]


def test_server_diagnostics_on_a_broken_file_and_recovery_after_the_fix(server):
    path = server.root / "broken.flow"
    broken = CLEAN.replace("rule count:", "rule count")
    path.write_text(broken)
    server.open(path, broken)
    found = server.diagnostics(path)
    assert [(d["range"]["start"], d["severity"]) for d in found] == [({"line": 7, "character": 10}, 1)]
    assert found[0]["message"].startswith("expected ':' after the rule name 'count'")
    outline = server.request("textDocument/documentSymbol", {"textDocument": {"uri": uri(path)}})
    assert [s["name"] for s in outline] == ["configfile", "SAMPLES", "all"]
    # the fix, typed: diagnostics cleared, the outline back
    server.change(path, CLEAN, 2)
    assert server.diagnostics(path, 2) == []
    outline = server.request("textDocument/documentSymbol", {"textDocument": {"uri": uri(path)}})
    assert [s["name"] for s in outline] == ["configfile", "SAMPLES", "all", "count"]
    count = outline[3]
    shell = CLEAN.splitlines()[12]
    assert count["range"] == {"start": {"line": 7, "character": 0},
                              "end": {"line": 12, "character": len(shell)}}
    assert [c["name"] for c in count["children"]] == [
        "input", "output", "log", "wildcard_constraints", "shell"]


def test_server_outline_with_one_broken_line_and_a_validation_error(server):
    path = server.root / "middle.flow"
    text = RICH.replace('REF = "ref/genome.fa"', 'REF = = "ref/genome.fa"').replace(
        "    log: \"logs/report.log\"", "    lgo: \"logs/report.log\"")
    server.open(path, text)
    found = server.diagnostics(path)
    starts = [(d["range"]["start"]["line"], d["range"]["start"]["character"]) for d in found]
    assert starts == [(3, 6), (17, 4)]
    assert found[1]["range"]["end"] == {"line": 17, "character": 7}
    assert "unknown directive 'lgo' in rule 'report'" in found[1]["message"]
    outline = server.request("textDocument/documentSymbol", {"textDocument": {"uri": uri(path)}})
    assert [s["name"] for s in outline] == ["configfile", "SAMPLES", "all", "trim", "report",
                                           "ruleorder", "localrules"]


def test_server_lint_warnings(server):
    path = server.root / "lint.flow"
    text = CLEAN.replace("SAMPLES = config.samples", "SAMPLES = config.samples\nUNUSED = 1")
    server.open(path, text)
    found = server.diagnostics(path)
    assert [(d["code"], d["severity"], d["range"]["start"]["line"]) for d in found] == [("FF105", 2, 3)]
    assert found[0]["source"] == "fileflow"
    # saved with the variable read: checked again on save, the warning gone
    fixed = text.replace("sample=SAMPLES)", "sample=SAMPLES + [UNUSED])")
    path.write_text(fixed)
    server.change(path, fixed, 2)
    server.notify("textDocument/didSave", {"textDocument": {"uri": uri(path)}})
    assert server.diagnostics(path, 2) == []


def test_server_hover_definition_completion(server):
    path = server.root / "rich.flow"
    text = RICH.replace("localrules: all, report", "localrules: all, report\nX = config.").replace(
        '    log: "logs/trim/{sample}.log"\n', '    log: "logs/trim/{sample}.log"\n    \n')
    path.write_text(text)
    server.open(path, text)
    server.diagnostics(path)

    def at(needle: str, skip: int = 0, nth: int = 0) -> dict:
        line, column = line_col(text, needle, skip, nth)
        return server.at(path, line - 1, column - 1)

    found = server.request("textDocument/hover", at("{sample}.fq\"", 2, nth=1))
    assert found["contents"]["kind"] == "markdown"
    assert "**wildcard `{sample}`** of rule `trim`" in found["contents"]["value"]
    found = server.request("textDocument/hover", at("shell:"))
    assert "**`shell:`** (rule directive)" in found["contents"]["value"]
    found = server.request("textDocument/hover", at("trim > report"))
    assert "**rule `trim`**" in found["contents"]["value"]

    assert server.request("textDocument/definition", at('"report.txt"', 2)) == [
        {"uri": uri(path), "range": {"start": {"line": 15, "character": 5},
                                     "end": {"line": 15, "character": 11}}}]
    assert server.request("textDocument/definition", at("input: REF", 8)) == [
        {"uri": uri(path), "range": {"start": {"line": 3, "character": 0},
                                     "end": {"line": 3, "character": 3}}}]

    listed = server.request("textDocument/completion", at("X = config.", 11))
    assert [i["label"] for i in listed["items"]] == ["samples", "quality", "ref"]
    listed = server.request("textDocument/completion", at("ruleorder: ", 11))
    assert {i["label"] for i in listed["items"]} == {"all", "trim", "report"}
    listed = server.request("textDocument/completion", at("    \n", 4))
    assert "params" in [i["label"] for i in listed["items"]]
    assert "shell" not in [i["label"] for i in listed["items"]]


def test_server_formatting(server):
    path = server.root / "messy.flow"
    messy = "rule  a :\n  output : 'x.txt'\n  shell : 'touch {output}'\n"
    server.open(path, messy)
    edits = server.request("textDocument/formatting", {"textDocument": {"uri": uri(path)},
                                                       "options": {"tabSize": 4, "insertSpaces": True}})
    assert edits == [{"range": {"start": {"line": 0, "character": 0}, "end": {"line": 3, "character": 0}},
                      "newText": format_text(messy)}]


def test_server_counts_columns_in_utf16(server):
    path = server.root / "emoji.flow"
    text = 'X = "😀" + 1\n'
    server.open(path, text)
    found = server.diagnostics(path)
    assert len(found) == 1 and "cannot add" in found[0]["message"]
    # the error is at the whole expression "😀" + 1: columns 4 to 12 in UTF-16 units
    assert found[0]["range"] == {"start": {"line": 0, "character": 4}, "end": {"line": 0, "character": 12}}


def test_server_goes_to_the_definition_of_an_imported_python_function(server):
    folder = server.root / "python_functions"
    (folder / "workflow").mkdir(parents=True)
    module = folder / "workflow" / "common.py"
    module.write_text(PYTHON_MODULE)
    path = folder / "Flowfile"
    path.write_text(PYTHON_FLOW)
    server.open(path, PYTHON_FLOW)
    assert [d for d in server.diagnostics(path) if d["severity"] == 1] == []
    line, column = line_col(PYTHON_FLOW, "get_fastq(wildcards)", 3)
    assert server.request("textDocument/definition", server.at(path, line - 1, column - 1)) == [
        {"uri": uri(module), "range": {"start": {"line": 3, "character": 0},
                                       "end": {"line": 3, "character": 0}}}]
    found = server.request("textDocument/hover", server.at(path, line - 1, column - 1))
    assert found["contents"]["value"].startswith("**`get_fastq(wildcards)`** (Python function")


def test_server_shutdown_and_exit(server):
    assert server.close() == 0
    assert b"Traceback" not in server.stderr


def test_no_feature_fails_on_half_typed_text():
    """Every example and test Flowfile, cut short or with a character put in at fixed places
    (as while typing): analysis and each feature at several places give answers, never an
    exception."""
    import random

    root = Path(__file__).resolve().parent.parent
    paths = sorted(p for p in [*root.glob("examples/**/Flowfile"), *root.glob("tests/flowfiles/**/*.flow")]
                   if p.is_file())
    assert len(paths) > 20
    rng = random.Random(7)
    for path in paths:
        text = path.read_text(encoding="utf-8", errors="replace")
        cut = rng.randrange(len(text) + 1)
        for variant in (text[:cut], text[:cut] + rng.choice("([\"':{\t") + text[cut:]):
            result = analyze(str(path), variant)
            diagnostics(result)
            symbols(result)
            lines = variant.split("\n")
            for _ in range(4):
                line = rng.randrange(1, len(lines) + 1)
                column = rng.randrange(1, len(lines[line - 1]) + 2)
                hover(result, line, column)
                definition(result, line, column)
                completion(result, line, column)


def test_an_error_that_stops_the_load_does_not_hide_the_errors_below_it(tmp_path):
    text = (CLEAN.replace("SAMPLES = config.samples", "SAMPLES = config.sampels\nlen = 1")
            .replace("    log: ", "    lgo: "))
    found = diagnostics(analysis(tmp_path, text))
    assert [(d.span.line, d.message.split("\n")[0]) for d in found] == [
        (3, "config has no key 'sampels'"),
        (4, "cannot assign to 'len': it is a built-in name"),
        (12, "unknown directive 'lgo' in rule 'count'")]


def test_an_included_file_is_checked_as_part_of_the_workflow_that_includes_it(tmp_path):
    (tmp_path / "config.yaml").write_text(CONFIG)
    (tmp_path / "rules").mkdir()
    (tmp_path / "Flowfile").write_text(CLEAN + 'include: "rules/extra.flow"\n')
    included = textwrap.dedent("""\
        rule extra:
            input: expand("results/{sample}.count", sample=SAMPLES)
            output: "extra/{q}.txt"
            log: "logs/extra/{q}.log"
            params: quality = config.quality
            wildcard_constraints: q = "[0-9]+"
            shell: "cat {input} > {output} 2> {log}"

        ruleorder: extra > count
        """)
    path = tmp_path / "rules" / "extra.flow"
    path.write_text(included)
    assert including_flowfile(str(path)) == str(tmp_path / "Flowfile")
    result = analyze(str(path), included)
    # SAMPLES, config.quality and rule count come from the including Flowfile: no errors
    assert [d.message for d in diagnostics(result) if d.severity == "error"] == []
    assert definition(result, *line_col(included, "SAMPLES", 2)) == [
        Location(str(tmp_path / "Flowfile"), Span(3, 1, 3, 8))]
    assert definition(result, *line_col(included, "count", 2)) == [
        Location(str(tmp_path / "Flowfile"), Span(8, 6, 8, 11))]
    assert [c.label for c in completion(result, 5, len("    params: quality = config.") + 1)] == [
        "samples", "quality", "ref"]
    # an error of its own is still one
    broken = included.replace("config.quality", "config.qualty")
    found = diagnostics(analyze(str(path), broken))
    assert [(d.span.line, d.message.split("\n")[0]) for d in found] == [(5, "config has no key 'qualty'")]


def test_completion_of_command_fields(tmp_path):
    text = RICH.replace('"trimmer {input} > {output} 2> {log}"', '"trimmer {input} {wildcards.} {}"')
    text = text.replace('    input: REF', '    input: ref = REF')
    result = analysis(tmp_path, text)
    at_wildcards = line_col(text, "{wildcards.", len("{wildcards."))
    assert [c.label for c in completion(result, *at_wildcards)] == ["sample"]
    fields = [c.label for c in completion(result, *line_col(text, "{}", 1))]
    assert {"input", "output", "log", "params", "wildcards", "threads"} <= set(fields)
    text = text.replace('"wc {input} > {output} 2> {log}"', '"wc {input.} > {output} 2> {log}"')
    result = analysis(tmp_path, text)
    assert [c.label for c in completion(result, *line_col(text, "{input.", 7))] == ["ref"]


def test_hover_and_definition_of_a_named_entry_in_a_command(tmp_path):
    text = RICH.replace("    input: REF", "    input: genome = REF").replace(
        '"wc {input} > {output}', '"wc {input.genome} > {output}')
    result = analysis(tmp_path, text)
    place = line_col(text, "{input.genome}", 3)
    found = hover(result, *place)
    assert "**`{input.genome}`**: the job's input files (shell-quoted)" in found.markdown
    assert "genome = REF" in found.markdown
    assert definition(result, *place) == [
        Location(str(tmp_path / "Flowfile"), Span(16, 12, 16, 18))]


PYTHON_FLOW = '''\
from "workflow/common.py" import get_fastq, groups

rule align:
    input: get_fastq(wildcards)
    output: "out/{sample}.txt"
    shell: "cat {input} > {output}"
'''
PYTHON_MODULE = '''\
import os


def get_fastq(wildcards):
    """The reads of one sample."""
    return f"raw/{wildcards.sample}.fq"


def groups():
    return []
'''


@pytest.mark.parametrize("loads", [True, False], ids=["loaded", "not-loaded"])
def test_hover_definition_outline_and_completion_of_an_imported_python_function(tmp_path, loads):
    (tmp_path / "workflow").mkdir()
    module = tmp_path / "workflow" / "common.py"
    module.write_text(PYTHON_MODULE)
    text = PYTHON_FLOW if loads else PYTHON_FLOW + "X = undefined_name\n"
    result = analysis(tmp_path, text)
    assert (result.workflow is not None) == loads
    at_call = line_col(text, "get_fastq(wildcards)", 2)
    assert definition(result, *at_call) == [Location(str(module), Span(4, 1, 4, 1))]
    assert definition(result, *line_col(text, "groups", 1)) == [Location(str(module), Span(9, 1, 9, 1))]
    assert definition(result, *line_col(text, '"workflow/common.py"', 3)) == [
        Location(str(module), Span(1, 1, 1, 1))]
    found = hover(result, *at_call)
    assert found is not None
    expected = "**`get_fastq(wildcards)`** (Python function, workflow/common.py, line 4)"
    assert found.markdown == expected + ("\n\nThe reads of one sample." if loads else "")
    assert found.span == Span(4, 12, 4, 21)
    assert [(sym.name, sym.kind) for sym in symbols(result)][:2] == [
        ("get_fastq", "function"), ("groups", "function")]
    offered = {c.label: c.detail for c in completion(result, 4, 12)}
    assert offered["get_fastq"] == 'Python function from "workflow/common.py"'


def test_an_imported_name_the_module_lacks_is_a_diagnostic_at_the_name(tmp_path):
    (tmp_path / "workflow").mkdir()
    (tmp_path / "workflow" / "common.py").write_text(PYTHON_MODULE)
    text = PYTHON_FLOW.replace("import get_fastq, groups", "import get_fq, groups")
    found = diagnostics(analysis(tmp_path, text))
    assert [(d.message, d.span) for d in found if d.severity == "error"][:1] == [
        ("workflow/common.py has no function 'get_fq'; it has: get_fastq, groups\n"
         "hint: did you mean 'get_fastq'?", Span(1, 34, 1, 40))]

