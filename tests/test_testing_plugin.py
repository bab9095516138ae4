"""The pytest plugin fileflow.testing (docs/testing.md), run by pytest's own pytester: the
fileflow_job fixture runs one job with the inputs a test gives, and the comparisons say
what differs."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = None

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent

FLOW = """
configfile: "config.yaml"

rule count:
    input: text = "data/{sample}.txt", stop = "stopwords.txt"
    output: counts = "results/{sample}.tsv", total = "results/{sample}.json"
    log: "logs/{sample}.log"
    params: sep = config.sep
    shell: r\"\"\"
        grep -v -x -f {input.stop} {input.text} | sort | uniq -c \\
            | awk '{{print $2 "{params.sep}" $1}}' > {output.counts}
        n=$(wc -l < {input.text})
        echo "{{\\"sample\\": \\"{wildcards.sample}\\", \\"lines\\": $n}}" > {output.total}
        echo counted >&2
        \"\"\"

rule broken:
    input: "stopwords.txt"
    output: "broken.txt"
    params: code = config.code
    shell: "echo oops >&2; exit {params.code}"
"""


def _plugin_args() -> list[str]:
    """The plugin, whether or not the installed fileflow registers it already (the entry
    point has the module's name, so both are the same plugin)."""
    return ["-p", "fileflow.testing"]


def _workflow(pytester) -> None:
    pytester.makefile("", Flowfile=textwrap.dedent(FLOW).lstrip("\n"))
    pytester.makefile(".yaml", config="sep: \"\\t\"\ncode: 3\n")
    pytester.makefile(".txt", stopwords="the\n")


def test_the_pytest11_entry_point_gives_every_pytest_run_the_fixture(tmp_path):
    """A distribution declaring pyproject's entry points, on the path: pytest loads the
    plugin by itself, and `-p fileflow.testing` beside it is no second registration."""
    if tomllib is None:
        pytest.skip("tomllib needs Python 3.11")
    with open(ROOT / "pyproject.toml", "rb") as fh:
        points = tomllib.load(fh)["project"]["entry-points"]["pytest11"]
    assert points == {"fileflow.testing": "fileflow.testing"}
    info = tmp_path / "site" / "fileflow_entry-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fileflow-entry\nVersion: 0\n")
    (info / "entry_points.txt").write_text(
        "[pytest11]\n" + "".join(f"{k} = {v}\n" for k, v in points.items()))
    (tmp_path / "test_uses.py").write_text("def test_it(fileflow_job):\n    assert fileflow_job\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(tmp_path / "site")]))
    for extra in ([], ["-p", "fileflow.testing"]):
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               *extra, "test_uses.py"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "1 passed" in proc.stdout


def test_fixture_runs_a_job_with_given_text_and_files_and_compares_its_outputs(pytester):
    _workflow(pytester)
    pytester.makepyfile(test_count=r'''
        from pathlib import Path
        from fileflow.testing import assert_same_json, assert_same_table, assert_same_text

        def test_count(fileflow_job, tmp_path):
            result = fileflow_job("Flowfile", "count[sample=demo]",
                                  inputs={"text": "b\nthe\na\nb\n"})
            assert result.ok and result.name == "count[sample=demo]"
            assert_same_table(result["counts"], "a\t1\nb\t2\n")
            assert_same_table(result["results/demo.tsv"], "b\t2\na\t1\n", ordered=False)
            assert_same_text(result["counts"], "a\t1   \nb\t2\n\n")
            assert_same_json(result["total"], {"lines": 4, "sample": "demo"})
            assert result.log_text() == "counted\n"
            assert not Path("results").exists()  # nothing made in the workflow's folder

        def test_given_file_and_config(fileflow_job, tmp_path):
            mine = tmp_path / "mine.txt"
            mine.write_text("x\n")
            result = fileflow_job("Flowfile", "results/other.tsv",
                                  inputs={"data/other.txt": mine, "stop": b"y\n"},
                                  config={"sep": ","})
            assert_same_text(result["counts"], "x,1")
    ''')
    result = pytester.runpytest(*_plugin_args())
    result.assert_outcomes(passed=2)


def test_comparisons_fail_saying_what_differs(pytester):
    _workflow(pytester)
    pytester.makepyfile(test_differs=r'''
        import pytest
        from fileflow.testing import (assert_same_bytes, assert_same_json, assert_same_table,
                                      assert_same_text)

        @pytest.fixture
        def result(fileflow_job):
            return fileflow_job("Flowfile", "count[sample=demo]", inputs={"text": "a\nb\nb\n"})

        def test_text(result):
            assert_same_text(result["counts"], "a\t1\nb\t3\n")

        def test_table(result):
            assert_same_table(result["counts"], "a\t1\nc\t2\n")

        def test_json(result):
            assert_same_json(result["total"], '{"lines": 4, "sample": "demo"}')

        def test_bytes(result):
            assert_same_bytes(result["counts"], "a\t1\nb\t2")
    ''')
    result = pytester.runpytest(*_plugin_args())
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(["*-b\t3*", "*+b\t2*"])
    out = result.stdout.str()
    assert "2 rows, expected 2; rows missing: [['c', '2']]; rows not expected: [['b', '2']]" in out
    assert "holds another JSON value" in out and '"lines": 3' in out
    assert "8 bytes, expected 7; they differ from byte 7" in out


def test_a_failing_job_fails_the_test_with_its_log(pytester):
    _workflow(pytester)
    pytester.makepyfile(test_broken=r'''
        from fileflow.testing import JobFailed

        def test_broken(fileflow_job):
            fileflow_job("Flowfile", "broken")

        def test_unchecked(fileflow_job):
            result = fileflow_job("Flowfile", "broken.txt", config={"code": 4}, check=False)
            assert result.exit_code == 4 and not result.ok

        def test_unknown_input(fileflow_job):
            fileflow_job("Flowfile", "count[sample=demo]", inputs={"nope": "a\n"})
    ''')
    result = pytester.runpytest(*_plugin_args())
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*JobFailed: job broken failed (exit 3)*",
                                 "*oops*"])
    result.stdout.fnmatch_lines(["*no single input named 'nope' (give one of: *stop*text*"])
