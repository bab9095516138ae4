"""Rules' software at the command line: the build's environments made ready before its jobs
(--use-conda, --use-envmodules), and `fileflow conda create|list|clean`. Layer 5.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys

from fileflow.cli.build_args import profile_option
from fileflow.cli.steps import BuildOptions, print_line

__all__ = ["DEFAULT_CONDA_PREFIX", "with_software", "configure", "conda_command"]

DEFAULT_CONDA_PREFIX = os.path.join(".fileflow", "conda")


def conda_root(options: BuildOptions) -> str:
    return os.path.abspath(options.conda_prefix or DEFAULT_CONDA_PREFIX)


def with_software(settings, options: BuildOptions, graph, plan):
    """The run loop's settings with the activation of each rule that runs: conda
    environments are created here, on this machine, before any job starts or is submitted.
    A `conda:` without --use-conda is said once."""
    rules = {graph.jobs[j].rule.name: graph.jobs[j].rule for j in plan.reasons}
    with_conda = sorted(name for name, rule in rules.items()
                        if rule.software is not None and rule.software.conda is not None)
    if with_conda and not options.use_conda and not options.quiet:
        print(f"fileflow: warning: rule(s) {', '.join(with_conda)} name a conda environment; "
              "it is ignored without --use-conda", file=sys.stderr)
    if not (options.use_conda or options.use_envmodules):
        return settings
    from fileflow.envs.activation import prepare_rules

    def created(path: str, prefix: str) -> None:
        if not options.quiet:
            print_line(f"created conda environment {prefix} from {path}")

    software = prepare_rules(rules.values(), options.use_conda, conda_root(options),
                             options.use_envmodules, created)
    return dataclasses.replace(settings, software=software)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["create", "list", "clean"],
                        help="create: make every conda environment the workflow names (e.g. on "
                             "a login node with a network); list: each environment and its "
                             "state; clean: remove environments no rule of the workflow uses")
    parser.add_argument("--conda-prefix", default=None, metavar="DIR",
                        help="where conda environments are created (default .fileflow/conda)")
    parser.add_argument("-n", "--dry-run", action="store_true",
                        help="clean: only list what would be removed")
    parser.add_argument("--db", default=None, metavar="URL",
                        help="accepted as the other commands accept it; environments are not "
                             "in the run log")
    profile_option(parser, "as for build: read options from a YAML profile (its "
                           "conda-prefix, config...)")


def conda_command(options: BuildOptions, action: str, dry_run: bool) -> int:
    from fileflow.envs import conda
    from fileflow.envs.activation import conda_prefix_of
    from fileflow.lang.loader import load_workflow
    from fileflow.lang.model import CondaEnv

    workflow = load_workflow(options.flowfile, workdir=os.getcwd(), config=options.config,
                             configfiles=options.configfiles)
    envs: dict[str, CondaEnv] = {}
    for rule in workflow.rules:
        if rule.software is not None and rule.software.conda is not None:
            envs.setdefault(rule.software.conda.value, rule.software.conda)
    root = conda_root(options)
    if action == "create":
        for value, env in envs.items():
            prefix = conda_prefix_of(env, root, True)
            print_line(f"{value}\t{prefix}")
        return 0
    if action == "list":
        for value, env in envs.items():
            if env.kind != "file":
                print_line(f"{value}\t{env.kind}")
                continue
            prefix = conda_prefix_of(env, root, False)
            state = "created" if conda.is_complete(prefix) else "not created"
            print_line(f"{value}\t{prefix}\t{state}")
        return 0
    used = {os.path.basename(conda_prefix_of(env, root, False))
            for env in envs.values() if env.kind == "file"}
    if not os.path.isdir(root):
        return 0
    for entry in sorted(os.listdir(root)):
        name = entry.split(".", 1)[0]
        if name in used or entry.startswith("."):
            continue
        path = os.path.join(root, entry)
        print_line(f"{'would remove' if dry_run else 'removed'} {path}")
        if not dry_run:
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.remove(path)
    return 0
