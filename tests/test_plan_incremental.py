"""Incremental planning (fileflow/engine/incremental.py) against the full decision: on random
graphs, random file states and records, and random edits (content changed, touched,
deleted, a rule's command or a job's params changed, a file that appears), deciding only
the stale jobs and those below a changed decision gives every job exactly the reasons that
deciding every job gives. Pure functions on in-memory state, with the real
staleness.decide; a fixed seed."""
from __future__ import annotations

import random

from fileflow.engine.incremental import Previous, replan, stale_jobs
from fileflow.engine.staleness import JobFacts, decide
from fileflow.state import FileState, RecordedTarget

CASES = 12_000


class World:
    """A random graph of jobs (each with one or two outputs, inputs among the sources and
    earlier jobs' outputs), the files on disk, what the run log records, and signatures."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        n = rng.randint(1, 9)
        self.sources = [f"src{i}" for i in range(rng.randint(1, 4))]
        self.outputs: list[tuple[str, ...]] = []
        self.inputs: list[tuple[str, ...]] = []
        self.rules = [f"r{rng.randint(0, 2)}" for _ in range(n)]
        self.params = [str(rng.randint(0, 1)) for _ in range(n)]
        self.code = {r: str(rng.randint(0, 1)) for r in ("r0", "r1", "r2")}
        self.deps: list[list[int]] = []
        made: list[tuple[str, int]] = []
        for j in range(n):
            pool = [(s, -1) for s in self.sources] + made
            picked = rng.sample(pool, rng.randint(0, min(3, len(pool))))
            self.inputs.append(tuple(p for p, _ in picked))
            self.deps.append(sorted({d for _, d in picked if d >= 0}))
            outs = tuple(f"j{j}o{k}" for k in range(rng.randint(1, 2)))
            self.outputs.append(outs)
            made.extend((o, j) for o in outs)
        self.files: dict[str, FileState] = {}
        self.clock = 1_000
        for path in self.sources:
            self.write(path, f"{path}-v0")
        self.recorded: dict[str, RecordedTarget] = {}
        for j in range(n):  # a build that made most jobs' outputs, some since edited
            for out in self.outputs[j]:
                if rng.random() < 0.8:
                    self.write(out, f"{out}-made")
                if rng.random() < 0.8:
                    self.recorded[out] = self.record(j, out)
        for _ in range(rng.randint(0, 3)):
            self.edit()

    def signature(self, j: int) -> str:
        return f"{self.code[self.rules[j]]}/{self.params[j]}/{j}"

    def write(self, path: str, content: str) -> None:
        self.clock += 10
        self.files[path] = FileState(path, True, len(content), self.clock, content, False,
                                     self.clock, "", self.clock + 5)

    def record(self, j: int, out: str) -> RecordedTarget:
        st = self.files.get(out)
        digests = {p: self.files[p].digest for p in self.inputs[j]
                   if p in self.files and self.rng.random() < 0.9}
        if st is None:
            return RecordedTarget(out, self.rng.random() < 0.7, 3, 5, "gone", signature="x")
        return RecordedTarget(out, self.rng.random() < 0.95, st.size, st.mtime_ns, st.digest,
                              signature=self.signature(j) if self.rng.random() < 0.9 else "old",
                              input_digests=digests, ctime_ns=st.ctime_ns, seen_ns=st.seen_ns)

    def observed(self) -> dict[str, FileState]:
        paths = {p for ps in self.inputs + self.outputs for p in ps} | set(self.sources)
        return {p: self.files.get(p, FileState(p, False)) for p in paths}

    def edit(self) -> None:
        rng = self.rng
        paths = sorted({p for ps in self.outputs for p in ps} | set(self.sources))
        kind = rng.choice(["content", "touch", "delete", "command", "params", "new", "same"])
        path = rng.choice(paths)
        if kind == "content" or (kind == "new" and path not in self.files):
            self.write(path, f"{path}-{rng.randint(0, 3)}")
        elif kind == "touch" and path in self.files:
            old = self.files[path]
            self.clock += 10
            self.files[path] = old._replace(mtime_ns=self.clock, ctime_ns=self.clock,
                                            seen_ns=self.clock + 5)
        elif kind == "delete":
            self.files.pop(path, None)
        elif kind == "command":
            rule = rng.choice(["r0", "r1", "r2"])
            self.code[rule] += "'"
        elif kind == "params":
            j = rng.randrange(len(self.rules))
            self.params[j] = str(rng.randint(0, 2))

    def order(self) -> list[int]:
        return list(range(len(self.rules)))  # every job's deps come before it

    def decide_one(self, observed):
        def one(j: int, reasons) -> tuple:
            facts = JobFacts(f"job{j}", self.outputs[j], self.inputs[j], frozenset(),
                             self.signature(j))
            upstream = [f"job{d}" for d in self.deps[j] if d in reasons]
            return decide(facts, observed, self.recorded, upstream=upstream, granularity_ns=1)
        return one

    def full_plan(self) -> dict[int, tuple]:
        observed = self.observed()
        one = self.decide_one(observed)
        reasons: dict[int, tuple] = {}
        for j in self.order():
            why = one(j, reasons)
            if why:
                reasons[j] = why
        return reasons

    def states(self) -> dict[str, tuple]:
        return {p: key(st) for p, st in self.observed().items()}

    def rule_keys(self) -> dict[str, str]:
        return dict(self.code)


def key(st: FileState) -> tuple:
    return (st.exists, st.size, st.mtime_ns, st.ctime_ns, st.link)


def test_incremental_planning_decides_as_the_full_plan_does():
    rng = random.Random(20261207)
    reran = kept = 0
    for case in range(CASES):
        world = World(rng)
        before = world.full_plan()
        # The paths the previous plan vouches for: a random part of them (the rest were
        # written by its jobs or not settled), and jobs it names dirty.
        states = {p: s for p, s in world.states().items() if rng.random() < 0.9}
        dirty = {j for j in range(len(world.rules)) if rng.random() < 0.05}
        previous = Previous(states, before, world.rule_keys(), dirty)
        param_keys = list(world.params)
        for _ in range(rng.randint(1, 3)):
            world.edit()
        want = world.full_plan()
        now = world.states()
        # A job's params are part of its values: a job whose values differ is stale too
        # (the graph it belongs to was resolved again).
        changed_values = {j for j, p in enumerate(world.params) if p != param_keys[j]}
        stale = stale_jobs([world.inputs[j] + world.outputs[j] for j in world.order()],
                           world.rules, now,
                           previous._replace(dirty=dirty | changed_values), world.rule_keys())
        got = replan(world.order(), world.deps, stale, before, world.decide_one(world.observed()))
        assert got == want, (case, before, want, got, stale)
        reran += len(stale)
        kept += len(world.rules) - len(stale)
    assert kept > reran / 4  # the cases do keep decisions, not only decide afresh
