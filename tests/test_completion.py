"""Shell completion, in the real shells: bash (the script sourced, its function called with
COMP_WORDS/COMP_CWORD/COMP_LINE/COMP_POINT as readline sets them, and through `compgen`),
fish (`complete -C`, the script autoloaded from the documented place) and zsh (`zsh -n`, and
Tab pressed in an interactive zsh under `zpty` with the script on `fpath` and `compinit`).
Every shell runs the real `fileflow` through a shim on PATH."""
from __future__ import annotations

import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import need_service

from fileflow.cli.main import COMMANDS, parser_for

FLOWFILE = '''\
rule all:
    input: "results/summary.txt"

rule count:
    input: "data/{sample}.txt"
    output: "results/counts/{sample}.txt"
    shell: "wc -w < {input} > {output}"

rule summary:
    input: expand("results/counts/{sample}.txt", sample=["a", "b"])
    output: "results/summary.txt", "results/summary.json"
    shell: "cat {input} > {output[0]}; echo {{}} > {output[1]}"
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A workflow directory `proj` (beside a second Flowfile and a broken one), and a bin
    directory whose `fileflow` runs this checkout."""
    root = tmp_path_factory.mktemp("completion")
    proj = root / "proj"
    (proj / "data").mkdir(parents=True)
    (proj / "data" / "a.txt").write_text("one two\n")
    (proj / "Flowfile").write_text(FLOWFILE)
    (proj / "profiles" / "hpc").mkdir(parents=True)
    (proj / "profiles" / "hpc" / "config.yaml").write_text("jobs: 4\n")
    (proj / "other.flow").write_text('rule lonely:\n    output: "lonely.txt"\n    shell: "touch {output}"\n')
    broken = root / "broken"
    broken.mkdir()
    (broken / "Flowfile").write_text('rule a:\n    output: "x.txt\n')
    (broken / "notes.txt").write_text("")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "fileflow"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m fileflow "$@"\n')
    shim.chmod(0o755)
    return root


def shell_env(root: Path, **extra: str) -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)  # this checkout, as pytest sees it
    env.update(extra)
    return env


def script_text(shell: str, cwd: Path) -> str:
    out = subprocess.run([sys.executable, "-m", "fileflow", "completion", shell], cwd=cwd,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


# ---------------------------------------------------------------- bash

BASH_DRIVER = r'''
source "$1"
shift
for line in "$@"; do
    # As readline sets them: COMP_WORDS split at blanks (and at '=' and ':', which the
    # function ignores in favour of COMP_LINE), COMP_CWORD the last word.
    COMP_LINE=$line
    COMP_POINT=${#line}
    read -ra COMP_WORDS <<< "$line"
    [[ $line == *' ' ]] && COMP_WORDS+=("")
    COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
    COMPREPLY=()
    _fileflow_complete
    printf '%s\n' "${COMPREPLY[@]}"
    echo "@@"
done
'''


def bash_complete(root: Path, cwd: Path, *lines: str) -> list[list[str]]:
    """The candidates bash's completion function gives for each line (cursor at its end)."""
    script = root / "fileflow.bash"
    script.write_text(script_text("bash", cwd))
    out = subprocess.run(["bash", "--norc", "--noprofile", "-c", BASH_DRIVER, "bash", str(script), *lines],
                         cwd=cwd, env=shell_env(root), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    chunks = out.stdout.split("@@\n")[:-1]
    assert len(chunks) == len(lines), out.stdout
    return [[c for c in chunk.split("\n") if c] for chunk in chunks]


def test_bash_subcommands_flags_and_choices(project: Path) -> None:
    proj = project / "proj"
    (top, bu, build_fo, graph_flags, cluster, fmt, fmt_eq, level, shells, after_n) = bash_complete(
        project, proj, "fileflow ", "fileflow bu", "fileflow build --fo", "fileflow graph --",
        "fileflow build --cluster ", "fileflow graph --format ", "fileflow graph --format=m",
        "fileflow -q graph --level r", "fileflow completion ", "fileflow build -n -")
    assert top == list(COMMANDS)
    assert "completion" in top and "__complete" not in top
    assert bu == ["build"]
    assert sorted(build_fo) == ["--force", "--forceall", "--forcerun"]
    assert {"--format", "--level", "--output", "--db", "--directory", "--file", "--help"} <= set(graph_flags)
    assert "--cluster" not in graph_flags
    assert sorted(cluster) == ["drmaa", "slurm"]
    assert fmt == ["dot", "mermaid", "json", "text"]
    assert fmt_eq == ["mermaid"]  # readline replaces the text after '=' only
    assert level == ["rules"]
    assert shells == ["bash", "zsh", "fish"]
    assert "-n" not in after_n and "--dry-run" not in after_n and "--keep-going" in after_n


def test_bash_flags_are_the_parsers_flags(project: Path) -> None:
    """Completion reads the argparse parsers, so it offers exactly the options each command
    accepts: nothing missing, nothing invented."""
    names = [n for n in COMMANDS]
    found = bash_complete(project, project / "proj", *(f"fileflow {n} -" for n in names))
    for name, flags in zip(names, found):
        parser = parser_for(name)
        expected = {s for a in parser._actions for s in a.option_strings}
        assert set(flags) == expected, name


def test_bash_rule_names_and_targets(project: Path) -> None:
    proj = project / "proj"
    (forcerun, more, clean, set_res, targets, res, bare, here_dirs, profile) = bash_complete(
        project, proj, "fileflow build -R ", "fileflow build --forcerun count s", "fileflow clean ",
        "fileflow build --set-resources su", "fileflow build ", "fileflow build results/s",
        "fileflow res", "fileflow build d", "fileflow --profile h")
    assert forcerun == ["all", "count", "summary"]
    assert more == ["summary"]  # -R takes several rules
    assert clean == ["all", "count", "summary"]
    assert set_res == ["summary:"]
    # rules without wildcards, the outputs of those rules and the default target, then files
    assert targets[:4] == ["all", "summary", "results/summary.txt", "results/summary.json"]
    assert {"Flowfile", "data/", "other.flow"} <= set(targets[4:])
    assert "count" not in targets and not any("{" in t for t in targets)
    assert sorted(res) == ["results/summary.json", "results/summary.txt"]
    # no command starts so: build's targets
    assert sorted(bare) == ["results/summary.json", "results/summary.txt"]
    assert here_dirs == ["data/"]
    assert profile == ["hpc"]  # ./profiles/hpc/config.yaml


def test_bash_partial_build_options(project: Path) -> None:
    proj = project / "proj"
    (until, omit, batch, triggers, more, changes) = bash_complete(
        project, proj, "fileflow build --until ", "fileflow graph --omit-from results/s",
        "fileflow --batch su", "fileflow --rerun-triggers c", "fileflow --rerun-triggers code p",
        "fileflow --list-changes ")
    assert until[:3] == ["all", "count", "summary"]  # rules, then targets and files
    assert {"results/summary.txt", "Flowfile", "data/"} <= set(until)
    assert sorted(omit) == ["results/summary.json", "results/summary.txt"]
    assert batch == ["summary="]
    assert triggers == ["content", "code"]
    assert more == ["params"]  # several triggers
    assert changes == ["params", "code", "input"]


def test_bash_follows_directory_and_file_options(project: Path) -> None:
    (by_dir, dir_name, by_file, after_c_file) = bash_complete(
        project, project, "fileflow -C proj build a", "fileflow -C pr",
        "fileflow -C proj -f other.flow build ", "fileflow -C proj -f oth")
    assert by_dir == ["all"]
    assert dir_name == ["proj/"]
    assert by_file[:2] == ["lonely", "lonely.txt"]
    assert after_c_file == ["other.flow"]  # -f is read inside -C's directory, as fileflow does


def test_bash_broken_or_missing_flowfile_gives_no_error(project: Path) -> None:
    broken, nothing = project / "broken", project / "bin"
    (targets, flags, rules) = bash_complete(project, broken, "fileflow build ", "fileflow build --dr",
                                            "fileflow clean ")
    assert targets == ["Flowfile", "notes.txt"]  # files only: no rule names from a broken file
    assert flags == ["--dry-run", "--drmaa-native"]
    assert rules == []
    (top,) = bash_complete(project, nothing, "fileflow ")
    assert top == list(COMMANDS)


def test_bash_through_compgen(project: Path) -> None:
    script = project / "fileflow.bash"
    script.write_text(script_text("bash", project / "proj"))
    out = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c",
         'source "$1"; complete -p fileflow; compgen -F _fileflow_complete -- bu 2>/dev/null; '
         'echo @@; compgen -F _fileflow_complete -- results/ 2>/dev/null', "bash", str(script)],
        cwd=project / "proj", env=shell_env(project), capture_output=True, text=True, timeout=60)
    registered, first, second = out.stdout.split("\n", 1)[0], *out.stdout.split("\n", 1)[1].split("@@\n")
    assert registered == "complete -F _fileflow_complete fileflow"
    assert first.split() == ["build"]
    assert sorted(second.split()) == ["results/summary.json", "results/summary.txt"]


def type_with_tabs(argv: list[str], setup: str, lines: list[str], cwd: Path, env: dict) -> list[str]:
    """Each line typed into an interactive shell on a pseudo-terminal, Tab pressed at its end,
    then Enter: the arguments `fileflow` got, as the shell function `fileflow` that `setup`
    defines prints them ("42[ARGS]"; the completion script runs the real program)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the shell
        os.chdir(cwd)
        os.execvpe(argv[0], argv, env)
    seen, found = b"", []
    try:
        os.write(fd, (setup + "\n").encode())
        for line in lines:
            os.write(fd, (line + "\t\n").encode())
            deadline = time.monotonic() + 60
            while not (m := re.search(rb"42\[([^\]\r\n]*)\]", seen)):
                ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
                chunk = os.read(fd, 4096) if ready else b""
                assert chunk, f"no answer to {line!r}; the terminal showed: {seen[-400:]!r}"
                seen += chunk
            found.append(m.group(1).decode())
            seen = seen[m.end():]
    finally:
        os.kill(pid, signal.SIGKILL)  # the shell this test started; done with it either way
        os.waitpid(pid, 0)
        os.close(fd)
    return found


def test_bash_tab_in_an_interactive_shell(project: Path) -> None:
    """readline itself: the word it completes ends at '=' and ':', and a directory or a
    `RULE:` takes no space after it."""
    env = shell_env(project, PS1="$ ", TERM="dumb")
    typed = type_with_tabs(
        ["bash", "--norc", "--noprofile", "-i"],
        'source <(fileflow completion bash); fileflow() { echo "$((6*7))[$*]"; }',
        ["fileflow graph --format mer", "fileflow build --cluster=s", "fileflow build --set-resources su",
         "fileflow -C ../pro", "fileflow bu"], project / "proj", env)
    assert typed == ["graph --format mermaid", "build --cluster=slurm", "build --set-resources summary:",
                     "-C ../proj/", "build"]


def test_entry_point_with_words_only(project: Path) -> None:
    """`fileflow __complete SHELL CWORD WORDS...` without COMP_LINE (zsh, fish, a script)."""
    def run(*args: str) -> subprocess.CompletedProcess:
        env = shell_env(project)
        env.pop("COMP_LINE", None)
        return subprocess.run([sys.executable, "-m", "fileflow", "__complete", *args], cwd=project / "proj",
                              env=env, capture_output=True, text=True, timeout=60)

    fish = run("fish", "2", "fileflow", "graph", "--format=j")
    assert fish.stdout.splitlines() == ["--format=json"]
    zsh = run("zsh", "1", "fileflow", "su")
    assert zsh.stdout.splitlines() == [
        "summary\tsummary  -- one line per output: state, job, last built, size"]
    for bad in ([], ["zsh"], ["zsh", "x"], ["nosh", "1", "fileflow", ""]):
        out = run(*bad)
        assert (out.returncode, out.stderr) == (0, ""), bad
    helped = subprocess.run([sys.executable, "-m", "fileflow", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert "completion" in helped.stdout and "__complete" not in helped.stdout
    wrong = subprocess.run([sys.executable, "-m", "fileflow", "completion", "tcsh"],
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2 and "invalid choice" in wrong.stderr


# ---------------------------------------------------------------- fish

def test_fish_complete(project: Path) -> None:
    need_service(shutil.which("fish") is not None, "fish (apt-get install fish; .ci/shells-up.sh)")
    config = project / "fish-config"
    (config / "fish" / "completions").mkdir(parents=True, exist_ok=True)
    # the documented place: ~/.config/fish/completions/fileflow.fish, autoloaded by fish
    (config / "fish" / "completions" / "fileflow.fish").write_text(script_text("fish", project))
    lines = ["fileflow bu", "fileflow build --clu", "fileflow build --cluster ", "fileflow build ",
             "fileflow -R c"]
    command = "; ".join(f"complete -C {line!r}; echo @@" for line in lines)
    # fish reads its completions (and config) from XDG_CONFIG_HOME: the user's stay out of it
    env = shell_env(project, XDG_CONFIG_HOME=str(config), XDG_DATA_HOME=str(config))
    out = subprocess.run(["fish", "-c", command], cwd=project / "proj", env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    found = [[line.split("\t") for line in chunk.splitlines()] for chunk in out.stdout.split("@@\n")[:-1]]
    bu, clu, cluster, targets, forcerun = found
    assert bu == [["build", COMMANDS["build"][2]]]
    assert [c[0] for c in clu] == ["--cluster"]
    assert sorted(c[0] for c in cluster) == ["drmaa", "slurm"]
    values = {c[0]: c[1:] for c in targets}
    assert values["all"] == ["default target"] and values["summary"] == ["rule"]
    assert values["results/summary.txt"] == ["output of summary"]
    assert "data/" in values and "count" not in values
    assert [c[0] for c in forcerun] == ["count"]


# ---------------------------------------------------------------- zsh

ZSH_DRIVER = r'''
zmodload zsh/zpty || exit 3
zpty ff zsh -f -i
# the documented setup: _fileflow in a directory of $fpath, then compinit; `fileflow`
# itself is a function that prints its arguments, so the completed line shows after Enter
# (the completion script runs the real program through `command fileflow`).
setup="fpath=(${(q)1} \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w ff "$setup; fileflow() { print -r -- \"\$((6*7))[\$*]\" }"
shift
for line in "$@"; do
    zpty -w -n ff "$line"$'\t\n'
    zpty -r ff out '*42\[*\]*' || exit 4
    print -r -- "${${out##*42\[}%%\]*}"
done
zpty -d ff
'''


def test_zsh_script_and_completion(project: Path) -> None:
    need_service(shutil.which("zsh") is not None, "zsh (apt-get install zsh; .ci/shells-up.sh)")
    functions = project / "zsh-functions"
    functions.mkdir(exist_ok=True)
    (functions / "_fileflow").write_text(script_text("zsh", project))
    check = subprocess.run(["zsh", "-n", str(functions / "_fileflow")],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    lines = ["fileflow graph --format mer", "fileflow build --cluster=s", "fileflow build results/summary.t",
             "fileflow -C ../pro", "fileflow clean cou", "fileflow complet"]
    out = subprocess.run(["zsh", "-f", "-c", ZSH_DRIVER, "zsh", str(functions), *lines],
                         cwd=project / "proj", env=shell_env(project), capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, (out.stdout, out.stderr)
    assert out.stdout.splitlines() == [
        "graph --format mermaid", "build --cluster=slurm", "build results/summary.txt",
        "-C ../proj/", "clean count", "completion"]
