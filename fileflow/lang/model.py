"""The checked rule model: a Workflow of Rules, each directive's value either evaluated or a
Lazy to evaluate per job, and JobValues, what one job's directives evaluate to. Layer 1.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import NamedTuple

from fileflow.errors import FlowfileError, Position
from fileflow.lang.python_imports import FunctionInfo
from fileflow.patterns import Pattern
from fileflow.slots import slot_builder
from fileflow.template import Items, Template

__all__ = ["FileItem", "Arguments", "Lazy", "Action", "CondaEnv", "Software", "Rule", "Workflow", "JobValues",
           "build_rule", "replaced"]

# A directive's evaluated arguments, in order: (keyword or None, value).
Arguments = list[tuple[str | None, object]]


class FileItem(NamedTuple):
    """One entry of input/output/log: a pattern, an optional name and flags (temp, ...).
    A named tuple: `expand()` can give a rule 100,000 of them."""

    pattern: Pattern
    name: str | None
    flags: frozenset[str]
    pos: Position


@dataclass(frozen=True, slots=True)
class Lazy:
    """A directive value that is evaluated per job (it reads `wildcards`, `attempt` or
    `checkpoints`)."""

    fn: Callable[[Mapping[str, object]], Arguments]
    scope: Mapping[str, object]
    pos: Position

    def __call__(self, **job_names: object) -> Arguments:
        try:
            return self.fn(_JobScope(job_names, self.scope))
        except RecursionError:
            raise FlowfileError("expression nested too deeply", self.pos) from None


class _JobScope(dict):
    """A job's own names (wildcards, attempt) over the Flowfile's names, without copying them."""

    __slots__ = ("outer",)

    def __init__(self, own: Mapping[str, object], outer: Mapping[str, object]):
        super().__init__(own)
        self.outer = outer

    def __missing__(self, key: str) -> object:
        return self.outer[key]

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self.outer


@dataclass(frozen=True, slots=True)
class Action:
    kind: str                     # "shell" | "script"
    text: str                     # the command template, or the script path (relative to workdir)
    template: Template | None     # shell only
    pos: Position


# A rule's software (lang/software.py reads it): its conda: environment, its envmodules:.
@dataclass(frozen=True, slots=True)
class CondaEnv:
    kind: str           # "file" | "prefix" | "name"
    value: str          # file: path relative to the working directory; prefix: absolute; name
    digest: str         # file: sha256 of its content; else ""
    pos: Position


@dataclass(frozen=True, slots=True)
class Software:
    conda: CondaEnv | None
    modules: tuple[str, ...]

    @property
    def signature(self) -> str:
        """What a job's signature takes from its software: the environment file's content
        digest (or the prefix or name) and the module list."""
        conda = ""
        if self.conda is not None:
            conda = f"{self.conda.kind}:{self.conda.digest or self.conda.value}"
        return f"{conda}\x00{' '.join(self.modules)}"


@dataclass(frozen=True, slots=True, eq=False)
class Rule:
    name: str
    pos: Position
    index: int                                   # definition order (earlier wins nothing; for display)
    outputs: tuple[FileItem, ...]
    wildcards: tuple[str, ...]                   # defined by the outputs
    inputs: tuple[FileItem, ...] | Lazy
    log: tuple[FileItem, ...] | Lazy
    params: Items | Lazy
    threads: int | Lazy
    resources: Mapping[str, object] | Lazy
    retries: int
    priority: int
    message: Template | None
    action: Action | None
    constraints: Mapping[str, str]
    local: bool
    directive_pos: Mapping[str, Position]
    source_hash: str = ""                        # script content digest, for the signature
    checkpoint: bool = False                     # `checkpoint NAME:`: its outputs may decide the graph
    software: Software | None = None             # conda: and envmodules:
    timeout: float = 0.0                         # seconds a job may run (`timeout:`); 0: no limit
    retry_delay: float = 0.0                     # seconds before a retry (`retry_delay:`); 0: unset
    retry_backoff: float = 1.0                   # each retry waits this many times longer
    group: str = ""                              # `group:` (or --groups): its jobs run together on a cluster
    # "input" and "log" -> the names given an empty list there (`groups = expand(...)` over
    # no values): names with no FileItem, kept so that `{input.groups}` is an empty list
    empty_names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def lazy(self) -> bool:
        """Whether any directive is evaluated per job."""
        return (isinstance(self.inputs, Lazy) or isinstance(self.log, Lazy)  # per job: no genexpr
                or isinstance(self.params, Lazy) or isinstance(self.threads, Lazy)
                or isinstance(self.resources, Lazy))


# Rule(...) with every field given in order, several times faster than the generated
# __init__ (one object.__setattr__ per field): one per rule.
build_rule = slot_builder(Rule)
_RULE_FIELDS = frozenset(Rule.__slots__)
_RULE_VALUES = attrgetter(*Rule.__slots__)  # a rule's fields, in order, read in C
_RULE_INDEX = {name: i for i, name in enumerate(Rule.__slots__)}


def replaced(rule: Rule, **changes: object) -> Rule:
    """`dataclasses.replace(rule, **changes)`, several times faster (slot_builder's, not the
    generated __init__ with its object.__setattr__ for each field): every rule of a
    Flowfile with top-level wildcard_constraints is copied, and a module's rules, and the
    rules the command line's resources and threads change."""
    unknown = changes.keys() - _RULE_FIELDS
    if unknown:
        raise TypeError(f"Rule has no field {sorted(unknown)[0]!r}")
    values = list(_RULE_VALUES(rule))
    for name, value in changes.items():
        values[_RULE_INDEX[name]] = value
    return build_rule(*values)


@dataclass(frozen=True, slots=True)
class Workflow:
    rules: tuple[Rule, ...]
    by_name: Mapping[str, Rule]
    default_targets: tuple[str, ...]
    ruleorder: tuple[tuple[str, str], ...]       # (preferred, other) pairs
    localrules: frozenset[str]
    constraints: Mapping[str, str]
    config: Mapping[str, object]
    flowfiles: tuple[str, ...]
    workdir: str
    names: Mapping[str, Position] = field(default_factory=dict)  # top-level assignments
    # Config files, scripts, sheets and data files read while loading; table() and load()
    # called per job (with wildcards) add theirs when the job's values are evaluated.
    read_files: Sequence[str] = ()
    # `storage:` protocol -> options of its remote store (fileflow.storage_options)
    storage: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    # functions imported with `from "file.py" import name`: where each is defined
    functions: Mapping[str, FunctionInfo] = field(default_factory=dict)
    # `onstart:`, `onsuccess:`, `onerror:` -> the shell command run then ({log}, {run_id})
    hooks: Mapping[str, Action] = field(default_factory=dict)
    # The folders glob_wildcards() listed, while loading and (called per job) while the
    # jobs' values were evaluated: a file added or removed in one can change the graph.
    listed_dirs: Collection[str] = ()


class JobValues(NamedTuple):
    """Everything a rule's directives evaluate to for one job (a named tuple: cheap to make)."""

    inputs: Items
    outputs: Items
    log: Items
    params: Items
    threads: int
    resources: Mapping[str, object]
    flags: Mapping[str, frozenset[str]]          # path -> flags, only for flagged paths
