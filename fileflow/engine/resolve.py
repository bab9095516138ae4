"""Requested files -> job graph. Layer 2.

Works backwards from each requested path: find the rule whose output pattern matches it
(constraints respected; among several, `choose` decides as Snakemake does), bind the
wildcards, evaluate the job's inputs and resolve those in turn. A path no rule makes is a
source if it exists, else an error naming the job that needs it (all sources are looked up
at once, after the walk). Iterative (a work list, no recursion), so a 50,000-step chain is
fine.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import NamedTuple

from fileflow.engine.checkpoint_wait import CheckpointOracle
from fileflow.engine.graph import Graph, Job, input_pos, job_name
from fileflow.engine.job_makers import namer, normalize, normalize_prefix, normalized, values_maker
from fileflow.errors import (
    AmbiguousRuleError,
    CycleError,
    FlowfileError,
    MissingInputError,
    NoRuleCanRunError,
    WorkflowError,
    shorten,
)
from fileflow.lang.checkpoints import CheckpointPending, Checkpoints
from fileflow.lang.job_values import job_values
from fileflow.lang.model import FileItem, JobValues, Lazy, Rule, Workflow

__all__ = ["resolve", "resolution", "walk", "Resolution", "RuleIndex", "choose", "preferred_rules",
           "ruleorder_closure", "wanted_through"]


class _Candidate(NamedTuple):
    rule: Rule
    prefix: str
    suffix: str
    fullmatch: Callable  # the compiled pattern's fullmatch
    reorder: bool        # the pattern names the wildcards in another order than the rule


_COMPARED = 500  # literal outputs compared with a mistyped target: those on each side of it


def _neighbours(names: list[str], word: str) -> list[str]:
    """The names next to `word` in sorted order, _COMPARED on each side."""
    import bisect

    ordered = sorted(names)
    at = bisect.bisect_left(ordered, word)
    return ordered[max(0, at - _COMPARED):at + _COMPARED]


class RuleIndex:
    """Finds the rules that can make a path: constant outputs by dict, patterns by
    literal prefix/suffix first and the regex last."""

    def __init__(self, workflow: Workflow):
        self.workflow = workflow
        self.constant: dict[str, list[Rule]] = {}
        self.patterns: list[_Candidate] = []
        for rule in workflow.rules:
            for item in (*rule.outputs, *_products(rule.log, rule.wildcards)):
                pattern = item.pattern
                if pattern.is_constant:
                    self.constant.setdefault(normalize(pattern.text), []).append(rule)
                else:
                    last = pattern.parts[-1]
                    suffix = last if isinstance(last, str) else ""
                    self.patterns.append(_Candidate(
                        rule, normalize_prefix(pattern.literal_prefix), suffix,
                        pattern.regex(rule.constraints).fullmatch,
                        pattern.wildcards != rule.wildcards))
        self.preferred = ruleorder_closure(workflow.ruleorder)
        # what every pattern's path starts with: a path that starts otherwise, and is no
        # constant output, has no rule (one test in C for each of a million sources)
        self.prefixes = tuple({c.prefix for c in self.patterns})

    def candidates(self, path: str) -> list[tuple[Rule, dict[str, str]]]:
        """The rules that can make `path`, with their wildcard values (in the rule's order,
        whichever output matched, so one job has one key)."""
        constant = self.constant.get(path)
        found: list[tuple[Rule, dict[str, str]]] = [(r, {}) for r in constant] if constant else []
        for rule, prefix, suffix, fullmatch, reorder in self.patterns:
            if path.startswith(prefix) and path.endswith(suffix):
                m = fullmatch(path)
                if m:
                    wildcards = m.groupdict()
                    if reorder:
                        wildcards = {name: wildcards[name] for name in rule.wildcards}
                    found.append((rule, wildcards))
        if len(found) > 1:
            found = _first_per_rule(found)
        return found

    def closest(self, target: str) -> str | None:
        """The literal output or rule name (without wildcards) most like a mistyped target.
        Among many outputs only those next to it in name order, read forwards and backwards,
        are compared (a typo keeps the text before it or the text after it): comparing is
        slow."""
        import difflib

        outputs: list[str] = list(self.constant)
        if len(outputs) > 2 * _COMPARED:
            backwards = [p[::-1] for p in outputs]
            outputs = _neighbours(outputs, target) + [
                p[::-1] for p in _neighbours(backwards, target[::-1])]
        names = [r.name for r in self.workflow.rules if not r.wildcards]
        found = difflib.get_close_matches(target, outputs + names, n=1, cutoff=0.75)
        return found[0] if found else None

    def near_misses(self, path: str) -> list[str]:
        """Rules whose output shape fits the path's literal text (for 'rules tried')."""
        return sorted({c.rule.name for c in self.patterns
                       if path.startswith(c.prefix) and path.endswith(c.suffix)})


def _products(log: tuple[FileItem, ...] | Lazy, wildcards: tuple[str, ...]) -> tuple[FileItem, ...]:
    """The log files a path can be matched against to find their job, as in Snakemake (a
    log is made by its job): those that name every wildcard of the rule. A log evaluated per
    job is known once its job is."""
    if isinstance(log, Lazy):
        return ()
    return tuple(item for item in log if set(item.pattern.wildcards) == set(wildcards))


def _first_per_rule(found: list[tuple[Rule, dict[str, str]]]) -> list[tuple[Rule, dict[str, str]]]:
    by_rule: dict[str, tuple[Rule, dict[str, str]]] = {}
    for rule, wildcards in found:
        by_rule.setdefault(rule.name, (rule, wildcards))
    return list(by_rule.values())


def preferred_rules(found: list[tuple[Rule, dict[str, str]]], preferred: set[tuple[str, str]]
                    ) -> list[tuple[Rule, dict[str, str]]]:
    """One entry per rule (its first match), minus the rules another one beats: by
    `ruleorder` (`preferred` is `ruleorder_closure` of the workflow's ruleorder), else, when
    no order is given between the two, by having no wildcards where the other has some
    (Snakemake's rule: `qc/multiqc.txt` of a rule beats `qc/{sample}.txt` of another)."""
    found = _first_per_rule(found)

    def beats(a: Rule, b: Rule) -> bool:
        if (a.name, b.name) in preferred:
            return True
        return (not a.wildcards and bool(b.wildcards)
                and (b.name, a.name) not in preferred)

    kept = [f for f in found if not any(beats(g[0], f[0]) for g in found if g is not f)]
    return kept or found


def ruleorder_closure(pairs) -> set[tuple[str, str]]:
    """The (preferred, other) pairs of `ruleorder`, chains included (a > b > c gives a > c)."""
    closure = set(pairs)
    changed = True
    while changed:
        changed = False
        for a, b in list(closure):
            for c, d in list(closure):
                if b == c and (a, d) not in closure:
                    closure.add((a, d))
                    changed = True
    return closure


def choose(index: RuleIndex, graph: Graph, found: list[tuple[Rule, dict[str, str]]], path: str,
           missing: Callable[[list[str]], Collection[str]], needed: bool,
           checkpoints: Checkpoints | None = None) -> list[tuple[Rule, dict[str, str]]]:
    """The rules to choose from among several that can make `path`, as Snakemake chooses:
    a rule that needs a file no rule makes and that is not on disk is out, and so is one
    that needs `path` itself (a cycle through it); `ruleorder`, then having no wildcards,
    decide among the rest (`preferred_rules`). More than one left is an ambiguity. When
    no rule is left and `path` is on disk and `needed` by a job, it is a source: [] (a
    target is not, as in Snakemake: its candidates are kept, to fail as they would alone).
    A rule whose inputs cannot be evaluated for this job is out too (it is kept for the
    error when no rule is left). When every rule is out for lacking files (or needing
    `path` itself) and `path` is no source, no rule can run: NoRuleCanRunError names each
    with the files it lacks (as Snakemake reports each candidate's missing input). Asked
    only when several rules match: the common single match costs nothing."""
    inputs = [_inputs(rule, wildcards, checkpoints) for rule, wildcards in found]
    cyclic = [values is not None and path in values for values in inputs]
    producer = graph.producer
    unmade = sorted({p for values, cycle in zip(inputs, cyclic) if values and not cycle
                     for p in values if p not in producer and not index.candidates(p)})
    absent = set(missing(unmade)) if unmade else set()
    viable = [f for f, values, cycle in zip(found, inputs, cyclic)
              if values is not None and not cycle and absent.isdisjoint(values)]
    if not viable:
        if needed and not missing([path]):
            return []
        if None not in inputs and not all(cyclic):
            raise NoRuleCanRunError(path, [
                (rule.name, rule.pos, [] if cycle else list(dict.fromkeys(
                    p for p in values if p in absent)))
                for (rule, _), values, cycle in zip(found, inputs, cyclic) if values is not None])
        viable = [f for f, cycle in zip(found, cyclic) if not cycle] or found
    return preferred_rules(viable, index.preferred)


def _inputs(rule: Rule, wildcards: dict[str, str], checkpoints: Checkpoints | None
            ) -> tuple[str, ...] | None:
    """The inputs of a candidate's job, or None if they cannot be evaluated for it (yet)."""
    try:
        return normalized(job_values(rule, wildcards, checkpoints=checkpoints)).inputs.values
    except (FlowfileError, CheckpointPending):
        return None


MAX_GROWTH = 100


def _growth(rule: Rule, wildcards: dict[str, str], consumer: Job, so_far: int, path: str) -> int:
    """A rule that needs its own output with a longer value ({n}.txt <- {n}.a.txt) would
    expand forever; count such steps in a row (a constraint may still end them), and refuse
    the rule after MAX_GROWTH of them."""
    if consumer.rule is not rule:
        return 0
    for name, value in wildcards.items():
        old = consumer.wildcards.get(name, "")
        if len(value) > len(old) and old in value:
            if so_far + 1 > MAX_GROWTH:
                raise WorkflowError(
                    f"rule '{rule.name}' feeds itself with ever longer wildcard values "
                    f"({shorten(job_name(rule.name, consumer.wildcards))} needs "
                    f"{shorten(job_name(rule.name, wildcards))}, and so on without end); constrain "
                    "the wildcard (wildcard_constraints) or name the input differently",
                    input_pos(consumer, path))
            return so_far + 1
    return 0


def _check_wildcards(rule: Rule, wildcards: dict[str, str], path: str) -> None:
    for name, value in wildcards.items():
        if value[:1] == "/" or (".." in value and ".." in value.split("/")):
            raise WorkflowError(
                f"refusing {shorten(path)!r}: wildcard {{{name}}} of rule '{rule.name}' would be "
                f"{shorten(value)!r}, "
                "which leaves the working directory")


def wanted_through(graph: Graph, job: int) -> list[str]:
    """The names of the jobs that want `job`, from a target down to it: each job's first
    consumer in turn (-1, the command line: none)."""
    chain: list[str] = []
    seen: set[int] = set()
    while job >= 0 and job not in seen:
        seen.add(job)
        chain.append(graph.jobs[job].name)
        dependents = graph.dependents[job]
        job = dependents[0] if dependents else -1
    chain.reverse()
    return chain


def _needer(jobs: list[Job], consumer: int) -> str:
    return jobs[consumer].name if consumer >= 0 else "the command line"


def _job_adder(graph: Graph, work: list[tuple[Sequence[str], int]], oracle: CheckpointOracle
               ) -> Callable[..., int]:
    """`add_job(rule, wildcards, consumer, path) -> job id`: the job of `rule` for `wildcards`
    (added to `graph`, its inputs to `work`, unless there already) that `consumer` (-1: the
    command line) needs for `path`, recorded as the producer of `path` (no job makes it yet);
    -1 when it needs `path` itself (a source, else a cycle); CheckpointPending on a checkpoint."""
    jobs, producer_of = graph.jobs, graph.producer
    without_outputs: dict[str, int] = {}  # rule name -> its job, for rules with no output
    makers: dict[str, tuple[Callable[[dict[str, str]], JobValues], Callable[[dict], str]]] = {}
    growth: dict[int, int] = {}  # job -> how many times in a row its rule fed itself a longer value
    # Jobs asked for without a path (a target rule, a checkpoint job read), by name, so as not
    # to evaluate them again (taken only with the same wildcards: "," or "=" in values could
    # make two names equal). A job asked for by a path is found by its first output instead.
    by_name: dict[str, int] = {}
    reads = oracle.reads  # the checkpoint jobs read by the values being made (cleared per job)

    def add_job(rule: Rule, wildcards: dict[str, str], consumer: int, path: str = "") -> int:
        if path:
            for value in wildcards.values():
                if value[:1] == "/" or ".." in value:
                    _check_wildcards(rule, wildcards, path)
        grew = (_growth(rule, wildcards, jobs[consumer], growth.get(consumer, 0), path)
                if consumer >= 0 and jobs[consumer].rule is rule else 0)
        maker = makers.get(rule.name)
        if maker is None:
            maker = makers[rule.name] = (values_maker(rule, oracle.checkpoints), namer(rule))
        try:
            name = maker[1](wildcards)
        except KeyError:  # a wildcard missing (a checkpoint asked for with too few): its
            name = job_name(rule.name, wildcards)  # values say what is wrong, below
        if not path:
            known = by_name.get(name)
            if (known is not None and jobs[known].rule is rule
                    and jobs[known].wildcards == wildcards):
                return known  # asked again (a file of a checkpoint's folder): not evaluated
        reads.clear()
        try:
            values = maker[0](wildcards)
            read = reads[:] if reads else None
        except FlowfileError as err:
            raise FlowfileError(f"{err.message} (evaluating job {job_name(rule.name, wildcards)}, "
                                f"needed by {_needer(jobs, consumer)})", err.pos, err.hint) from None
        # The job may exist (asked for by another spelling of a path): its first output is then
        # on record; if that output is the walk's path, which no job makes yet, it is new.
        inputs, outputs = values.inputs.values, values.outputs.values
        same = (without_outputs.get(rule.name) if not outputs
                else None if outputs[0] == path else producer_of.get(outputs[0]))
        if same is not None and jobs[same].rule is rule and jobs[same].wildcards == wildcards:
            if not path:
                by_name[name] = same
            elif path not in producer_of:  # another spelling of its output (e.g. "./a", "a")
                producer_of[path] = same
            return same
        if consumer >= 0 and path and path in inputs:
            needs_itself(rule, wildcards, path, oracle.missing)  # no job: a source, or a cycle
            graph.sources.add(path)
            return -1
        job_id = len(jobs)
        job = Job(job_id, rule, wildcards, values, name)
        graph.add_job(job)
        if not path:
            by_name[name] = job_id
        if grew:
            growth[job_id] = grew
        if not outputs:
            without_outputs[rule.name] = job_id  # such a rule has no wildcards: one job
        for out in outputs:
            if producer_of.setdefault(out, job_id) != job_id:
                raise _both_make(jobs[producer_of[out]], job, out)
        if values.log.values:
            _add_logs(graph, job)
        if inputs:
            work.append((inputs, job_id))
        if read:
            oracle.link_readers(graph, job_id, read, add_job)
        if path and not (outputs and outputs[0] == path) and path not in producer_of:
            producer_of[path] = job_id  # its pattern matched, its output is spelled otherwise
        return job_id

    return add_job


def _both_make(first: Job, second: Job, path: str) -> WorkflowError:
    return WorkflowError(f"jobs {shorten(first.name)} and {shorten(second.name)} both make "
                         f"{shorten(path)!r}", second.rule.pos)


def _add_logs(graph: Graph, job: Job) -> None:
    """A job makes its log files too: another job may read one, and a target may name it.
    Jobs that share a log file (allowed) leave it to the first; a log that is another job's
    output is an error, as two outputs of one path are."""
    producer_of, jobs = graph.producer, graph.jobs
    for log in job.values.log.values:
        other = producer_of.setdefault(log, job.id)
        if other == job.id:
            graph.logs.add(log)
        elif log not in graph.logs:
            raise WorkflowError(f"jobs {jobs[other].name} and {job.name} both make {log!r} "
                                f"(an output of {jobs[other].name}, the log of {job.name})")


def _kept_temp(workflow: Workflow, graph: Graph) -> None:
    """Snakemake's rule for the temp() files of the targets: a file the targets name is
    kept (graph.kept_temp has it already), and so are the inputs of a target job without
    outputs (such as `all`); a target job keeps its own temp() outputs that no job needs,
    unless its rule is a default target (a rule named by `default:`, or the first rule)."""
    jobs = graph.jobs
    default_rules = {t for t in workflow.default_targets if t in workflow.by_name}
    for t in graph.targets:
        job = jobs[t]
        if not job.outputs:
            graph.kept_temp.update(job.inputs)
        if job.rule.name not in default_rules:
            graph.keeps_own_temp.add(t)


class Resolution:
    """A walk's state, kept after it: the graph, the work list and the oracle of its
    checkpoints, so that once checkpoint jobs have run the walk resumes where it waited
    (fileflow.engine.extend) instead of starting over."""

    def __init__(self, workflow: Workflow, missing: Callable[[list[str]], Collection[str]]):
        self.workflow, self.missing = workflow, missing
        self.index = RuleIndex(workflow)
        self.graph = Graph()
        # Work list of (paths, id of the job that needs them or -1 for the command line):
        # one entry per job's inputs.
        self.work: list[tuple[Sequence[str], int]] = []
        self.head = 0  # how far the walk has gone
        # paths no rule makes, in the order met, and the first job that needs each (-1: the
        # command line): two lists, not a dict, as a fan-out has a million of them
        self.unmade: list[str] = []
        self.needers: list[int] = []
        self.oracle = CheckpointOracle(workflow, missing)
        self.add_job = _job_adder(self.graph, self.work, self.oracle)

    def retry(self, retry: tuple) -> None:
        """Ask again for what waited for a checkpoint job (`CheckpointOracle.wait`)."""
        kind = retry[0]
        if kind == "path":
            self.work.append(((retry[1],), retry[2]))
        elif kind == "rule":
            rule = retry[1]
            try:
                self.graph.targets.append(self.add_job(rule, {}, -1))
            except CheckpointPending as pending:
                self.oracle.wait(self.graph, self.add_job, pending, rule.name, -1, "", retry)
        else:
            self.oracle.link_readers(self.graph, retry[1], [retry[2]], self.add_job)


def resolve(workflow: Workflow, targets: Sequence[str],
            missing: Callable[[list[str]], Collection[str]]) -> Graph:
    """Build the graph of jobs needed for `targets` (file paths or names of rules without
    wildcards). `missing(paths)` says which paths are not on disk; it is asked once, for
    every path no rule makes, after the walk (injected for tests)."""
    return resolution(workflow, targets, missing).graph


def resolution(workflow: Workflow, targets: Sequence[str],
               missing: Callable[[list[str]], Collection[str]]) -> Resolution:
    """`resolve`, with the walk's state kept (to resume once checkpoint jobs have run)."""
    state = Resolution(workflow, missing)
    _add_targets(workflow, targets, state.graph, state.work, state.add_job, state.oracle)
    walk(state)
    return state


def walk(state: Resolution) -> None:
    """Resolve every path on the work list from where the walk stopped, then check the
    sources found meanwhile. The work list holds one entry per job's inputs (all of an
    aggregate's million at once), taken path by path in order."""
    index, graph, work, oracle, add_job = (state.index, state.graph, state.work, state.oracle,
                                           state.add_job)
    missing, unmade, needers = state.missing, state.unmade, state.needers
    jobs, producer_of, sources = graph.jobs, graph.producer, graph.sources
    candidates, add_edge, logs = index.candidates, graph.add_edge, graph.logs
    constant, prefixes = index.constant, index.prefixes
    folder_of = oracle.folder_of if oracle.folder_outputs else None
    head = state.head
    while head < len(work):
        paths, consumer = work[head]
        head += 1
        for path in paths:
            producer = producer_of.get(path)
            if producer is None:
                if path in sources:
                    if consumer < 0:
                        graph.target_paths.append(path)
                    continue
                if folder_of is not None and consumer >= 0:
                    inside = folder_of(path)
                    if inside is not None:
                        oracle.link_readers(graph, consumer, [inside], add_job)
                        sources.add(path)
                        continue
                # no rule's output starts as the path does: a source, without asking each
                found = candidates(path) if path in constant or path.startswith(prefixes) else ()
                if len(found) > 1:
                    found = _the_one(index, graph, found, path, missing, consumer, oracle)
                if not found:
                    sources.add(path)
                    unmade.append(path)
                    needers.append(consumer)
                    if consumer < 0:
                        graph.target_paths.append(path)
                    continue
                rule, wildcards = found[0]
                try:
                    producer = add_job(rule, wildcards, consumer, path)
                except CheckpointPending as pending:
                    oracle.wait(graph, add_job, pending, job_name(rule.name, wildcards),
                                consumer, path, ("path", path, consumer))
                    continue
                if producer < 0:  # it would need `path` itself: a source on disk
                    continue
            if path in logs and path not in graph.needed_logs:
                _need_log(graph, index, path, jobs[producer])
            if consumer >= 0:
                if producer == consumer:
                    raise CycleError([jobs[consumer].name, jobs[consumer].name],
                                     input_pos(jobs[consumer], path))
                add_edge(producer, consumer)
            else:
                graph.kept_temp.add(path)
                if producer not in graph.targets:
                    graph.targets.append(producer)
    state.head = head
    _kept_temp(state.workflow, graph)
    if unmade:
        _check_sources_exist(graph, index, unmade, needers, missing)
        unmade.clear()  # checked: a resumed walk checks only the sources it finds
        needers.clear()


def _add_targets(workflow: Workflow, targets: Sequence[str], graph: Graph,
                 work: list[tuple[Sequence[str], int]], add_job, oracle: CheckpointOracle) -> None:
    """The command line's targets: a rule's job (a rule without wildcards), else a path
    put on the work list."""
    for target in targets:
        rule = workflow.by_name.get(target)
        if rule is None:
            work.append(((normalize(target),), -1))
            continue
        if rule.wildcards:
            raise WorkflowError(f"rule '{target}' has wildcards ({', '.join(rule.wildcards)}); "
                                "ask for one of its output files instead")
        try:
            graph.targets.append(add_job(rule, {}, -1))
        except CheckpointPending as pending:
            oracle.wait(graph, add_job, pending, rule.name, -1, "", ("rule", rule))


def _the_one(index: RuleIndex, graph: Graph, found: list[tuple[Rule, dict[str, str]]], path: str,
             missing: Callable[[list[str]], Collection[str]], consumer: int,
             oracle: CheckpointOracle) -> list[tuple[Rule, dict[str, str]]]:
    """Of several rules that can make `path`, the one `choose` keeps (or none: a source);
    more than one left is an ambiguity naming them all."""
    try:
        found = choose(index, graph, found, path, missing, consumer >= 0, oracle.checkpoints)
    except NoRuleCanRunError as err:
        jobs = graph.jobs
        raise NoRuleCanRunError(
            path, err.candidates, _needer(jobs, consumer),
            input_pos(jobs[consumer], path) if consumer >= 0 else None,
            jobs[consumer].rule.pos if consumer >= 0 else None,
            wanted_through(graph, consumer)) from None
    if len(found) > 1:
        raise AmbiguousRuleError(path, [r.name for r, _ in found],
                                 input_pos(graph.jobs[consumer], path) if consumer >= 0 else None,
                                 [r.pos for r, _ in found])
    return found


def needs_itself(rule: Rule, wildcards: dict[str, str], path: str,
                 missing: Callable[[list[str]], Collection[str]]) -> None:
    """The only rule that makes `path` needs `path` itself: a cycle, unless the file is on
    disk, when it is a source (as in Snakemake; `choose` does the same among several)."""
    if missing([path]):
        job = Job(-1, rule, wildcards, normalized(job_values(rule, wildcards)),
                  job_name(rule.name, wildcards))
        raise CycleError([job.name, job.name], input_pos(job, path))


def _need_log(graph: Graph, index: RuleIndex, path: str, producer: Job) -> None:
    """A log file a job reads or a target names: made by its job, and by no rule besides."""
    graph.needed_logs.add(path)
    # the log's job may be known before a rule was asked
    found = preferred_rules(index.candidates(path), index.preferred)
    if len(found) > 1:
        raise AmbiguousRuleError(path, [r.name for r, _ in found], None, [r.pos for r, _ in found])
    if found and found[0][0] is not producer.rule:
        raise WorkflowError(f"rule '{found[0][0].name}' makes {path!r}, the log of "
                            f"job {producer.name}")


def _check_sources_exist(graph: Graph, index: RuleIndex, unmade: list[str], needers: list[int],
                         missing: Callable[[list[str]], Collection[str]]) -> None:
    """Raise for the first path met that no rule makes and that is not on disk."""
    absent = missing(unmade)
    if not absent:
        return
    jobs = graph.jobs
    at = next(i for i, p in enumerate(unmade) if p in absent)  # the first one met
    path, needer = unmade[at], needers[at]
    raise MissingInputError(path, _needer(jobs, needer), index.near_misses(path),
                            input_pos(jobs[needer], path) if needer >= 0 else None,
                            jobs[needer].rule.pos if needer >= 0 else None,
                            target=needer < 0,
                            suggestion=index.closest(path) if needer < 0 else None,
                            chain=wanted_through(graph, needer))
