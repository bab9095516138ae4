"""The command line: `fileflow [OPTIONS] [COMMAND] ...`; a bare `fileflow [OPTIONS] [TARGET...]`
means `build`. Layer 5. Heavy modules are imported inside the commands, so `--help` is fast.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from fileflow.cli.arguments import (
    LARGEST_COUNT,
    FlowParser,
    parse_quietly,
    whole_number,
)
from fileflow.cli.build_args import (
    FLOWFILE_NAMES,
    build_options,
    configure_build,
    find_flowfile,
    paths,
    profile_option,
)
from fileflow.cli.job_tests import configure_test_job
from fileflow.cli.partial import add_selection_options
from fileflow.cli.unit_tests import configure_generate_tests
from fileflow.errors import EXIT_INTERRUPTED, EXIT_USAGE, FileflowError
from fileflow.fs import FULL_DISK_HINT, no_space
from fileflow.printable import printable

__all__ = ["main", "COMMANDS", "parser_for", "build_command_parser"]

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
    parser = FlowParser(prog=f"fileflow {name}", description=help_text)
    _global_options(parser, suppress=True)
    return parser


# ---------------------------------------------------------------- helpers for commands

def _print(text: str) -> None:
    """print() to stdout, quietly when its reader is gone (`fileflow check | head -0`):
    stdout then points at /dev/null, so the interpreter's last flush cannot fail either."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass


def _print_shown(text: str) -> None:
    """_print for text that quotes the user's files (findings, paths): control characters
    shown escaped, never sent to the terminal."""
    _print(printable(text))


def load(args, default_resources=None):
    from fileflow.lang.config import parse_config_overrides
    from fileflow.lang.loader import load_workflow

    path = find_flowfile(args)
    overrides = parse_config_overrides(args.config)
    return load_workflow(path, workdir=os.getcwd(), config=overrides, configfiles=args.configfile,
                         default_resources=default_resources)


# --profile of the commands that resolve or plan as a build would, without running it
AS_A_BUILD = ("as for build: read options from a YAML profile (its config, resources, "
              "groups...), to show what a build with it would do")


def _planned(args):
    """The BuildOptions of a command that resolves or plans as a build with the same
    options and --profile would."""
    from fileflow.cli.profiles import planning_options

    return build_options(args, **planning_options(args, build_command_parser))


def _planned_workflow(args):
    """The workflow of a command that runs its jobs as a build with the same options and
    --profile would (test-job)."""
    from fileflow.cli.steps import workflow_of

    return workflow_of(_planned(args))


def _default_resources(args) -> dict[str, object]:
    """--default-resources (after --profile's), as build and check both read it."""
    from fileflow.cli.profiles import default_resources

    return default_resources(args)


# ---------------------------------------------------------------- commands

def configure_check(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--default-resources", nargs="+", default=[], metavar="NAME=VALUE",
                        help="as for build: resources of jobs whose rule does not set them "
                             "(a command may use {resources.NAME} for these)")
    profile_option(parser, "as for build: read options from a YAML profile; its "
                           "default-resources count")


def cmd_check(args) -> int:
    from fileflow.cli.check import check_workflow
    from fileflow.cli.profiles import apply_profile

    if args.profile:
        apply_profile(args, build_command_parser)
    return check_workflow(load(args, _default_resources(args)), _print_shown)


def configure_fmt(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="Flowfiles to format (default: the Flowfile and the files it includes); "
                             "'-' reads stdin, writes stdout")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; list the files that would change, exit 1 if any")
    parser.add_argument("--diff", action="store_true",
                        help="change nothing; print a unified diff of what would change")


def cmd_fmt(args) -> int:
    from fileflow.cli.fmt_files import flowfile_and_includes, format_paths

    files = args.files or flowfile_and_includes(find_flowfile(args))
    return format_paths(files, check=args.check, diff=args.diff)


def configure_lint(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", metavar="FILE", help="Flowfiles to lint (default: the Flowfile)")
    parser.add_argument("--select", default="", metavar="CODES",
                        help="only these codes (comma-separated; a prefix like FF10 selects a group)")
    parser.add_argument("--ignore", default="", metavar="CODES",
                        help="leave out these codes (comma-separated)")
    parser.add_argument("--fail-on", choices=("warning", "error", "never"), default="warning",
                        help="exit 1 if a finding of this severity or worse is printed (default: warning)")


def cmd_lint(args) -> int:
    from fileflow.editor.lint import run_lint

    files = args.files or [find_flowfile(args)]
    return run_lint(files, select=args.select, ignore=args.ignore, fail_on=args.fail_on,
                    config=args.config, configfiles=args.configfile, print_line=_print_shown,
                    workdir=None if args.files else os.getcwd())


def configure_lsp(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stdio", action="store_true",
                        help="talk over stdin/stdout (the default and only transport; accepted "
                             "because editors pass it)")


def cmd_lsp(args) -> int:
    from fileflow.cli.lsp import serve

    return serve()


def build_command_parser() -> argparse.ArgumentParser:
    """The build command's parser alone: what a --profile's options are read with."""
    parser = _command_parser("build", COMMANDS["build"][2])
    configure_build(parser)
    return parser


def cmd_build(args) -> int:
    from fileflow.cli.build import build
    from fileflow.cli.profiles import apply_profile, cluster_options

    if args.profile:
        apply_profile(args, build_command_parser)
    options = build_options(args, **cluster_options(args))
    if args.list_changes:
        from fileflow.cli.partial import list_changes
        return list_changes(options, args.list_changes)
    if args.graph or args.summary:
        from fileflow.cli import show
        return (show.summary if args.summary else show.dry_run_graph)(options)
    return build(options)


def configure_conda(parser: argparse.ArgumentParser) -> None:
    from fileflow.cli.conda_envs import configure

    configure(parser)


def cmd_conda(args) -> int:
    from fileflow.cli.conda_envs import conda_command

    return conda_command(_planned(args), args.action, args.dry_run)


def configure_why(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="FILE", help="the file to explain")
    parser.add_argument("--db", default=None, metavar="URL", help="run log database URL")
    profile_option(parser, AS_A_BUILD)


def cmd_why(args) -> int:
    from fileflow.cli.show import why

    return why(_planned(args), paths([args.path], "why")[0])


def configure_clean(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rules", nargs="*", metavar="RULE",
                        help="rules whose outputs to delete (default: every rule)")
    parser.add_argument("-n", "--dry-run", action="store_true", help="only list what would go")
    parser.add_argument("--force", dest="force_clean", action="store_true",
                        help="delete also outputs fileflow did not make or that changed since, "
                             "protected ones and those outside the working directory")
    parser.add_argument("--orphans", action="store_true",
                        help="delete instead the outputs fileflow made that no job of the "
                             "workflow makes any more (as 'fileflow summary' lists them)")
    parser.add_argument("--db", default=None, metavar="URL", help="run log database URL")
    profile_option(parser, AS_A_BUILD)


def cmd_clean(args) -> int:
    from fileflow.cli.clean import clean

    dry = args.dry_run
    args.dry_run = False
    return clean(_planned(args), args.rules, dry, force=args.force_clean,
                 orphans=args.orphans)


def configure_unlock(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true",
                        help="remove also the locks of builds that are still running")


def cmd_unlock(args) -> int:
    from fileflow.run.locks import remove_all_locks

    n = remove_all_locks(".", force=args.force)
    _print(f"removed {n} build lock{'s' if n != 1 else ''}" if n else "no build locks to remove")
    return 0


def configure_daemon(parser: argparse.ArgumentParser) -> None:
    from fileflow.cli.daemon import configure_daemon as configure

    configure(parser)


def cmd_daemon(args) -> int:
    from fileflow.cli.daemon import daemon_command

    return daemon_command(args)


def configure_graph(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("targets", nargs="*", metavar="TARGET",
                        help="files or rule names (default: the Flowfile's default target)")
    parser.add_argument("--format", choices=["dot", "mermaid", "json", "text"], default=None,
                        help="output format (default: from -o's extension, else dot)")
    add_selection_options(parser)
    parser.add_argument("--level", choices=["jobs", "rules", "files"], default="jobs",
                        help="one node per job (default), per rule, or per file")
    parser.add_argument("-o", "--output", default=None, metavar="FILE",
                        help="write to FILE (.dot .mmd .json .txt; .svg .png .pdf through "
                             "Graphviz's dot) instead of stdout")
    parser.add_argument("--db", default=None, metavar="URL", help="run log database URL")
    profile_option(parser, AS_A_BUILD)


def cmd_graph(args) -> int:
    from fileflow.cli.show import graph

    return graph(_planned(args), args.level, args.format, args.output)


def configure_summary(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("targets", nargs="*", metavar="TARGET",
                        help="files or rule names (default: the Flowfile's default target)")
    add_selection_options(parser)
    parser.add_argument("--db", default=None, metavar="URL", help="run log database URL")
    profile_option(parser, AS_A_BUILD)


def cmd_summary(args) -> int:
    from fileflow.cli.show import summary

    return summary(_planned(args))


def configure_runs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", "--limit", type=whole_number(1, LARGEST_COUNT), default=20, metavar="N",
                        help="show the latest N runs (default 20)")
    parser.add_argument("--db", default=None, metavar="URL", help="run log database URL")


def cmd_runs(args) -> int:
    from fileflow.cli.show import runs

    return runs(args.db, args.limit)


def configure_log(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", nargs="?", default="last", metavar="RUN|JOB|FILE",
                        help="a run number or 'last' (default), a job (#ID or its name, "
                             "e.g. 'count[sample=a]'), or a file some job made")
    parser.add_argument("--tail", type=whole_number(0), default=15, metavar="N",
                        help="lines of the job's log file to show (default 15)")
    parser.add_argument("--db", default=None, metavar="URL", help="run log database URL")


def cmd_log(args) -> int:
    from fileflow.cli.show import show_log

    return show_log(args.db, args.what, args.tail)


def configure_report(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", nargs="?", default="last", metavar="RUN",
                        help="the run to report on: its number, or 'last' (default)")
    parser.add_argument("-o", "--output", default="report.html", metavar="FILE",
                        help="the HTML file to write (default report.html)")
    parser.add_argument("--db", default=None, metavar="URL", help="run log database URL")
    profile_option(parser, AS_A_BUILD)


def cmd_report(args) -> int:
    from fileflow.cli.show import report

    try:
        find_flowfile(args)
    except FileflowError:
        return report(None, args.db, args.run, args.output)  # no Flowfile: no rule graph
    return report(_planned(args), args.db, args.run, args.output)


def configure_serve(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default=None, metavar="URL",
                        help="run log database (default: FILEFLOW_DB, else .fileflow/runlog.db)")
    parser.add_argument("--host", default="127.0.0.1", metavar="ADDRESS",
                        help="the address to listen on (default 127.0.0.1: this machine only; "
                             "any other needs a token, FILEFLOW_SERVE_TOKEN or one printed)")
    parser.add_argument("--port", type=whole_number(1, 65535), default=8765, metavar="PORT",
                        help="the port to listen on (default 8765)")
    profile_option(parser, "as for build: read options from a YAML profile (its config, "
                           "configfile...), for the rule graph a build with it has")


def cmd_serve(args) -> int:
    from fileflow.cli.serve import serve_dashboard

    try:
        find_flowfile(args)
    except FileflowError:
        options = None   # no Flowfile here: the dashboard shows no rule graph
    else:
        options = _planned(args)
    return serve_dashboard(args.db, args.host, args.port, options)


def configure_completion(parser: argparse.ArgumentParser) -> None:
    from fileflow.cli.shell_completion import SHELLS

    parser.add_argument("shell", choices=SHELLS, help="the shell to print the completion script for")


def cmd_completion(args) -> int:
    from fileflow.cli.shell_completion import script

    _print(script(args.shell).rstrip("\n"))
    return 0


def cmd_test_job(args) -> int:
    from fileflow.cli.job_tests import test_job

    return test_job(args, _planned_workflow(args))


def cmd_generate_tests(args) -> int:
    from fileflow.cli.unit_tests import generate_tests

    return generate_tests(args, _planned(args))


def parser_for(command: str | None) -> argparse.ArgumentParser:
    """The top-level parser (None) or a command's, as main() builds them: what completion reads."""
    if command is None:
        return _main_parser()
    _, configure, help_text = COMMANDS[command]
    parser = _command_parser(command, help_text)
    if configure:
        configure(parser)
    return parser


COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None] | None, str]] = {
    "build": ("cmd_build", configure_build,
              "bring the targets up to date (the default command: 'fileflow [TARGET...]')"),
    "check": ("cmd_check", configure_check, "parse and validate the Flowfile; print a summary or the errors"),
    "fmt": ("cmd_fmt", configure_fmt, "rewrite Flowfiles in the canonical layout, comments kept"),
    "lint": ("cmd_lint", configure_lint, "warn about likely mistakes in the Flowfile, each with a fix"),
    "lsp": ("cmd_lsp", configure_lsp, "the language server for editors, over stdio (see docs/cli.md)"),
    "why": ("cmd_why", configure_why, "explain why a file is (or is not) out of date"),
    "clean": ("cmd_clean", configure_clean, "delete the outputs of rules fileflow made, unchanged since"),
    "conda": ("cmd_conda", configure_conda,
              "create, list or clean the conda environments of the workflow's rules"),
    "unlock": ("cmd_unlock", configure_unlock,
               "remove the build locks of builds that are gone (works even if the Flowfile is broken)"),
    "graph": ("cmd_graph", configure_graph, "print the job, rule or file graph (dot, mermaid, json, text)"),
    "summary": ("cmd_summary", configure_summary, "one line per output: state, job, last built, size"),
    "runs": ("cmd_runs", configure_runs, "list the latest runs from the run log"),
    "log": ("cmd_log", configure_log, "show a run, a job or the job that made a file"),
    "report": ("cmd_report", configure_report, "write a self-contained HTML report of a run"),
    "daemon": ("cmd_daemon", configure_daemon,
               "start, stop or show the build daemon, which runs commands without starting Python anew"),
    "serve": ("cmd_serve", configure_serve,
              "a live dashboard of the run log in a browser, and its JSON API (needs fileflow[serve])"),
    "test-job": ("cmd_test_job", configure_test_job,
                 "run one job in a temporary folder, leaving outputs and run log alone"),
    "generate-tests": ("cmd_generate_tests", configure_generate_tests,
                       "write pytest unit tests of rules from jobs that succeeded"),
    "completion": ("cmd_completion", configure_completion,
                   "print a bash, zsh or fish script: Tab completes commands, flags, rules, targets"),
}


def _split_command(rest: list[str]) -> tuple[str, list[str]]:
    """The command and its words. The command is the first word that is not an option or an
    option's value (as the build command reads them), so options may come before it
    (`fileflow --db URL runs`, `fileflow -j 2 build`); without one, it is build."""
    if rest and rest[0] in COMMANDS:
        return rest[0], rest[1:]
    parsed = parse_quietly(parser_for("build"), [w for w in rest if w not in ("-h", "--help")])
    targets = getattr(parsed, "targets", None) or []
    if targets and targets[0] in COMMANDS:
        words = list(rest)
        words.remove(targets[0])
        return targets[0], words
    return "build", rest


def _main_parser() -> argparse.ArgumentParser:
    lines = "\n".join(f"  {name:<10} {help_text}" for name, (_, _, help_text) in COMMANDS.items())
    parser = FlowParser(
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


# Options whose value is itself a command line for another program ("-pe smp 4"): argparse
# would read such a value as fileflow's own short options (-p ...), so it is attached.
_LINE_VALUED = frozenset({"--drmaa-native"})


def _attach_line_values(argv: list[str]) -> list[str]:
    out: list[str] = []
    words = iter(argv)
    for word in words:
        if word == "--":
            out.append(word)
            out.extend(words)
            break
        if word in _LINE_VALUED:
            value = next(words, None)
            out.append(word if value is None else f"{word}={value}")
        else:
            out.append(word)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: `argv`, else the process's own arguments. Run as the program
    (no `argv`), the process ends when the command does, whatever threads the workflow's
    Python code started and left running."""
    code = _command(list(sys.argv[1:] if argv is None else argv))
    if argv is None:
        _end_past_stray_threads(code)
    return code


def _end_past_stray_threads(code: int) -> None:
    """fileflow's own threads are daemon threads; a thread that an imported Python function
    started (not a daemon) would keep the process alive forever after the command ended,
    as Python waits for such threads at exit. The process ends now instead."""
    import threading

    first = threading.main_thread()
    if any(t is not first and not t.daemon and t.is_alive() for t in threading.enumerate()):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _command(argv: list[str]) -> int:
    if argv[:1] == ["__complete"]:  # hidden: what the completion scripts run on every Tab
        from fileflow.cli.shell_completion import complete_command
        return complete_command(argv[1:], COMMANDS, parser_for, FLOWFILE_NAMES, _print)
    argv = _attach_line_values(argv)
    top = _main_parser()
    # `fileflow check --help` is the command's help, not the top-level one.
    wants_help = any(a in ("-h", "--help") for a in argv)
    command_help = wants_help and next((a for a in argv if a in COMMANDS), None) is not None
    known: argparse.Namespace | None
    try:
        if command_help:
            known, rest = top.parse_known_args([a for a in argv if a not in ("-h", "--help")])
            rest.append("--help")
        else:
            known, rest = top.parse_known_args(argv) if argv[:1] not in (["-h"], ["--help"]) else (None, argv)
    except SystemExit as exc:  # the parser already printed the message
        return EXIT_USAGE if exc.code else 0
    if known is None:
        _print(top.format_help().rstrip("\n"))
        return 0
    if known.version:
        from fileflow import __version__
        _print(f"fileflow {__version__}")
        return 0
    if rest[:1] in (["-h"], ["--help"]):
        _print(top.format_help().rstrip("\n"))
        return 0
    command, rest = _split_command(rest)
    func_name = COMMANDS[command][0]
    parser = parser_for(command)
    try:
        args = parser.parse_args(rest, namespace=known)
        args.argv = argv
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
        print(printable(err.render()), file=sys.stderr if err.exit_code else sys.stdout)
        return err.exit_code
    except OSError as exc:
        if not no_space(exc):
            raise
        where = f" while writing {exc.filename}" if exc.filename else ""
        full = FileflowError(f"no space left on device{where}: {FULL_DISK_HINT}")
        print(printable(full.render()), file=sys.stderr)
        return full.exit_code
    except KeyboardInterrupt:
        print("fileflow: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
