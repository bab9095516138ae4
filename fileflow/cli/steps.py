"""The steps of the build command that the commands that look share with it: the options,
the file store, the job graph, what the run log records and the plan. Layer 5.
"""
from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from fileflow.errors import FileflowError, NothingToDo
from fileflow.printable import printable

__all__ = ["BuildOptions", "print_line", "no_gc_pauses", "open_store", "load_graph", "load_resolution",
           "workflow_of", "local_cores", "local_view_of", "read_recorded",
           "read_recorded_at", "open_runlog_at", "plan_build",
           "incremental", "previous_plan"]


@dataclass(frozen=True, slots=True)
class BuildOptions:
    """What the command line asked of a build (and of the commands that look)."""

    flowfile: str
    targets: Sequence[str] = ()
    config: Mapping[str, object] = field(default_factory=dict)
    configfiles: Sequence[str] = ()
    jobs: int = 0                                  # 0: number of cores
    dry_run: bool = False
    forceall: bool = False
    forcerun: Sequence[str] = ()
    force_targets: Sequence[str] = ()
    keep_going: bool = False
    latency_wait: float = 5.0
    default_timeout: float = 0.0                   # --default-timeout: seconds; 0: none
    retry_delay: float = 0.0                       # --retry-delay: seconds; 0: retry at once
    resources: Mapping[str, float] = field(default_factory=dict)
    db_url: str | None = None
    lock_timeout: float = 0.0
    quiet: bool = False
    print_commands: bool = False
    touch: bool = False
    argv: Sequence[str] = ()
    cluster: str | None = None                     # --cluster slurm|drmaa
    # --default-resources: every job's resources unless its rule sets them; None for the
    # commands without the option (the Flowfile is then checked as lint checks it)
    default_resources: Mapping[str, object] | None = None
    set_resources: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    set_threads: Mapping[str, object] = field(default_factory=dict)   # --set-threads RULE=N
    local_cores: int = 0                           # head-node jobs (localrules); 0: all cores
    groups: Mapping[str, str] = field(default_factory=dict)          # --groups RULE=GROUP
    group_components: Mapping[str, int] = field(default_factory=dict)  # --group-components GROUP=N
    group_cores: int = 0                           # --group-cores N: a group job's cores at most
    job_arrays: bool = True
    drmaa_native: str = ""                         # --drmaa-native TEMPLATE
    keep_remote: bool = False                      # keep .fileflow/remote/ across runs
    remote_staging: str = "head"                   # --remote-staging head|job (cluster jobs stage their own)
    progress: str | None = None                    # --progress live|plain|none; None: chosen
    # --storage and a profile's storage: protocol -> options (fileflow.storage_options)
    storage: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    # Running part of the workflow (fileflow.engine.selection): --until, --omit-from, --batch
    until: Sequence[str] = ()
    omit_from: Sequence[str] = ()
    batch: str | None = None                       # RULE=i/n, checked when the graph is made
    rerun_triggers: frozenset[str] | None = None   # --rerun-triggers; None: all
    use_conda: bool = False                        # --use-conda
    conda_prefix: str | None = None               # --conda-prefix DIR (None: .fileflow/conda)
    use_envmodules: bool = False                   # --use-envmodules


def print_line(text: str = "") -> None:
    """A line to stdout, its control characters shown escaped (a file name may hold any); nothing
    when its reader is gone (`fileflow build -n | head -1`)."""
    try:
        sys.stdout.write(printable(text) + "\n")
    except BrokenPipeError:
        pass


@contextlib.contextmanager
def no_gc_pauses():
    """Building the graph allocates a few objects per job and frees almost nothing, so the
    cyclic collector would rescan an ever larger heap for nothing (a third of the time at
    10,000 jobs). Collect nothing meanwhile; afterwards move what was built out of the
    collector's sight (gc.freeze) so the run loop does not rescan it either."""
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def open_store():
    """The file store of a build: local files, and remote ones (URLs) through fileflow.remote.files."""
    from fileflow.remote.staging import RemoteAwareStore

    return RemoteAwareStore(".")


def load_graph(options: BuildOptions, store, keep: bool = False):
    """The workflow and its job graph for the targets. With `keep` (a build, which makes
    `.fileflow` for its run log anyway) a graph resolved now is kept for the next build
    (fileflow.run.graph_cache), but never by a dry run; a command that only looks (graph,
    summary, why) may load a kept graph but writes none."""
    workflow, graph, _ = load_resolution(options, store, keep)
    return workflow, graph


def load_resolution(options: BuildOptions, store, keep: bool = False):
    """`load_graph`, with the state of the walk that resolved the graph (resumed once
    checkpoint jobs have run: fileflow.engine.extend), or None where the graph is a part
    of it (--until, --omit-from, --batch) or is the one the last build kept."""
    from fileflow.remote.staging import check_local_logs

    workflow = workflow_of(options)
    for rule in options.forcerun:
        if rule not in workflow.by_name:
            raise FileflowError(f"-R/--forcerun: no rule named {rule!r}")
    check_local_logs(workflow)
    if workflow.storage or options.storage:  # before any remote path is looked at
        from fileflow.storage_options import merge_storage
        store.use_storage(merge_storage(workflow.storage, options.storage))
    targets = list(options.targets) or list(workflow.default_targets)
    if not targets:
        if workflow.rules:
            raise FileflowError(
                f"{options.flowfile} has no rule of its own and no 'default:'; a rule from an "
                "'include:' is never the default target: name a target, or add 'default:'")
        raise NothingToDo(f"nothing to do: {options.flowfile} has no rules and no 'default:'")
    resolved, state = _resolved(options, workflow, targets, store, keep)
    graph = _selected(options, workflow, resolved, store)
    _check_force_targets(options.force_targets, graph)
    return workflow, graph, state if state is not None and graph is state.graph else None


def workflow_of(options: BuildOptions):
    """The workflow as a build with `options` reads it: its config, config files and
    resources, with the command line's threads and resources put into its rules."""
    from fileflow.lang.loader import load_workflow

    workflow = load_workflow(options.flowfile, workdir=os.getcwd(), config=options.config,
                             configfiles=options.configfiles,
                             default_resources=options.default_resources,
                             set_resources=options.set_resources)
    return _with_overrides(workflow, options)


def _resolved(options: BuildOptions, workflow, targets: list[str], store, keep: bool):
    """The job graph for the targets and the state of the walk that resolved it: the graph
    the last build kept (no walk: None), when nothing it was resolved from changed
    (fileflow.run.graph_cache), else resolved now and kept."""
    from fileflow.engine.resolve import resolution

    key = _graph_key(options, targets)
    if key is None:
        state = resolution(workflow, targets, store.missing)
        return state.graph, state
    from fileflow.run import graph_cache

    graph = graph_cache.load(key, workflow, store.missing)
    if graph is not None:
        return graph, None
    if not keep or options.dry_run:  # a dry run, and a command that looks, write nothing
        state = resolution(workflow, targets, store.missing)
        return state.graph, state
    lookups = graph_cache.Lookups(store.missing)  # what resolution looked up, for the key
    state = resolution(workflow, targets, lookups.missing)
    with contextlib.suppress(OSError):
        os.makedirs(".fileflow", exist_ok=True)
    graph_cache.save(key, workflow, state.graph, lookups, store.clock, options.configfiles)
    return state.graph, state


def incremental(options: BuildOptions) -> bool:
    """Whether a build plans from what the last plan knew (fileflow.run.plan_cache) and keeps
    what its own plan knew: not with forcing, other rerun triggers, part of the workflow
    (--until, --omit-from, --batch: another graph) or in a dry run (which writes nothing)."""
    return not (options.dry_run or options.forceall or options.forcerun or options.force_targets
                or options.rerun_triggers is not None or options.until or options.omit_from
                or options.batch)


def previous_plan(options: BuildOptions, graph, generation: int):
    """What the last plan of this graph knew (fileflow.run.plan_cache), or None."""
    if not incremental(options):
        return None
    from fileflow.run import plan_cache

    return plan_cache.load(graph.origin, generation)


def _graph_key(options: BuildOptions, targets: list[str]):
    """The key of the kept job graph (fileflow.run.graph_cache): what of the command line
    shapes the graph; None where no graph is kept (a run log that is not a SQLite file)."""
    from fileflow.runlog.location import sqlite_file

    if sqlite_file(options.db_url or os.environ.get("FILEFLOW_DB") or None, os.getcwd()) is None:
        return None
    from fileflow.run.graph_cache import cache_key

    def shown(mapping) -> str:
        return repr(sorted((mapping or {}).items(), key=repr))

    return cache_key((options.flowfile, os.path.abspath(options.flowfile), tuple(targets),
                      shown(options.config), tuple(options.configfiles),
                      shown(options.default_resources), shown(options.set_resources),
                      shown(options.set_threads), options.cluster,
                      0 if options.cluster else local_cores(options), shown(options.storage)))


def _selected(options: BuildOptions, workflow, graph, store):
    """The part of the graph --until, --omit-from and --batch select (all of it without)."""
    if not (options.until or options.omit_from or options.batch):
        return graph
    from fileflow.engine.selection import Selection, parse_batch, select

    batch = parse_batch(options.batch) if options.batch else None
    graph = select(graph, Selection(tuple(options.until), tuple(options.omit_from), batch),
                   workflow.by_name, store.missing)
    if batch is not None and not batch.final and not options.quiet:
        print(f"--batch {batch}: only the jobs of this part are considered; {batch.rule} and "
              f"the jobs below it run with the last batch ({batch.count}/{batch.count})",
              file=sys.stderr)
    return graph


def local_cores(options: BuildOptions) -> int:
    """The cores a local build runs its jobs on: -j, else all of this machine's."""
    return options.jobs or os.cpu_count() or 1


def _with_overrides(workflow, options: BuildOptions):
    """The command line's threads and resources put into the rules, for local jobs as for
    cluster ones; threads capped at the cores of a local build."""
    from fileflow.lang.overrides import RunOverrides, with_overrides

    return with_overrides(workflow, RunOverrides(
        options.default_resources or {}, options.set_resources, options.set_threads,
        0 if options.cluster else local_cores(options), options.groups))


def _check_force_targets(force_targets, graph) -> None:
    """--force must name something this build makes: say so instead of forcing nothing."""
    if not force_targets:
        return
    made = {os.path.normpath(p) for job in graph.jobs for p in job.outputs}
    rules = {job.rule.name for job in graph.jobs if not job.wildcards}
    for target in force_targets:
        if os.path.normpath(target) not in made and target not in rules:
            raise FileflowError(f"--force {target}: no job of this build makes it (force "
                                "a file the targets need, or ask for it as a target too)")


def local_view_of(graph, store):
    """The jobs as their commands see them, remote files at their staged local paths
    (fileflow.remote.staging), when the graph names one; else None (Plan.local_view)."""
    if not graph.names_remote_files():
        return None
    from fileflow.remote.staging import LocalPaths

    return LocalPaths(store.stage_root).job


def read_recorded(db_url: str | None, write: bool):
    """The run log and what it records; a dry run never creates one."""
    runlog, recorded, _ = read_recorded_at(db_url, write)
    return runlog, recorded


def open_runlog_at(db_url: str | None, write: bool):
    """The run log and its generation read now, before any of its records (a build that
    finds it changed once it holds the build lock plans again); (None, 0) for a dry run
    where there is none: a dry run never creates one."""
    from fileflow.runlog.log import open_runlog

    db_url = db_url or os.environ.get("FILEFLOW_DB") or None
    if not write and db_url is None and not os.path.exists(os.path.join(".fileflow", "runlog.db")):
        return None, 0
    runlog = open_runlog(db_url, os.getcwd(), look_only=not write)
    return runlog, runlog.generation() if write else 0


def read_recorded_at(db_url: str | None, write: bool):
    """The run log, what it records, and its generation read just before."""
    runlog, generation = open_runlog_at(db_url, write)
    return runlog, ({} if runlog is None else runlog.load_targets()), generation


def plan_build(options: BuildOptions, graph, recorded, store, ran: frozenset[str] = frozenset(),
               previous=None, load_records=None):
    """What of the graph runs and why, against what the run log records; the forcing
    options taken into account, except for the jobs this build `ran` already (a graph
    grown after checkpoints: a forced checkpoint job runs once, not in every round).
    `previous`: what the last plan of this graph knew (fileflow.run.plan_cache), for
    deciding only what may have changed; with `load_records` (the run log's
    `load_targets`), `recorded` is left unread and only the records of the jobs decided
    again are loaded."""
    from fileflow.engine.plan import Force, make_plan

    force = Force(options.forceall, frozenset(options.forcerun),
                  frozenset(os.path.normpath(t) for t in options.force_targets), ran)
    local_view = local_view_of(graph, store)
    if options.rerun_triggers is not None:
        return make_plan(graph, store, recorded, force, local_view=local_view,
                         triggers=options.rerun_triggers)
    return make_plan(graph, store, recorded, force, local_view=local_view, previous=previous,
                     load_records=load_records)
