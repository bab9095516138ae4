"""fileflow.template: shell command templates, fields, and quoting (proved with a real bash)."""
from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from types import SimpleNamespace

import pytest

from fileflow.template import Items, TemplateError, parse_template, render

NASTY = [
    "a b;rm -rf x",
    "it's \"quoted\"",
    "$(touch pwned)",
    "`touch pwned`",
    "line\nbreak",
    "-rf",
    "star*?[x]",
    "tab\there",
    "ünïcødé",
]


def namespaces(**extra):
    ns = {
        "input": Items(("in/a.txt", "in/b.txt"), ("reads", "ref")),
        "output": Items(("out/x.txt",), (None,)),
        "log": Items(("logs/x.log",), (None,)),
        "params": Items((5, "fast mode", ["-v", "-q"]), ("depth", "mode", "flags")),
        "wildcards": {"sample": "x"},
        "threads": 4,
        "resources": {"mem_mb": 2000, "runtime": 30},
        "rule": "align",
        "attempt": 2,
    }
    ns.update(extra)
    return ns


@pytest.mark.parametrize("template, expected", [
    ("cat {input} > {output}", "cat in/a.txt in/b.txt > out/x.txt"),
    ("{input[0]} {input[1]}", "in/a.txt in/b.txt"),
    ("{input.reads} {input.ref}", "in/a.txt in/b.txt"),
    ("{params.depth} {params[0]}", "5 5"),
    ("{wildcards.sample}", "x"),
    ("-t {threads}", "-t 4"),
    ("--mem {resources.mem_mb} --time {resources.runtime}", "--mem 2000 --time 30"),
    ("2> {log}", "2> logs/x.log"),
    ("{rule}#{attempt}", "align#2"),
    ("echo ${{HOME}} {{x}}", "echo ${HOME} {x}"),
    ("{ input }", "in/a.txt in/b.txt"),
    ("{params.flags}", "-v -q"),
    ("no fields at all", "no fields at all"),
])
def test_fields(template, expected):
    assert render(parse_template(template), namespaces()) == expected


def test_params_are_raw_unless_q_and_files_quoted_unless_raw():
    ns = namespaces(input=Items(("a b.txt",), (None,)))
    assert render(parse_template("{params.mode}"), ns) == "fast mode"
    assert render(parse_template("{params.mode:q}"), ns) == "'fast mode'"
    assert render(parse_template("{input}"), ns) == "'a b.txt'"
    assert render(parse_template("{input:raw}"), ns) == "a b.txt"
    assert render(parse_template("{input:q}"), ns) == "'a b.txt'"
    wild = namespaces(wildcards={"sample": "s 1"})
    assert render(parse_template("{wildcards.sample}"), wild) == "'s 1'"
    assert render(parse_template("{wildcards.sample:raw}"), wild) == "s 1"


def test_parse_records_fields_with_offsets():
    t = parse_template("cp {input.reads:raw} {output[0]}")
    first, second = t.fields
    assert (first.name, first.steps, first.spec, first.offset, first.text) == (
        "input", ("reads",), "raw", 3, "{input.reads:raw}")
    assert (second.name, second.steps, second.spec) == ("output", (0,), "")


@pytest.mark.parametrize("text, message, offset, length", [
    ("cp {inputs} x", "unknown field '{inputs}' in the command; did you mean '{input}'?", 3, 8),
    ("echo ${HOME}", "unknown field '{HOME}' in the command", 6, 6),
    ("cp {input", "unclosed '{'", 3, 1),
    ("a } b", "single '}'", 2, 1),
    ("{input:x}", "unknown format ':x'", 0, 9),
    ("{}", "'{}' is not a valid field", 0, 2),
    ("{input.}", "'{input.}' is not a valid field", 0, 8),
])
def test_parse_errors_locate_the_field(text, message, offset, length):
    with pytest.raises(TemplateError) as info:
        parse_template(text)
    assert message in str(info.value)
    assert (info.value.offset, info.value.length) == (offset, length)


@pytest.mark.parametrize("text, message", [
    ("{input[5]}", "index 5 is out of range (input has 2 items)"),
    ("{input.nope}", "input has no entry named 'nope' (named entries: reads, ref)"),
    ("{wildcards.nope}", "no 'nope' in wildcards (has: sample)"),
    ("{threads.x}", "cannot take 'x' of threads"),
])
def test_render_errors(text, message):
    with pytest.raises(TemplateError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[")):
        render(parse_template(text), namespaces())


def test_render_error_for_a_namespace_the_caller_did_not_give():
    with pytest.raises(TemplateError, match="'attempt' is not available"):
        render(parse_template("{attempt}"), {"input": Items()})


@pytest.fixture
def argv_script(tmp_path):
    script = tmp_path / "argv.py"
    script.write_text("import json, sys\nprint(json.dumps(sys.argv[1:]))\n")
    return script


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_quoted_names_reach_the_command_as_one_argument_each(tmp_path, argv_script):
    ns = namespaces(input=Items(tuple(NASTY), (None,) * len(NASTY)),
                    output=Items(("-out put",), (None,)),
                    wildcards={"sample": "s;$(id)"})
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep").write_text("")
    command = render(parse_template(
        f"{shlex_quote(sys.executable)} {shlex_quote(str(argv_script))} "
        "{input} {output} {wildcards.sample} {params.mode:q}"), ns)
    done = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True,
                          text=True, check=True)
    assert json.loads(done.stdout) == [*NASTY, "-out put", "s;$(id)", "fast mode"]
    assert not (tmp_path / "pwned").exists()
    assert (tmp_path / "x" / "keep").exists()  # "a b;rm -rf x" stayed one harmless argument


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_raw_opts_out_of_quoting(tmp_path, argv_script):
    ns = namespaces(input=Items(("a b",), (None,)))
    command = render(parse_template(
        f"{shlex_quote(sys.executable)} {shlex_quote(str(argv_script))} {{input:raw}} {{params.mode}}"),
        ns)
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == ["a", "b", "fast", "mode"]


def shlex_quote(text: str) -> str:
    """Quote for the template: shell-quoted, with braces doubled so they stay literal."""
    import shlex

    return shlex.quote(text).replace("{", "{{").replace("}", "}}")


def test_indexing_a_named_entry_that_holds_one_file():
    inputs = Items(("a b.txt",), ("r",))
    assert render(parse_template("cat {input.r[0]}"), {"input": inputs}) == "cat 'a b.txt'"
    assert render(parse_template("cat {input.r}"), {"input": inputs}) == "cat 'a b.txt'"


def test_a_dict_or_list_param_is_indexed_as_str_format_does():
    params = Items(({"epsilon": 0.5, "n": [1, 2], 7: "a b"}, [3, 4], ["x"]), ("p", "q", "r"))
    ns = namespaces(params=params)
    assert render(parse_template("{params.p[epsilon]} {params.q[0]} {params.q[1]}"), ns) == "0.5 3 4"
    assert render(parse_template("{params.p[n][1]} {params.p.n} {params[p][epsilon]}"), ns) == "2 1 2 0.5"
    assert render(parse_template("{params[1][0]} {params.r[0]} {params.p[7]:q}"), ns) == "3 x 'a b'"
    field = parse_template("{params.p[epsilon]:q}").fields[0]
    assert (field.steps, field.spec) == (("p", "epsilon"), "q")
    assert parse_template("{params.q[10]}").fields[0].steps == ("q", 10)


def test_a_name_given_an_empty_list_is_empty_text_and_the_whole_list_leaves_it_out():
    inputs = Items(("a b.txt",), ("main",), ("groups",))
    ns = namespaces(input=inputs)
    assert render(parse_template("x{input.groups}x|{input}|{input.main}"), ns) == "xx|'a b.txt'|'a b.txt'"
    assert render(parse_template("x{input.groups:raw}x {input.groups:q}"), ns) == "xx "
    with pytest.raises(TemplateError) as info:
        render(parse_template("{input.groups[0]}"), ns)
    assert str(info.value) == "{input.groups[0]}: index 0 is out of range (input.groups has 0 items)"
    with pytest.raises(TemplateError) as info:
        render(parse_template("{input.nope}"), ns)
    assert str(info.value) == "{input.nope}: input has no entry named 'nope' (named entries: main, groups)"


@pytest.mark.parametrize("text, message", [
    ("{params.p[nope]}", "{params.p[nope]}: no 'nope' in params.p (has: epsilon)"),
    ("{params.q[2]}", "{params.q[2]}: index 2 is out of range (params.q has 2 items)"),
    ("{params.q[x]}", "{params.q[x]}: cannot take 'x' of params.q"),
    ("{params.p[epsilon][0]}", "{params.p[epsilon][0]}: cannot take 0 of params.p.epsilon"),
])
def test_indexing_a_param_that_holds_no_such_thing_is_an_error(text, message):
    ns = namespaces(params=Items(({"epsilon": 0.5}, [3, 4]), ("p", "q")))
    with pytest.raises(TemplateError) as info:
        render(parse_template(text), ns)
    assert str(info.value) == message


# ---------------------------------------------------------------- a script's job, in bash and R

def script_job(**values) -> dict:
    data = {"rule": "r", "attempt": 1, "threads": 1, "wildcards": {}, "resources": {},
            "config": {}, **{k: {"values": [], "names": []} for k in ("input", "output", "log", "params")}}
    data.update(values)
    return data


def test_bash_preamble_gives_every_value_back_exactly_to_a_real_bash(tmp_path):
    """guarantees.md: Quoting."""
    from fileflow.run.script_jobs import bash_preamble

    files = {"values": NASTY, "names": ["odd"] * 3 + [None] * (len(NASTY) - 3)}
    data = script_job(input=files, params={"values": [NASTY[1], NASTY, {"a": {"b": NASTY[2]}}],
                                           "names": ["one", "many", "nested"]},
                      wildcards={"w": NASTY[4]}, config={"k": NASTY[0], "q": {"m": [1, 2]},
                                                         NASTY[1]: True})
    path = tmp_path / "job.sh"
    path.write_text(bash_preamble(data))
    show = ('for v in "${job_input[@]}" "${job_input_odd[@]}" "$job_params_one" '
            '"${job_params_many[@]}" "${job_params_nested[a.b]}" "$job_wildcards_w" '
            '"${job_config[k]}" "${job_config[q.m]}" "${job_config[' + shlex.quote(NASTY[1]) + ']}"; '
            'do printf "%s\\0" "$v"; done')
    out = subprocess.run(["bash", "-c", show], env={"BASH_ENV": str(path), "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, check=True).stdout
    assert out.split("\0")[:-1] == [*NASTY, *NASTY[:3], NASTY[1], *NASTY, NASTY[2], NASTY[4],
                                    NASTY[0], "1 2", "true"]


@pytest.mark.parametrize("value, source", [
    (None, "NULL"), (True, "TRUE"), (3, "3L"), (2**40, "1099511627776.0"), (0.5, "0.5"),
    (float("nan"), "NaN"), (float("-inf"), "-Inf"),
    ('it\'s "q"\\\n\tü€😀', r'"it' + "'" + r's \"q\"\\\n\t\u{fc}\u{20ac}\U{1f600}"'),
    (["a", "b"], 'c("a", "b")'), ([1, 2.5], "c(1L, 2.5)"), ([1, "a"], 'list(1L, "a")'),
    ([], "list()"), ([None, None], "list(NULL, NULL)"), ([[1]], "list(c(1L))"),
    ({"a b": {"c": [True]}}, 'list("a b" = list("c" = c(TRUE)))'), ({}, "list()"),
])
def test_r_value_writes_json_values_as_r_source(value, source):
    from fileflow.run.script_jobs import r_value

    assert r_value(value) == source


def test_r_preamble_defines_job_with_named_files_and_plain_lists():
    from fileflow.run.script_jobs import r_preamble

    text = r_preamble(script_job(input={"values": ["a", "b", "c"], "names": ["reads", "reads", None]},
                                 wildcards={"sample": "s1"}, threads=4))
    assert 'input = fileflow_items(list("a", "b", "c"), c("reads", "reads", ""))' in text
    assert 'output = fileflow_items(list(), character(0))' in text
    assert 'wildcards = list("sample" = "s1")' in text and "threads = 4L" in text
    assert text.startswith("# This job's values") and 'Sys.unsetenv("R_PROFILE_USER")' in text


def test_a_name_given_an_empty_list_reaches_python_r_and_bash_scripts_as_an_empty_list(tmp_path):
    from fileflow.engine.graph import Job
    from fileflow.lang.model import JobValues
    from fileflow.run.script_jobs import bash_preamble, job_data, r_preamble
    from fileflow.script import Job as ScriptJob

    values = JobValues(Items(("a.txt",), ("main",), ("groups",)), Items(("o.txt",), (None,)),
                       Items((), (), ("notes",)), Items(), 1, {}, {})
    rule = SimpleNamespace(name="merge")  # all job_data reads of the rule
    data = json.loads(json.dumps(job_data(Job(0, rule, {}, values, "merge"), 1, {})))
    seen = ScriptJob(data)
    assert (seen.input.groups, seen.input.main, list(seen.input), seen.log.notes) == (
        [], "a.txt", ["a.txt"], [])
    sh = tmp_path / "job.sh"
    sh.write_text(bash_preamble(data))
    out = subprocess.run(["bash", "-c", 'echo "${#job_input_groups[@]} ${#job_log_notes[@]} '
                          '${#job_input[@]} ${job_input_main[0]}"'],
                         env={"BASH_ENV": str(sh), "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, check=True).stdout
    assert out == "0 0 1 a.txt\n"
    text = r_preamble(data)
    assert 'input = fileflow_items(list("a.txt"), c("main"), c("groups"))' in text
    assert 'log = fileflow_items(list(), character(0), c("notes"))' in text
    if shutil.which("Rscript") is None:
        return
    profile = tmp_path / "job.R"
    profile.write_text(text)
    script = tmp_path / "s.R"
    script.write_text('cat(length(job$input$groups), is.character(job$input[["groups"]]), '
                      'length(job$log$notes), job$input$main, length(job$input), "\\n")\n'
                      'tryCatch(job$input$nope, error = function(e) cat(conditionMessage(e)))\n')
    out = subprocess.run(["Rscript", "--no-save", "--no-restore", "--no-site-file", "--no-environ",
                          str(script)], env={**os.environ, "R_PROFILE_USER": str(profile)},
                         capture_output=True, text=True, check=True).stdout
    assert out == "0 TRUE 0 a.txt 1 \njob: no entry named 'nope' (named: main, groups)"


@pytest.mark.parametrize("text, parts", [
    ("a {input} b", ["a ", ("input", (), "", 2), " b"]),
    ("{{{input}}}", ["{", ("input", (), "", 2), "}"]),
    ("x }} {threads} {{y", ["x } ", ("threads", (), "", 5), " {y"]),
    ("{input.reads} { output } {log:q}", [("input", ("reads",), "", 0), " ",
                                          ("output", (), "", 14), " ", ("log", (), "q", 25)]),
    ("{ input }{params.flags[1]}{{", [("input", (), "", 0), ("params", ("flags", 1), "", 9), "{"]),
    ("no fields at all", ["no fields at all"]),
    ("", []),
])
def test_fields_and_literal_text_where_blanks_and_braces_mix(text, parts):
    got = [p if isinstance(p, str) else (p.name, p.steps, p.spec, p.offset)
           for p in parse_template(text).parts]
    assert got == parts


@pytest.mark.parametrize("text, message, offset", [
    ("{input} }", "single '}' in command", 8),
    ("{input} {nope}", "unknown field '{nope}' in the command", 8),
    ("{input} { nope }", "unknown field '{nope}' in the command", 8),
    ("{input} {input", "unclosed '{' in command", 8),
    ("{input} {config.x}", "a command cannot read config: '{config.x}'", 8),
    ("{input:z} {log}", "unknown format ':z' in '{input:z}' (use ':raw' or ':q')", 0),
    ("a {input} {in put}", "'{in put}' is not a valid field", 10),
])
def test_a_bad_field_after_good_ones_is_reported_at_its_place(text, message, offset):
    with pytest.raises(TemplateError) as info:
        parse_template(text)
    assert (str(info.value), info.value.offset) == (message, offset)
