"""The options of `fileflow build` and what they become: the Flowfile found, the targets
checked, a BuildOptions for the build and the commands that look at it. Layer 5.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from fileflow.cli.arguments import (
    NAME_VALUE,
    RULE_GROUP,
    RULE_NAME,
    RULE_NAME_VALUE,
    CoresAction,
    FormedValues,
    add_time_limits,
    cores,
    resource_limits,
    seconds,
)
from fileflow.cli.partial import add_change_options, add_selection_options, selection_values
from fileflow.errors import FileflowError
from fileflow.printable import not_utf8

__all__ = ["FLOWFILE_NAMES", "find_flowfile", "configure_build", "paths", "build_options",
           "storage_of"]

FLOWFILE_NAMES = ("Flowfile", os.path.join("workflow", "Flowfile"))


def find_flowfile(args) -> str:
    if args.file:
        if not os.path.isfile(args.file):
            raise FileflowError(f"no Flowfile at {args.file}")
        return args.file
    for name in FLOWFILE_NAMES:
        if os.path.isfile(name):
            return name
    raise FileflowError(f"no Flowfile found in {os.getcwd()} (looked for {', '.join(FLOWFILE_NAMES)}; "
                        "use -f FILE or -C DIR)")


def configure_build(parser: argparse.ArgumentParser) -> None:
    """The options of `fileflow build` (and of a --profile): what runs, how it is watched,
    where it runs, which files and software it uses."""
    _what_runs(parser)
    _where_it_runs(parser)
    _files_and_software(parser)


def _what_runs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("targets", nargs="*", metavar="TARGET",
                        help="files or rule names to build (default: the Flowfile's default target)")
    parser.add_argument("-j", "--jobs", "--cores", action=CoresAction, default=0, metavar="N|all",
                        help="run at most N jobs (cores) at once (default, 'all' or no value: "
                             "the number of cores)")
    parser.add_argument("-n", "--dry-run", action="store_true",
                        help="print the jobs that would run and why; change nothing")
    parser.add_argument("-p", "--print-commands", action="store_true", help="print each command")
    parser.add_argument("-k", "--keep-going", action="store_true",
                        help="after a failure, go on with jobs that do not depend on it")
    parser.add_argument("-F", "--forceall", action="store_true", help="run every job")
    parser.add_argument("-R", "--forcerun", action=FormedValues, form=RULE_NAME, default=[], metavar="RULE",
                        help="run every job of these rules (and what depends on them)")
    parser.add_argument("--force", action="append", default=[], metavar="TARGET",
                        help="run the job that makes TARGET even if it is up to date")
    parser.add_argument("--touch", action="store_true",
                        help="record out-of-date outputs as up to date without running anything")
    add_time_limits(parser)
    parser.add_argument("--latency-wait", type=seconds, default=5.0, metavar="SECONDS",
                        help="wait this long for outputs to appear (shared file systems; default 5)")
    parser.add_argument("--resources", action=FormedValues, form=NAME_VALUE, default=[], metavar="NAME=N",
                        help="limits on the sum of running jobs' resources, e.g. mem_mb=16000")
    parser.add_argument("--db", default=None, metavar="URL",
                        help="run log database (default: FILEFLOW_DB, else .fileflow/runlog.db)")
    parser.add_argument("--lock-timeout", type=seconds, default=0.0, metavar="SECONDS",
                        help="wait this long for another build writing the same files, or "
                             "files this build reads (default 0)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="print only errors and the final summary")
    parser.add_argument("--progress", choices=["live", "plain", "none"], default=None,
                        help="while jobs run: a live status line under the job lines (live), the "
                             "job lines alone (plain), or neither (none); default: live on a "
                             "terminal, plain otherwise, none with -q")
    parser.add_argument("--graph", action="store_true",
                        help="with -n: show the jobs that would run as a tree (implies -n)")
    parser.add_argument("--summary", action="store_true",
                        help="show every output's state instead of building (as 'fileflow summary')")
    add_selection_options(parser)
    add_change_options(parser)


def _where_it_runs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cluster", default=None, choices=["slurm", "drmaa"],
                        help="run jobs on a cluster (-j then bounds jobs queued or running "
                             "there; default 100); see docs/cluster.md")
    parser.add_argument("--drmaa-native", default="", metavar="TEMPLATE",
                        help="--cluster drmaa: native specification of every job, a template "
                             "with {threads}, {resources.mem_mb}, {rule}, {wildcards.x}, e.g. "
                             "'-pe smp {threads} -l h_vmem={resources.mem_mb}M'")
    parser.add_argument("--default-resources", action=FormedValues, form=NAME_VALUE, default=[],
                        metavar="NAME=VALUE",
                        help="resources of jobs whose rule does not set them (locally and on "
                             "a cluster), e.g. mem_mb=2000 slurm_partition=short")
    parser.add_argument("--set-resources", action=FormedValues, form=RULE_NAME_VALUE, default=[],
                        metavar="RULE:NAME=VALUE",
                        help="override a rule's resource (or threads), e.g. align:mem_mb=8000")
    parser.add_argument("--set-threads", action=FormedValues, form=NAME_VALUE, default=[],
                        metavar="RULE=N", help="override a rule's threads, e.g. align=8")
    parser.add_argument("--local-cores", type=cores, default=0, metavar="N|all",
                        help="cluster: cores for localrules jobs on this machine (default: all)")
    parser.add_argument("--no-job-arrays", dest="job_arrays", action="store_false",
                        help="cluster: one submission per job instead of job arrays")
    parser.add_argument("--groups", action=FormedValues, form=RULE_GROUP, default=[],
                        metavar="RULE=GROUP",
                        help="cluster: put a rule's jobs in a group (over its group:), e.g. "
                             "trim=per_sample; connected jobs of a group run as one cluster job")
    parser.add_argument("--group-components", action=FormedValues, form=RULE_GROUP, default=[],
                        metavar="GROUP=N",
                        help="cluster: up to N unconnected pieces of a group in one cluster "
                             "job, e.g. per_sample=10")
    parser.add_argument("--group-cores", type=cores, default=0, metavar="N",
                        help="cluster: most cores one group job asks for; jobs of a group "
                             "beyond it run one after the other (default: no limit)")
    profile_option(parser, "read options from a YAML profile (./profiles/NAME/config.yaml, "
                           "~/.config/fileflow/NAME/config.yaml); flags given here win")


def _files_and_software(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keep-remote", action="store_true",
                        help="keep the local copies of remote files (.fileflow/remote/) after "
                             "the run; a later run reuses a copy while its version is unchanged")
    parser.add_argument("--storage", nargs="+", default=[], metavar="PROTOCOL:KEY=VALUE",
                        help="an option of a remote store, over the Flowfile's storage:, e.g. "
                             "s3:endpoint=http://127.0.0.1:9000 s3:anonymous=true; see "
                             "docs/remote.md")
    parser.add_argument("--remote-staging", choices=["head", "job"], default="head",
                        help="cluster: where remote files are downloaded and uploaded: on "
                             "this machine (head, the default) or by each cluster job on its "
                             "node (job); see docs/remote.md")
    parser.add_argument("--use-conda", action="store_true",
                        help="run jobs in their rule's conda: environment, created first "
                             "(needs the extra: pip install 'fileflow[conda]')")
    parser.add_argument("--conda-prefix", default=None, metavar="DIR",
                        help="where conda environments are created (default .fileflow/conda); "
                             "on a cluster, a folder of the shared file system")
    parser.add_argument("--use-envmodules", action="store_true",
                        help="load each rule's envmodules: (module purge && module load ...) "
                             "before its jobs' commands")


def profile_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    """--profile NAME|PATH, as every command that reads one takes it (fileflow.cli.profiles)."""
    parser.add_argument("--profile", default=None, metavar="NAME|PATH", help=help_text)


def paths(values: Sequence[str], what: str) -> list[str]:
    """Targets as given, refused when one has a NUL byte (no file name can hold one) or is
    not UTF-8 text (bytes that are not UTF-8: fileflow records paths as UTF-8)."""
    for value in values:
        if "\x00" in value:
            raise FileflowError(f"{what} {value!r} contains a NUL byte; no file name can hold one")
        bad = not_utf8(value)
        if bad is not None:
            raise FileflowError(f"{what} {value!r} is not UTF-8 text (it holds {bad!r}); fileflow "
                                "reads and records paths as UTF-8")
    return list(values)


def build_options(args, **extra):
    from fileflow.cli.steps import BuildOptions

    config = {}
    if args.config:  # the rule model's module is a slow import, not needed without --config
        from fileflow.lang.config import parse_config_overrides
        config = parse_config_overrides(args.config)
    return BuildOptions(
        flowfile=find_flowfile(args), targets=paths(getattr(args, "targets", ()), "target"),
        config=config, configfiles=args.configfile,
        jobs=getattr(args, "jobs", 0), dry_run=getattr(args, "dry_run", False),
        forceall=getattr(args, "forceall", False), forcerun=getattr(args, "forcerun", ()),
        force_targets=paths(getattr(args, "force", ()), "--force"),
        keep_going=getattr(args, "keep_going", False),
        latency_wait=getattr(args, "latency_wait", 5.0),
        default_timeout=getattr(args, "default_timeout", 0.0),
        retry_delay=getattr(args, "retry_delay", 0.0),
        resources=resource_limits(getattr(args, "resources", ())),
        db_url=getattr(args, "db", None), lock_timeout=getattr(args, "lock_timeout", 0.0),
        quiet=getattr(args, "quiet", False), print_commands=getattr(args, "print_commands", False),
        touch=getattr(args, "touch", False), argv=sys.argv[:1] + list(args.argv),
        keep_remote=getattr(args, "keep_remote", False),
        remote_staging=getattr(args, "remote_staging", "head"),
        progress=getattr(args, "progress", None), storage=storage_of(args),
        use_conda=getattr(args, "use_conda", False),
        conda_prefix=getattr(args, "conda_prefix", None),
        use_envmodules=getattr(args, "use_envmodules", False), **selection_values(args), **extra)


def storage_of(args) -> dict:
    if not getattr(args, "storage", None) and not getattr(args, "profile_storage", None):
        return {}
    from fileflow.cli.profiles import storage_options

    return storage_options(args)
