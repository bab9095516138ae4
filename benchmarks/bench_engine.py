"""Engine benchmark: fileflow against GNU make and Snakemake on the same generated workflow.

For each shape and size, the same workflow is written three times into a temporary
directory, once per tool (Flowfile, Makefile, Snakefile), each in its own folder with its
own copy of the input files. Every job runs the same shell command in all three tools
(`cat IN > OUT`, whose redirection makes make go through /bin/sh as well). Shapes:

  fanout   N-1 independent jobs `o/{i}.txt` <- `data/{i}.txt`, and one aggregate job
           `agg.txt` <- all of them (its command is `cat o/*.txt > agg.txt`, so the
           command line stays short at 100,000 inputs); with --plain the jobs run
           `cp IN OUT`, which needs no shell in make nor in fileflow
  chain    N steps: `o/0.txt` <- `data/0.txt`, `o/k.txt` <- `o/{k-1}.txt`; the per-job
           input is an expression on the wildcard (fileflow, Snakemake) or an explicit
           rule per step (make)
  diamond  layers of width W (--width): `d/0/{j}` <- `data/{j}`; `d/{l}/{j}` <-
           `d/{l-1}/{j}` and `d/{l-1}/{(j+1) % W}`; one aggregate over the last layer. Its
           jobs run `cat IN... | cksum > OUT`, so files keep their size (plain `cat` of two
           inputs would double it at every layer: 2^99 bytes at 10,000 jobs)

Phases (each measured --repeat times, the tools interleaved round-robin so that they share
the machine's load; the table shows medians):

  dry      dry run with nothing built (fileflow -n -q; make -n; snakemake -n -c1 --quiet)
           at every --sizes
  noop     everything up to date: one full build (not timed), then a second build timed
  changed  one input's content changed (data/0.txt), then a build timed
  command  (fan-out, fileflow only) the rule of 1,000 of the jobs (`o/0.txt`..`o/999.txt`,
           a rule of their own) gets another command, then a build timed; also the time
           to the first job's start (each of those jobs appends `date +%s%N` to
           starts.txt): the planning before anything runs, which the target is for
  full     full build from scratch with 2 parallel jobs (fileflow -j 2; make -j 2;
           snakemake -c 2), outputs and run log/metadata removed before each run

The dry run writes its input files once per cell, in a folder every tool's data/ links to
(nothing writes them); a million of them take one to two minutes to write and 4 GiB of
disk (one block each). make copes with a million-job dry run: about 2 GiB and twice
fileflow's time.

noop, changed and full run at --build-size (default 10,000). Wall time is measured around
the child process; peak memory is the child's maximum resident set size from wait4 (the
largest single process of its tree). A run that exceeds --timeout is killed (its process
group) and reported as "killed at T"; a tool that failed or was killed in a cell is not
run again in that cell.

    python benchmarks/bench_engine.py                                  # everything (long)
    python benchmarks/bench_engine.py --sizes 1000 --repeat 1          # quick check
    python benchmarks/bench_engine.py --phases dry --shapes chain --sizes 50000
    python benchmarks/bench_engine.py --phases dry --shapes fanout --sizes 1000000 \
        --tools fileflow,make --repeat 1 --timeout 1800   # a million jobs; see below
    python benchmarks/bench_engine.py --tools fileflow,make --phases full
    python benchmarks/bench_engine.py --profile /tmp/prof             # + cProfile of fileflow
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

TOOLS = ("fileflow", "make", "snakemake")
SHAPES = ("fanout", "chain", "diamond")
PHASES = ("dry", "noop", "changed", "command", "full")
DEFAULT_SNAKEMAKE = "/opt/bench-snakemake/bin/snakemake"
JOBS = 2  # parallel jobs for every build (-j 2 / -c 2)

# Reference figures of make and Snakemake on this kind of machine when the targets were set
# (seconds), so a target can also be read at the speed the machine has today (target x make
# now / make then).
ISSUE_REFERENCE = {
    ("dry", "fanout", 10000): {"make": 0.10, "snakemake": 4.9},
    ("dry", "fanout", 50000): {"make": 0.53, "snakemake": 23.0},
    ("noop", "fanout", 10000): {"make": 0.07, "snakemake": 6.6},
    ("changed", "fanout", 10000): {"make": 0.13, "snakemake": 12.9},
    ("full", "fanout", 10000): {"make": 11.1},
}

# The performance targets (fan-out shape unless said otherwise): (seconds, MiB or None, x make or None)
TARGETS = {
    ("dry", "fanout", 10000): (0.5, None, None),
    ("dry", "fanout", 50000): (1.5, 300, None),
    ("dry", "fanout", 100000): (3.0, 500, None),
    ("dry", "fanout", 1000000): (15.0, 2560, None),
    ("noop", "fanout", 10000): (0.5, None, None),
    ("changed", "fanout", 10000): (0.3, None, None),
    ("command", "fanout", 10000): (0.3, None, None),  # to the first job's start
    ("noop", "fanout", 100000): (0.8, None, None),
    ("changed", "fanout", 100000): (1.5, None, None),
    ("full", "fanout", 10000): (None, None, 1.15),
    ("dry", "chain", 50000): (3.0, None, None),
}


# ---------------------------------------------------------------- workflow generation

def _jobs_in(shape: str, n: int, width: int) -> tuple[int, int]:
    """(jobs that make files, layers) for a shape of about n jobs."""
    if shape == "diamond":
        layers = max(1, (n - 1) // width)
        return layers * width + 1, layers
    return n, 0


def plain_commands(text: str) -> str:
    """--plain: `cp IN OUT` instead of `cat IN > OUT` (fan-out and chain jobs), a command
    that needs no shell, so make and fileflow both exec cp directly."""
    return (text.replace('shell: "cat {input} > {output}"', 'shell: "cp {input} {output}"')
                .replace("\tcat $< > $@\n", "\tcp $< $@\n"))


def write_sources(folder: str, sources: range) -> None:
    """data/{i}.txt holding "i\n" for every i: raw os calls, no file objects (a million
    files take a minute or more here; the file system, not Python, is most of it)."""
    os.makedirs(folder)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    for i in sources:
        fd = os.open(os.path.join(folder, f"{i}.txt"), flags, 0o644)
        try:
            os.write(fd, b"%d\n" % i)
        finally:
            os.close(fd)


def generate(root: str, shape: str, n: int, width: int, tools: list[str],
             plain: bool = False, share_data: bool = False) -> dict[str, str]:
    """Write the workflow for every tool under root/<tool>/; return tool -> directory.
    share_data (the dry run, which writes nothing): the input files are written once, in
    root/data, and every tool's data/ is a symbolic link to it."""
    dirs = {}
    jobs, layers = _jobs_in(shape, n, width)
    for tool in tools:
        d = os.path.join(root, tool)
        os.makedirs(d)
        if shape == "fanout":
            sources = range(n - 1)
            os.makedirs(os.path.join(d, "o"))
        elif shape == "chain":
            sources = range(1)
            os.makedirs(os.path.join(d, "o"))
        else:
            sources = range(width)
            for layer in range(layers):
                os.makedirs(os.path.join(d, "d", str(layer)))
        if not share_data:
            write_sources(os.path.join(d, "data"), sources)
        else:
            if not os.path.isdir(os.path.join(root, "data")):
                write_sources(os.path.join(root, "data"), sources)
            os.symlink(os.path.join("..", "data"), os.path.join(d, "data"))
        text = WRITERS[tool](shape, n, width, layers)
        if plain and shape != "diamond":
            text = plain_commands(text)
        if tool == "snakemake":  # for --snakemake-prebuild make
            with open(os.path.join(d, "Makefile.prebuild"), "w") as fh:
                fh.write(makefile(shape, n, width, layers))
        name = {"fileflow": "Flowfile", "baseline": "Flowfile", "make": "Makefile",
                "snakemake": "Snakefile"}[tool]
        with open(os.path.join(d, name), "w") as fh:
            fh.write(text)
        dirs[tool] = d
    return dirs


def flowfile(shape: str, n: int, width: int, layers: int) -> str:
    if shape == "fanout":
        return f'''\
N = {n - 1}
rule all:
    input: "agg.txt"
rule agg:
    input: expand("o/{{i}}.txt", i=range(N))
    output: "agg.txt"
    shell: "cat o/*.txt > {{output}}"
rule work:
    input: "data/{{i}}.txt"
    output: "o/{{i}}.txt"
    shell: "cat {{input}} > {{output}}"
'''
    if shape == "chain":
        return f'''\
rule all:
    input: "o/{n - 1}.txt"
rule step:
    input: "data/0.txt" if wildcards.k == "0" else "o/" + str(int(wildcards.k) - 1) + ".txt"
    output: "o/{{k}}.txt"
    shell: "cat {{input}} > {{output}}"
'''
    return f'''\
W = {width}
rule all:
    input: "agg.txt"
rule agg:
    input: expand("d/{layers - 1}/{{j}}.txt", j=range(W))
    output: "agg.txt"
    shell: "cat {{input}} > {{output}}"
rule node:
    input: ["data/" + wildcards.j + ".txt"] if wildcards.l == "0" else [
        "d/" + str(int(wildcards.l) - 1) + "/" + wildcards.j + ".txt",
        "d/" + str(int(wildcards.l) - 1) + "/" + str((int(wildcards.j) + 1) % W) + ".txt"]
    output: "d/{{l}}/{{j}}.txt"
    shell: "cat {{input}} | cksum > {{output}}"
'''


def makefile(shape: str, n: int, width: int, layers: int) -> str:
    # No built-in implicit rules or suffixes: a generated Makefile would say so, and it
    # spares make from looking for data/0.txt.c and friends (makes make faster, not slower).
    head = "MAKEFLAGS += --no-builtin-rules\n.SUFFIXES:\n.PHONY: all\n"
    if shape == "fanout":
        outs = " ".join(f"o/{i}.txt" for i in range(n - 1))
        return (head + "all: agg.txt\n"
                f"agg.txt: {outs}\n\tcat o/*.txt > $@\n"
                "o/%.txt: data/%.txt\n\tcat $< > $@\n")
    if shape == "chain":
        lines = [head, f"all: o/{n - 1}.txt\n", "o/0.txt: data/0.txt\n\tcat $< > $@\n"]
        lines += [f"o/{k}.txt: o/{k - 1}.txt\n\tcat $< > $@\n" for k in range(1, n)]
        return "".join(lines)
    last = " ".join(f"d/{layers - 1}/{j}.txt" for j in range(width))
    lines = [head, "all: agg.txt\n", f"agg.txt: {last}\n\tcat $^ > $@\n",
             "d/0/%.txt: data/%.txt\n\tcat $^ | cksum > $@\n"]
    for layer in range(1, layers):
        for j in range(width):
            lines.append(f"d/{layer}/{j}.txt: d/{layer - 1}/{j}.txt d/{layer - 1}/{(j + 1) % width}.txt\n"
                         "\tcat $^ | cksum > $@\n")
    return "".join(lines)


def snakefile(shape: str, n: int, width: int, layers: int) -> str:
    if shape == "fanout":
        return f'''\
N = {n - 1}
rule all:
    input: "agg.txt"
rule agg:
    input: expand("o/{{i}}.txt", i=range(N))
    output: "agg.txt"
    shell: "cat o/*.txt > {{output}}"
rule work:
    input: "data/{{i}}.txt"
    output: "o/{{i}}.txt"
    shell: "cat {{input}} > {{output}}"
'''
    if shape == "chain":
        return f'''\
rule all:
    input: "o/{n - 1}.txt"
rule step:
    input: lambda wc: "data/0.txt" if wc.k == "0" else f"o/{{int(wc.k) - 1}}.txt"
    output: "o/{{k}}.txt"
    shell: "cat {{input}} > {{output}}"
'''
    return f'''\
W = {width}
def node_inputs(wc):
    l, j = int(wc.l), int(wc.j)
    if l == 0:
        return [f"data/{{j}}.txt"]
    return [f"d/{{l - 1}}/{{j}}.txt", f"d/{{l - 1}}/{{(j + 1) % W}}.txt"]
rule all:
    input: "agg.txt"
rule agg:
    input: expand("d/{layers - 1}/{{j}}.txt", j=range(W))
    output: "agg.txt"
    shell: "cat {{input}} > {{output}}"
rule node:
    input: node_inputs
    output: "d/{{l}}/{{j}}.txt"
    shell: "cat {{input}} | cksum > {{output}}"
'''


WRITERS = {"fileflow": flowfile, "baseline": flowfile, "make": makefile, "snakemake": snakefile}


# ---------------------------------------------------------------- commands

def fileflow_exe(path: str | None) -> list[str]:
    """--fileflow, else the real console script next to this interpreter (not a pyenv shim,
    which is a bash script costing tens of milliseconds per call)."""
    if path:
        return [os.path.abspath(path) if os.path.exists(path) else shutil.which(path) or path]
    beside = os.path.join(os.path.dirname(sys.executable), "fileflow")
    if os.path.exists(beside):
        return [beside]
    found = shutil.which("fileflow")
    return [found] if found else [sys.executable, "-m", "fileflow"]


def command(tool: str, phase: str, exes: dict[str, list[str]]) -> list[str]:
    exe = exes[tool]
    tool = "fileflow" if tool == "baseline" else tool  # --baseline: another fileflow
    if phase == "dry":
        return exe + {"fileflow": ["-n", "-q"], "make": ["-n"],
                      "snakemake": ["-n", "-c1", "--quiet"]}[tool]
    return exe + {"fileflow": ["-q", "-j", str(JOBS)], "make": ["-j", str(JOBS)],
                  "snakemake": ["-c", str(JOBS)]}[tool]


def clean_dir(d: str) -> None:
    """Remove every output and the tools' own records; keep data/ and the workflow files."""
    for name in ("o", "d"):
        top = os.path.join(d, name)
        if os.path.isdir(top):
            for dirpath, _, files in os.walk(top):
                for f in files:
                    os.unlink(os.path.join(dirpath, f))
    for name in ("agg.txt",):
        if os.path.exists(os.path.join(d, name)):
            os.unlink(os.path.join(d, name))
    for name in (".fileflow", ".snakemake"):
        shutil.rmtree(os.path.join(d, name), ignore_errors=True)
    # Write the deletions out now: otherwise the timed run that follows pays for the
    # writeback of 10,000-20,000 unlinks (seen: the same full run taking 16 s or 30 s).
    os.sync()


# ---------------------------------------------------------------- running one process

# Left out of every run's environment. PYTHONDONTWRITEBYTECODE too: an installed fileflow
# has its modules compiled (pip compiles them), and without their bytecode each process
# compiles every module it imports again (a small dry run: 0.28 s against 0.17 s here).
UNSET = ("FILEFLOW_DB", "MAKEFLAGS", "MFLAGS", "PYTHONDONTWRITEBYTECODE")


def warm_up(exe: list[str], root: str, extra_env: dict) -> None:
    """One dry run of a small workflow, not timed: the modules a build imports get their
    bytecode written, as an installation's are (UNSET)."""
    folder = tempfile.mkdtemp(prefix="warm-", dir=root)
    with open(os.path.join(folder, "Flowfile"), "w") as fh:
        fh.write('rule all:\n    input: "a"\nrule a:\n    output: "a"\n    shell: "touch {output}"\n')
    run(exe + ["build", "-n", "-q"], folder, 120, os.path.join(folder, "log"), extra_env)
    shutil.rmtree(folder, ignore_errors=True)


def tool_env(tool: str, args) -> dict[str, str]:
    """What a tool's runs add to the environment: fileflow runs in its own process, except
    the tools in daemon_tools(args), which build daemons started for the benchmark run."""
    if tool in daemon_tools(args):
        return {}
    return {"FILEFLOW_NO_DAEMON": "1"}


def daemon_tools(args) -> list[str]:
    """The tools whose commands a build daemon runs: fileflow with --daemon, the baseline
    too with --daemon-baseline (each installation has its own daemon)."""
    return ((["fileflow"] if getattr(args, "daemon", False) else [])
            + (["baseline"] if getattr(args, "daemon_baseline", False) else []))


def run(argv: list[str], cwd: str, timeout: float, log: str, extra_env: dict | None = None) -> dict:
    """Run argv in cwd with stdout+stderr to the file log; wall time, peak RSS, status."""
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update(extra_env or {})
    with open(log, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        killed = threading.Event()

        def kill():
            killed.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    if killed.is_set():
        try:  # leftovers of the killed tree
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        state = f"killed at {timeout:.0f} s"
    elif code == 0:
        state = "ok"
    elif code < 0:
        state = f"signal {signal.Signals(-code).name}"
    else:
        state = f"exit {code}"
    with open(log, "rb") as fh:
        fh.seek(max(0, os.path.getsize(log) - 4000))
        tail = fh.read().decode(errors="replace")
    # cpu: user + system time of the process and the children it waited for (a build's
    # jobs), which a shared machine's load inflates far less than the wall time
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mib": usage.ru_maxrss / 1024,
            "status": state, "tail": tail}


def jobs_run(tool: str, phase: str, tail: str, log: str) -> int | None:
    """How many jobs the tool ran or would run, read from its output (a sanity check)."""
    if tool in ("fileflow", "baseline"):
        m = re.search(r"dry run: (\d+) of", tail) or re.search(r"(\d+) done", tail)
        if m:
            return int(m.group(1))
        return 0 if "nothing to do" in tail or not tail.strip() else None
    if tool == "make":
        if "Nothing to be done" in tail or "is up to date" in tail:
            return 0
        with open(log, errors="replace") as fh:
            return sum(1 for line in fh if line.startswith(("cat ", "cp ")))
    progress = list(re.finditer(r"(\d+) of (\d+) steps", tail))
    if progress:
        return int(progress[-1].group(1))
    m = re.search(r"^total\s+(\d+)", tail, re.M)
    if m:
        return int(m.group(1))
    return 0 if "Nothing to be done" in tail else None


# ---------------------------------------------------------------- phases

def change_input(d: str, rep: int) -> None:
    with open(os.path.join(d, "data", "0.txt"), "w") as fh:
        fh.write(f"0 changed {rep} {time.time_ns()}\n")


SPLIT_RULES = '''rule work:
    input: "data/{i}.txt"
    output: "o/{i}.txt"
    wildcard_constraints: i = "[0-9]{4,}"
    shell: "cat {input} > {output}"
rule part:
    input: "data/{i}.txt"
    output: "o/{i}.txt"
    wildcard_constraints: i = "[0-9]{1,3}"
    shell: "COMMAND"
'''


def split_rule(d: str, version: int) -> None:
    """The command phase's Flowfile: the fan-out's jobs 0..999 made by a rule of their own,
    `part`, whose command is version `version` (0: as the other jobs'; later ones also
    append the time they start to starts.txt)."""
    path = os.path.join(d, "Flowfile")
    with open(path) as fh:
        text = fh.read()
    head = text[:text.index("rule work:")]
    cmd = ("cat {input} > {output}" if version == 0 else
           f"date +%s%N >> starts.txt; cat {{input}} > {{output}} # v{version}")
    with open(path, "w") as fh:
        fh.write(head + SPLIT_RULES.replace("COMMAND", cmd))
    starts = os.path.join(d, "starts.txt")
    if os.path.exists(starts):
        os.unlink(starts)


def first_job_start(d: str, started_ns: int) -> float | None:
    """Seconds from the build's start to the first job's (from starts.txt)."""
    try:
        with open(os.path.join(d, "starts.txt")) as fh:
            stamps = [int(line) for line in fh if line.strip().isdigit()]
    except OSError:
        return None
    return (min(stamps) - started_ns) / 1e9 if stamps else None


def prebuild(tool: str, d: str, exes, args, logdir: str) -> dict:
    """Build everything once. Snakemake needs minutes for 10,000 jobs (see the full phase), so
    by default its files are made by make from the same commands; Snakemake then finds the
    outputs present and newer than their inputs, with no metadata of its own for them."""
    clean_dir(d)
    log = os.path.join(logdir, f"prebuild-{tool}.log")
    if tool == "snakemake" and args.snakemake_prebuild == "make":
        return run(["make", "-f", "Makefile.prebuild", "-j", str(JOBS)], d, args.timeout, log)
    return run(command(tool, "build", exes), d, args.timeout, log, tool_env(tool, args))


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def measure_cell(phase: str, shape: str, n: int, args, exes, tools: list[str], root: str) -> dict:
    cell = f"{phase}-{shape}-{n}"
    base = os.path.join(root, cell)
    logdir = os.path.join(base, "logs")
    os.makedirs(logdir)
    t0 = time.perf_counter()
    dirs = generate(base, shape, n, args.width, tools, args.plain, share_data=phase == "dry")
    os.sync()  # the inputs written out now: else the first timed run pays for their writeback
    gen = time.perf_counter() - t0
    jobs, _ = _jobs_in(shape, n, args.width)
    result = {"phase": phase, "shape": shape, "n": n, "jobs": jobs + 1, "load_before": load(),
              "job_command": "cp IN OUT" if args.plain and shape != "diamond" else "shell (cat ... > OUT)",
              "tools": {t: {"runs": [], "command": " ".join(command(t, phase, exes))} for t in tools},
              "generate_s": round(gen, 2)}
    print(f"\n== {cell}: {jobs + 1} jobs (incl. the 'all' target), load {load()}", flush=True)

    if phase == "command":  # fileflow and baseline only: make has no notion of a changed command
        tools = [t for t in tools if t in ("fileflow", "baseline")]
        result["tools"] = {t: e for t, e in result["tools"].items() if t in tools}
        for tool in tools:
            split_rule(dirs[tool], 0)
    if phase in ("noop", "changed", "command"):
        for tool in tools:
            pre = prebuild(tool, dirs[tool], exes, args, logdir)
            result["tools"][tool]["prebuild"] = {k: v for k, v in pre.items() if k != "tail"}
            print(f"   prebuild {tool}: {pre['status']} in {pre['wall']:.1f} s", flush=True)
            if pre["status"] != "ok":
                result["tools"][tool]["failed"] = f"prebuild {pre['status']}"
                result["tools"][tool]["tail"] = pre["tail"][-1500:]

    _check_disk(base)
    for rep in range(args.repeat):
        _check_disk(base)
        for tool in tools:
            entry = result["tools"][tool]
            if entry.get("failed"):
                continue
            d = dirs[tool]
            if phase == "full":
                clean_dir(d)
            elif phase == "changed":
                change_input(d, rep)
            elif phase == "command":
                split_rule(d, rep + 1)
            log = os.path.join(logdir, f"{tool}-{rep}.log")
            started_ns = time.time_ns()
            r = run(command(tool, phase, exes), d, args.timeout, log, tool_env(tool, args))
            if phase == "command":
                r["first_job_s"] = first_job_start(d, started_ns)
            r["jobs_run"] = jobs_run(tool, phase, r["tail"], log)
            entry["runs"].append({k: v for k, v in r.items() if k != "tail"})
            first = f"  first job at {r['first_job_s']:.3f} s" if r.get("first_job_s") else ""
            print(f"   {tool:<9} rep {rep}: {r['status']:<16} {r['wall']:8.3f} s (cpu {r['cpu']:7.2f} s)"
                  f" {r['rss_mib']:7.0f} MiB"
                  f"  jobs {r['jobs_run']}{first}  (load {load()})", flush=True)
            if r["status"] != "ok":
                entry["failed"] = r["status"]
                entry["tail"] = r["tail"][-1500:]
                first = next((ln for ln in r["tail"].splitlines()
                              if "Error" in ln or "error" in ln), "")
                if first:
                    print(f"             {first[:160]}", flush=True)

    for tool in tools:
        entry = result["tools"][tool]
        ok = [r for r in entry["runs"] if r["status"] == "ok"]
        if ok:
            entry["median_s"] = statistics.median(r["wall"] for r in ok)
            entry["median_rss_mib"] = statistics.median(r["rss_mib"] for r in ok)
            entry["median_cpu_s"] = statistics.median(r["cpu"] for r in ok)
            entry["min_s"] = min(r["wall"] for r in ok)
            entry["max_s"] = max(r["wall"] for r in ok)
            firsts = [r["first_job_s"] for r in ok if r.get("first_job_s") is not None]
            if firsts:
                entry["median_first_job_s"] = statistics.median(firsts)
    ff = result["tools"].get("fileflow", {})
    for other in ("make", "snakemake", "baseline"):
        o = result["tools"].get(other, {})
        if "median_s" in ff and "median_s" in o:
            result[f"ratio_{other}"] = ff["median_s"] / o["median_s"]
            pairs = [a["wall"] / b["wall"] for a, b in zip(ff["runs"], o["runs"])
                     if a["status"] == b["status"] == "ok"]
            result[f"ratio_{other}_paired_median"] = statistics.median(pairs) if pairs else None
            result[f"ratio_{other}_cpu"] = ff["median_cpu_s"] / max(o["median_cpu_s"], 1e-9)
    result["load_after"] = load()
    result["verdict"] = verdict(result)
    scaled = scaled_target(result)
    if scaled is not None:
        result["target_scaled_s"] = scaled
        result["verdict_scaled"] = "met" if ff.get("median_s", float("inf")) <= scaled else "missed"

    if args.profile and "fileflow" in tools and not ff.get("failed"):
        result["profile"] = profile_fileflow(phase, cell, dirs["fileflow"], exes, args)
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    return result


def _check_disk(path: str, need_gib: float = 5.0) -> None:
    """Stop before a generated workflow can fill a disk other people's tests share."""
    free = shutil.disk_usage(path).free / 2**30
    if free < need_gib:
        raise SystemExit(f"only {free:.1f} GiB free under {path}; stopping")


def verdict(result: dict) -> str:
    target = TARGETS.get((result["phase"], result["shape"], result["n"]))
    if not target:
        return ""
    seconds, mib, times_make = target
    ff = result["tools"].get("fileflow", {})
    if "median_s" not in ff:
        return "missed (" + ff.get("failed", "not run") + ")"
    misses = []
    timed = _timed(result["phase"], ff)
    if seconds is not None and (timed is None or timed > seconds):
        misses.append(f"{timed:.2f} s > {seconds} s" if timed is not None
                      else "no first job's start seen")
    if mib is not None and ff["median_rss_mib"] > mib:
        misses.append(f"{ff['median_rss_mib']:.0f} MiB > {mib} MiB")
    if times_make is not None:
        ratio = result.get("ratio_make")
        if ratio is None:
            return "unknown (make not measured)"
        if ratio > times_make:
            misses.append(f"{ratio:.2f} x make > {times_make} x")
    return "missed: " + "; ".join(misses) if misses else "met"


def _timed(phase: str, entry: dict) -> float | None:
    """The median a time target is for: the command phase's is the time to the first
    job's start (the planning), every other phase's the whole run."""
    return entry.get("median_first_job_s") if phase == "command" else entry.get("median_s")


def scaled_target(result: dict) -> float | None:
    """The time target scaled by how much slower make is here today than in the reference."""
    key = (result["phase"], result["shape"], result["n"])
    target, ref = TARGETS.get(key), ISSUE_REFERENCE.get(key, {})
    make = result["tools"].get("make", {})
    if not target or target[0] is None or "make" not in ref or "median_s" not in make:
        return None
    return target[0] * make["median_s"] / ref["make"]


def target_text(phase: str, shape: str, n: int) -> str:
    target = TARGETS.get((phase, shape, n))
    if not target:
        return ""
    seconds, mib, times_make = target
    parts = []
    if seconds is not None:
        parts.append(f"<= {seconds:g} s")
    if mib is not None:
        parts.append(f"<= {mib} MiB")
    if times_make is not None:
        parts.append(f"<= {times_make} x make")
    return ", ".join(parts)


# ---------------------------------------------------------------- profile

def profile_fileflow(phase: str, cell: str, d: str, exes, args, top: int = 20) -> list[dict]:
    """One more fileflow run of the same phase under cProfile; the top costs by cumulative time."""
    os.makedirs(args.profile, exist_ok=True)
    out = os.path.join(os.path.abspath(args.profile), f"{cell}.prof")
    if phase == "full":
        clean_dir(d)
    elif phase == "changed":
        change_input(d, 999)
    python = fileflow_python(exes["fileflow"])
    fileflow_args = command("fileflow", phase, exes)[len(exes["fileflow"]):]
    argv = [python, "-m", "cProfile", "-o", out, "-m", "fileflow"] + fileflow_args
    r = run(argv, d, args.timeout, os.path.join(d, "..", "logs", "profile.log"))
    if r["status"] != "ok":
        print(f"   profile run: {r['status']}")
        return []
    return show_profile(out, top)


# Frames above fileflow's own entry point: always ~100%, never informative.
_WRAPPERS = ("<string>:", "<frozen runpy>:", "fileflow.__main__:", "builtins:<built-in method builtins.exec>")


def show_profile(path: str, top: int = 20) -> dict:
    """Print and return a .prof file's top costs, as shares of the whole process's time."""
    import pstats

    stats = pstats.Stats(path)
    rows = []
    for (filename, line, func), (_cc, nc, tt, ct, _callers) in stats.stats.items():
        rows.append({"function": f"{_module(filename)}:{func}", "line": line, "calls": nc,
                     "own_s": tt, "cum_s": ct})
    total = max((r["cum_s"] for r in rows), default=0) or 1.0  # the root: the whole run
    for r in rows:
        r["cum_share"] = r["cum_s"] / total
        r["own_share"] = r["own_s"] / total
    by_cum = [r for r in sorted(rows, key=lambda r: -r["cum_s"])
              if not r["function"].startswith(_WRAPPERS)][:top]
    by_own = sorted(rows, key=lambda r: -r["own_s"])[:top]
    print(f"   cProfile of fileflow ({total:.2f} s under the profiler, {path}); top by cumulative time:")
    for r in by_cum:
        print(f"     {r['cum_share'] * 100:5.1f}%  {r['cum_s']:7.3f} s  {r['calls']:>9}  "
              f"{r['function']}:{r['line']}")
    print("   top by own time:")
    for r in by_own[:12]:
        print(f"     {r['own_share'] * 100:5.1f}%  {r['own_s']:7.3f} s  {r['calls']:>9}  "
              f"{r['function']}:{r['line']}")
    return {"total_s": total, "file": path, "by_cumulative": by_cum, "by_own": by_own}


def fileflow_python(exe: list[str]) -> str:
    """The interpreter that runs this fileflow: its script's #! line, or exe itself."""
    if exe[0].endswith("python") or len(exe) > 1:
        return exe[0]
    with open(exe[0], "rb") as fh:
        first = fh.readline().decode(errors="replace").strip()
    return first[2:].strip() if first.startswith("#!") and "python" in first else sys.executable


def _module(filename: str) -> str:
    if filename == "~":
        return "builtins"
    for marker in ("/fileflow/", "/site-packages/", "/lib/python3."):
        if marker in filename:
            tail = filename.split(marker, 1)[1]
            if marker == "/lib/python3.":
                tail = tail.split("/", 1)[1] if "/" in tail else tail
            prefix = "fileflow." if marker == "/fileflow/" else ""
            return prefix + tail.removesuffix(".py").replace("/", ".")
    return os.path.basename(filename)


# ---------------------------------------------------------------- machine and report

def machine(exes) -> dict:
    def out(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""

    cpu = ""
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as fh:
        mem_kib = int(fh.readline().split()[1])
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    info = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "nproc": os.cpu_count(), "cpu": cpu, "memory_gib": round(mem_kib / 2**20, 1),
        "kernel": platform.release(), "python": platform.python_version(),
        "make": out(["make", "--version"]).splitlines()[0] if shutil.which("make") else "",
        "fileflow": out(exes["fileflow"] + ["--version"]),
        "fileflow_exe": " ".join(exes["fileflow"]),
        "repo_commit": out(["git", "-C", repo, "rev-parse", "--short", "HEAD"]),
        "repo_fileflow_dirty": bool(out(["git", "-C", repo, "status", "--porcelain", "--", "fileflow"])),
        "load_at_start": load(),
    }
    if "snakemake" in exes:
        info["snakemake"] = out(exes["snakemake"] + ["--version"])
    if "baseline" in exes:
        info["baseline_exe"] = " ".join(exes["baseline"])
    return info


def fmt_tool(entry: dict | None) -> str:
    if entry is None:
        return "-"
    if "median_s" in entry:
        first = (f", first job {entry['median_first_job_s']:.3g} s"
                 if "median_first_job_s" in entry else "")
        return f"{entry['median_s']:.3g} s{first}, {entry['median_rss_mib']:.0f} MiB"
    return entry.get("failed", "-")


def table(results: list[dict], tools: list[str]) -> str:
    head = ["phase", "shape", "jobs"] + tools + ["ff/make", "ff/smk", "target", "met?",
                                                  "target x make's slowdown", "met?"]
    rows = []
    for r in results:
        row = [r["phase"], r["shape"], f"{r['jobs']:,}"]
        row += [fmt_tool(r["tools"].get(t)) for t in tools]
        row.append(f"{r['ratio_make']:.2f} (cpu {r['ratio_make_cpu']:.2f})" if "ratio_make" in r else "")
        row.append(f"{r['ratio_snakemake']:.3f}" if "ratio_snakemake" in r else "")
        if "ratio_baseline" in r:
            row[-1] += f" (ff/baseline {r['ratio_baseline']:.2f}, paired "
            row[-1] += f"{r['ratio_baseline_paired_median']:.2f}, cpu {r['ratio_baseline_cpu']:.2f})"
        row.append(target_text(r["phase"], r["shape"], r["n"]))
        row.append(r["verdict"])
        row.append(f"<= {r['target_scaled_s']:.2f} s" if "target_scaled_s" in r else "")
        row.append(r.get("verdict_scaled", ""))
        rows.append(row)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(row, widths)) for row in [head] + rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown(paths: list[str]) -> str:
    """Results files -> one Markdown table (for docs/performance.md)."""
    results = []
    for path in paths:
        with open(path) as fh:
            results.extend(json.load(fh)["results"])
    head = ("| phase | shape | jobs | Snakemake | GNU make | fileflow | fileflow / make | "
            "fileflow / Snakemake | target | met? | target x make's slowdown here | met? |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        tools = r["tools"]

        def cell(name, tools=tools):
            e = tools.get(name)
            if e is None:
                return "not run"
            if "median_s" in e:
                return fmt_tool(e)
            text = e.get("failed", "-")
            if "RecursionError" in e.get("tail", ""):
                text = f"RecursionError ({text})"
            elif "SIGSEGV" in text:
                text = "segfault (SIGSEGV)"
            done = [x.get("jobs_run") for x in e.get("runs", []) if x.get("jobs_run")]
            return text + (f" ({done[0]} jobs done)" if done and "killed" in text else "")

        ff = tools.get("fileflow", {})
        smk = tools.get("snakemake", {})
        ratio_smk = f"{r['ratio_snakemake']:.3f}" if "ratio_snakemake" in r else ""
        if not ratio_smk and "median_s" in ff and "killed" in smk.get("failed", ""):
            ratio_smk = f"< {ff['median_s'] / float(smk['failed'].split()[2]):.3f}"
        shape = r["shape"] + (" (cp)" if r.get("job_command", "").startswith("cp") else "")
        lines.append("| " + " | ".join([
            r["phase"], shape, f"{r['jobs']:,}", cell("snakemake"), cell("make"), cell("fileflow"),
            f"{r['ratio_make']:.2f}" if "ratio_make" in r else "", ratio_smk,
            target_text(r["phase"], r["shape"], r["n"]), r.get("verdict", ""),
            f"<= {r['target_scaled_s']:.2f} s" if "target_scaled_s" in r else "",
            r.get("verdict_scaled", "")]) + " |")
    return "\n".join(lines)


def parse_list(text: str, allowed=None, cast=str) -> list:
    items = [cast(x.strip().replace("_", "")) if cast is int else x.strip()
             for x in text.split(",") if x.strip()]
    if allowed:
        bad = [x for x in items if x not in allowed]
        if bad:
            raise SystemExit(f"unknown value(s) {bad}; choose from {', '.join(allowed)}")
    return items


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    ap.add_argument("--sizes", default="10000,50000,100000", help="job counts for the dry run")
    ap.add_argument("--build-size", type=int, default=10000,
                    help="job count for the noop, changed and full phases (default 10000)")
    ap.add_argument("--shapes", default="fanout,chain,diamond")
    ap.add_argument("--phases", default=",".join(PHASES))
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--repeat", type=int, default=5, help="runs per tool and cell (default 5)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds before a run is killed")
    ap.add_argument("--width", type=int, default=100, help="width of the diamond's layers")
    ap.add_argument("--plain", action="store_true",
                    help="fan-out and chain jobs run `cp IN OUT` (no shell needed) instead of "
                         "`cat IN > OUT` (a redirection: make and fileflow both start a shell)")
    ap.add_argument("--fileflow", default=None, metavar="PATH",
                    help="the fileflow executable (default: the one installed beside this Python); "
                         "benchmarks/snapshot_fileflow.sh installs a fixed commit")
    ap.add_argument("--baseline", default=None, metavar="PATH",
                    help="another fileflow executable (say, a snapshot of main) run as one more "
                         "tool, interleaved, for an A/B comparison: ff/baseline in the table")
    ap.add_argument("--daemon", action="store_true",
                    help="run the fileflow tool's commands through a build daemon (`fileflow daemon "
                         "start`) started for the benchmark; --baseline and the rest run in their own "
                         "process. Its CPU figures are then the caller's alone")
    ap.add_argument("--daemon-baseline", action="store_true",
                    help="run the --baseline tool's commands through a build daemon of its own "
                         "too: an A/B comparison of two versions both through daemons")
    ap.add_argument("--snakemake", default=None, metavar="PATH",
                    help=f"the snakemake executable (default {DEFAULT_SNAKEMAKE} if present)")
    ap.add_argument("--snakemake-max", type=int, default=50000,
                    help="skip Snakemake above this many jobs (default 50000)")
    ap.add_argument("--snakemake-prebuild", choices=("make", "native"), default="make",
                    help="how the noop and changed phases make Snakemake's outputs first: with make "
                         "from the same commands (default; fast) or with Snakemake itself")
    ap.add_argument("--json", default=None, metavar="FILE",
                    help="write the results here (default: bench_engine-<time>.json in the temp dir)")
    ap.add_argument("--profile", default=None, metavar="DIR",
                    help="also run fileflow once under cProfile per cell; .prof files go to DIR")
    ap.add_argument("--tmp", default=None, help="where to make the temporary directory")
    ap.add_argument("--keep", action="store_true", help="keep the generated workflows")
    ap.add_argument("--markdown", nargs="+", default=None, metavar="JSON",
                    help="only print these results files as one Markdown table and exit")
    ap.add_argument("--show-profile", nargs="+", default=None, metavar="PROF",
                    help="only print the top costs of these .prof files (from --profile) and exit")
    args = ap.parse_args(argv)
    if args.markdown:
        print(markdown(args.markdown))
        return 0
    if args.show_profile:
        for path in args.show_profile:
            show_profile(path)
        return 0

    sizes = parse_list(args.sizes, cast=int)
    shapes = parse_list(args.shapes, SHAPES)
    phases = parse_list(args.phases, PHASES)
    tools = parse_list(args.tools, TOOLS)

    exes = {"fileflow": fileflow_exe(args.fileflow), "make": ["make"]}
    notes = []
    if "snakemake" in tools:
        path = args.snakemake or (DEFAULT_SNAKEMAKE if os.path.exists(DEFAULT_SNAKEMAKE) else None)
        if not path or not (os.path.exists(path) or shutil.which(path)):
            notes.append("snakemake not found: skipped (give --snakemake PATH)")
            tools.remove("snakemake")
        else:
            exes["snakemake"] = [path]
    if args.baseline:
        exes["baseline"] = [args.baseline]
        tools.append("baseline")
    if "make" in tools and not shutil.which("make"):
        notes.append("make not found: skipped")
        tools.remove("make")

    info = machine(exes)
    print(json.dumps(info, indent=1))
    for note in notes:
        print("note:", note)
    if args.tmp:
        os.makedirs(args.tmp, exist_ok=True)
    root = tempfile.mkdtemp(prefix="ffengine-", dir=args.tmp)
    out_json = args.json or os.path.join(root, f"bench_engine-{time.strftime('%Y%m%d-%H%M%S')}.json")
    results = []
    cells = []
    daemons = [t for t in daemon_tools(args) if t in exes]
    if daemons:  # daemons of the benchmark's own, in a private folder
        os.environ["FILEFLOW_DAEMON_DIR"] = tempfile.mkdtemp(prefix="ffd-", dir="/tmp")
        # (from the benchmark's folder: `python -m fileflow` in a source tree would find that one)
        for tool in daemons:
            subprocess.run(exes[tool] + ["daemon", "start"], check=True, cwd=root)
    for tool in ("fileflow", "baseline"):
        if tool in exes and tool in tools:
            warm_up(exes[tool], root, {"FILEFLOW_NO_DAEMON": "1"})
    for phase in phases:
        for shape in shapes:
            for n in (sizes if phase == "dry" else [args.build_size]):
                cells.append((phase, shape, n))
    try:
        for phase, shape, n in cells:
            cell_tools = [t for t in tools if not (t == "snakemake" and n > args.snakemake_max)]
            try:
                results.append(measure_cell(phase, shape, n, args, exes, cell_tools, root))
            except (OSError, subprocess.SubprocessError) as exc:  # e.g. the directory vanished
                print(f"!! {phase}-{shape}-{n}: {exc!r}; going on with the next cell", flush=True)
                results.append({"phase": phase, "shape": shape, "n": n, "jobs": 0, "error": repr(exc),
                                "tools": {}, "verdict": f"not measured: {exc!r}"})
            with open(out_json, "w") as fh:
                json.dump({"machine": info, "argv": sys.argv, "notes": notes, "results": results},
                          fh, indent=1)
    finally:
        if daemons:
            for tool in daemons:
                subprocess.run(exes[tool] + ["daemon", "stop"], check=False, cwd=root)
            shutil.rmtree(os.environ["FILEFLOW_DAEMON_DIR"], ignore_errors=True)
        if not args.keep:
            for name in os.listdir(root):
                if not name.startswith("bench_engine-"):
                    shutil.rmtree(os.path.join(root, name), ignore_errors=True)
            if not os.listdir(root):
                os.rmdir(root)
    print(f"\nmedians of {args.repeat} runs (wall time, peak RSS); ratios are fileflow's median over the "
          "other tool's, measured interleaved in the same run")
    print(table(results, tools))
    print(f"\nresults: {out_json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
