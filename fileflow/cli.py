"""The command line: `fileflow [OPTIONS] [COMMAND] ...`; a bare `fileflow [OPTIONS] [TARGET...]`
means `build`. Layer 5. Heavy modules are imported inside the commands, so `--help` is fast.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, Sequence

from .errors import EXIT_INTERRUPTED, EXIT_USAGE, FileflowError

__all__ = ["main", "COMMANDS"]

FLOWFILE_NAMES = ("Flowfile", os.path.join("workflow", "Flowfile"))


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    group = parser.add_argument_group("workflow options")
    group.add_argument("-f", "--file", "--flowfile", dest="file", default=default, metavar="FILE",
                       help="the Flowfile (default: Flowfile, then workflow/Flowfile)")
    group.add_argument("-C", "--directory", default=default, metavar="DIR",
                       help="change to DIR before doing anything (as in make)")
    group.add_argument("--configfile", action="append", default=argparse.SUPPRESS if suppress else [],
                       metavar="FILE", help="YAML merged over the Flowfile's config (repeatable)")
    group.add_argument("--config", action="append", default=argparse.SUPPRESS if suppress else [],
                       metavar="KEY=VALUE", help="set a config value, overriding files (repeatable)")


def _command_parser(name: str, help_text: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"fileflow {name}", description=help_text)
    _global_options(parser, suppress=True)
    return parser


# ---------------------------------------------------------------- helpers for commands

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


def load(args):
    from .rules import load_workflow, parse_config_overrides

    path = find_flowfile(args)
    overrides = parse_config_overrides(args.config)
    return load_workflow(path, workdir=os.getcwd(), config=overrides, configfiles=args.configfile)


# ---------------------------------------------------------------- commands

def cmd_check(args) -> int:
    workflow = load(args)
    rules = workflow.rules
    shown = ", ".join(r.name for r in rules[:8]) + (", ..." if len(rules) > 8 else "")
    includes = len(workflow.flowfiles) - 1
    extra = f", {includes} included file{'s' if includes != 1 else ''}" if includes else ""
    targets = ", ".join(workflow.default_targets) or "none"
    print(f"{workflow.flowfiles[0]}: ok: {len(rules)} rule{'s' if len(rules) != 1 else ''} "
          f"({shown}){extra}; default target: {targets}")
    return 0


COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None] | None, str]] = {
    "check": ("cmd_check", None, "parse and validate the Flowfile; print a summary or the errors"),
}


def _main_parser() -> argparse.ArgumentParser:
    lines = "\n".join(f"  {name:<10} {help_text}" for name, (_, _, help_text) in COMMANDS.items())
    parser = argparse.ArgumentParser(
        prog="fileflow",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="A file-target build system for data pipelines.",
        epilog=f"commands:\n{lines}\n\n'fileflow COMMAND --help' describes a command.\n"
               "exit codes: 0 ok, 1 a job failed, 2 bad Flowfile or arguments, "
               "3 locked by another build, 130 interrupted",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    _global_options(parser, suppress=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    top = _main_parser()
    known, rest = top.parse_known_args(argv) if argv[:1] not in (["-h"], ["--help"]) else (None, argv)
    if known is None:
        top.print_help()
        return 0
    if known.version:
        from . import __version__
        print(f"fileflow {__version__}")
        return 0
    if rest and rest[0] in COMMANDS:
        command, rest = rest[0], rest[1:]
    elif rest and rest[0] in ("-h", "--help"):
        top.print_help()
        return 0
    elif "build" in COMMANDS:
        command = "build"
    else:
        top.print_usage(sys.stderr)
        print("fileflow: error: give a command (" + ", ".join(COMMANDS) + ")", file=sys.stderr)
        return EXIT_USAGE
    func_name, configure, help_text = COMMANDS[command]
    parser = _command_parser(command, help_text)
    if configure:
        configure(parser)
    try:
        args = parser.parse_args(rest, namespace=known)
    except SystemExit as exc:  # argparse already printed the message
        return EXIT_USAGE if exc.code else 0
    try:
        if args.directory:
            try:
                os.chdir(args.directory)
            except OSError as exc:
                raise FileflowError(f"cannot change to directory {args.directory}: {exc.strerror}") from None
        return globals()[func_name](args)
    except FileflowError as err:
        print(err.render(), file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("fileflow: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
