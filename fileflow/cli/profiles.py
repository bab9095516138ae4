"""`--profile NAME|PATH`: command-line options kept in a YAML file, and the cluster options
read from the command line. Layer 5.

A profile is a mapping whose keys are long option names without the dashes (`cluster`,
`jobs`, `default-resources`, ...). It is looked up as PATH (a file, or a folder holding
config.yaml), then ./profiles/NAME/config.yaml, then ~/.config/fileflow/NAME/config.yaml.
Options given on the command line win over the profile's. `storage` is a mapping of
protocol to the options of its remote store (fileflow.storage_options), kept with its YAML
types; `--storage` on the command line wins over it option by option.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
from collections.abc import Callable

from fileflow.errors import FileflowError

__all__ = ["find_profile", "apply_profile", "cluster_options", "group_options", "parse_assignments",
           "default_resources", "storage_options", "planning_options"]


def find_profile(name: str) -> str:
    candidates = []
    if os.sep in name or name.endswith((".yaml", ".yml")) or os.path.exists(name):
        candidates.append(name)
    candidates += [os.path.join("profiles", name),
                   os.path.join(os.path.expanduser("~"), ".config", "fileflow", name)]
    for path in candidates:
        if os.path.isdir(path):
            path = os.path.join(path, "config.yaml")
        if os.path.isfile(path):
            return path
    raise FileflowError(f"--profile {name}: no profile found (looked for {name}, "
                        f"profiles/{name}/config.yaml, ~/.config/fileflow/{name}/config.yaml)")


def _words(key: str, value: object, path: str) -> list[str]:
    """One profile entry as command-line words."""
    option = "--" + key
    if isinstance(value, bool):
        return [option] if value else []
    if isinstance(value, dict):
        words = []
        for k, v in value.items():
            if isinstance(v, dict):  # set-resources: {rule: {key: value}}
                words += [f"{k}:{kk}={vv}" for kk, vv in v.items()]
            else:
                words.append(f"{k}={v}")
        return [option, *words] if words else []
    if isinstance(value, list):
        return [option, *map(str, value)] if value else []
    if value is None:
        return []
    if isinstance(value, str) and value.startswith("-"):
        return [f"{option}={value}"]  # a value such as "-pe smp 4" is not an option here
    return [option, str(value)]


def apply_profile(args: argparse.Namespace, make_parser: Callable[[], argparse.ArgumentParser]) -> None:
    from fileflow.lang.config import load_yaml_file

    path = find_profile(args.profile)
    # Read as a config file is: a regular file within its limits, UTF-8, YAML errors at
    # their line, a number or date Python cannot hold an error.
    data = load_yaml_file(path, None, path, "profile") or {}
    if not isinstance(data, dict):
        raise FileflowError(f"profile {path}: expected a mapping of option names to values")
    parser = make_parser()
    given = set()
    for word in args.argv:
        if word.startswith("-"):
            given.add(word.split("=", 1)[0])
    actions = parser._option_string_actions  # argparse's own table of option strings
    for key, value in data.items():
        key = str(key).replace("_", "-")
        if key == "storage":
            args.profile_storage = _checked_storage(value, f"profile {path}")
            continue
        action = actions.get("--" + key)
        if action is None or key in ("profile", "help"):
            raise FileflowError(f"profile {path}: unknown option {key!r} (keys are the long "
                                "option names of 'fileflow build', without the dashes)")
        if any(s in given for s in action.option_strings):
            continue  # the command line wins
        words = _words(key, value, path)
        if not words:
            continue
        problem = io.StringIO()
        try:
            with contextlib.redirect_stderr(problem):
                parsed = parser.parse_args(words)
        except SystemExit:
            why = problem.getvalue().strip().rpartition(": ")[2]
            raise FileflowError(f"profile {path}: bad value for {key!r}: {value!r}"
                                + (f" ({why})" if why else "")) from None
        setattr(args, action.dest, getattr(parsed, action.dest))


def _value(text: str) -> object:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def default_resources(args: argparse.Namespace) -> dict[str, object]:
    """--default-resources (and a profile's default-resources:), sizes and times with units
    read as a rule's are."""
    given = parse_assignments(getattr(args, "default_resources", ()), "--default-resources")
    if not given:  # the usual case: the rule language's units are not needed
        return {}
    from fileflow.lang.units import given_resources

    return given_resources(given, "--default-resources")


def parse_assignments(pairs, option: str) -> dict[str, object]:
    out: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise FileflowError(f"{option} expects NAME=VALUE, got {pair!r}")
        number = out[key.strip()] = _value(value.strip())
        if isinstance(number, float | int) and not 0 <= number < math.inf:  # nan too
            raise FileflowError(f"{option} expects NAME=VALUE with a number >= 0, got {pair!r}")
    return out


def group_options(args: argparse.Namespace) -> dict:
    """The BuildOptions fields of --groups, --group-components and --group-cores."""
    groups: dict[str, str] = {}
    for pair in getattr(args, "groups", ()):
        rule, _, group = pair.partition("=")
        groups[rule.strip()] = group.strip()
    components: dict[str, int] = {}
    for pair in getattr(args, "group_components", ()):
        group, _, count = pair.partition("=")
        try:
            components[group.strip()] = int(count)
        except ValueError:
            components[group.strip()] = 0
        if components[group.strip()] < 1:
            raise FileflowError(f"--group-components expects GROUP=N with N a whole number "
                                f">= 1, got {pair!r}")
    return {"groups": groups, "group_components": components,
            "group_cores": getattr(args, "group_cores", 0)}


def _check_threads(set_threads: dict, per_rule: dict) -> None:
    """Threads given on the command line are whole numbers >= 0: said before
    anything else, even when the build turns out to have nothing to do."""
    if not set_threads and not any("threads" in values for values in per_rule.values()):
        return
    from fileflow.lang.overrides import check_threads

    for rule, value in set_threads.items():
        check_threads(value, f"--set-threads {rule}")
    for rule, values in per_rule.items():
        if "threads" in values:
            check_threads(values["threads"], f"--set-resources {rule}:threads")


def _checked_storage(value: object, where: str) -> dict[str, dict[str, object]]:
    from fileflow.storage_options import check_storage

    try:
        return check_storage(value, where)
    except ValueError as exc:
        raise FileflowError(str(exc)) from None


def storage_options(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    """The storage options of remote stores from a profile's `storage` and from
    `--storage PROTOCOL:KEY=VALUE` (VALUE read as YAML), the command line's over the
    profile's; the Flowfile's `storage:` is merged beneath them when it is loaded."""
    import yaml

    from fileflow.storage_options import merge_storage

    given: dict[str, dict[str, object]] = {}
    for item in getattr(args, "storage", ()):
        protocol, sep, rest = item.partition(":")
        key, eq, text = rest.partition("=")
        if not sep or not eq or not protocol.strip() or not key.strip():
            raise FileflowError(f"--storage expects PROTOCOL:KEY=VALUE, got {item!r}")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except (yaml.YAMLError, ValueError):  # not YAML, or a number Python cannot hold
            value = text
        given.setdefault(protocol.strip(), {})[key.strip()] = value
    return merge_storage(getattr(args, "profile_storage", {}),
                         _checked_storage(given, "--storage"))


def cluster_options(args: argparse.Namespace) -> dict:
    """The BuildOptions fields of the cluster flags."""
    per_rule: dict[str, dict[str, object]] = {}
    for item in getattr(args, "set_resources", ()):
        rule, sep, rest = item.partition(":")
        if not sep or not rule.strip():
            raise FileflowError(f"--set-resources expects RULE:NAME=VALUE, got {item!r}")
        per_rule.setdefault(rule.strip(), {}).update(parse_assignments([rest], "--set-resources"))
    if per_rule:
        from fileflow.lang.units import given_resources

        per_rule = {rule: given_resources(values, f"--set-resources {rule}")
                    for rule, values in per_rule.items()}
    if getattr(args, "drmaa_native", "") and getattr(args, "cluster", None) != "drmaa":
        raise FileflowError("--drmaa-native applies only with --cluster drmaa")
    if getattr(args, "local_cores", 0) < 0:
        raise FileflowError("--local-cores must be at least 1")
    set_threads = parse_assignments(getattr(args, "set_threads", ()), "--set-threads")
    _check_threads(set_threads, per_rule)
    return {"cluster": getattr(args, "cluster", None), **group_options(args),
            "default_resources": default_resources(args),
            "set_resources": per_rule, "local_cores": getattr(args, "local_cores", 0),
            "set_threads": set_threads,
            "job_arrays": getattr(args, "job_arrays", True),
            "drmaa_native": getattr(args, "drmaa_native", "") or ""}


def planning_options(args: argparse.Namespace,
                     make_parser: Callable[[], argparse.ArgumentParser]) -> dict:
    """The BuildOptions fields a command that resolves or plans as a build would (why,
    graph, summary, clean, ...) takes from --profile and the options a build reads: the
    profile's options put into `args` first (its config, resources, groups, threads...),
    then the cluster options. Without any default resources, None: the commands that do
    not run check `{resources.KEY}` as lint does."""
    if getattr(args, "profile", None):
        apply_profile(args, make_parser)
    options = cluster_options(args)
    options["default_resources"] = options["default_resources"] or None
    return options
