"""The command line's words: the types of the options' values (counts, seconds, resource
limits), the options whose values end at the first word of another form, and the parser
whose errors are one line, with a did-you-mean for a mistyped option and fileflow's
spelling of Snakemake's. Layer 5.

How the words after an option that takes several values are read (`--resources`,
`-R/--forcerun`, `--default-resources`, `--set-resources`, `--set-threads`): they are the
option's values while they have its value's form (`NAME=VALUE`, a rule name,
`RULE:NAME=VALUE`, `RULE=N`); the first word of another form, and every word after it, are
targets. `-j/--jobs/--cores` takes a
number or `all` when one follows, else it means all cores; a following word that is neither
is a target. So `fileflow --resources mem_mb=100 out.txt` and `fileflow --cores out.txt`
build out.txt. A word after `--` is always a target.
"""
from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from fileflow.errors import EXIT_USAGE, FileflowError

__all__ = ["FlowParser", "FormedValues", "CoresAction", "whole_number", "cores", "seconds",
           "resource_limits", "time_span", "add_time_limits", "parse_quietly", "ALL_CORES",
           "LARGEST_COUNT", "NAME_VALUE", "RULE_GROUP", "RULE_NAME", "RULE_NAME_VALUE", "SNAKEMAKE_SPELLINGS"]

ALL_CORES = 0            # what -j/--cores stores for `all` (and when not given)
LARGEST_COUNT = 2 ** 63 - 1   # SQL's largest integer: a count the run log can be asked for

NAME_VALUE = re.compile(r"[A-Za-z_][\w.-]*=.*", re.DOTALL)        # --resources mem_mb=100
RULE_NAME = re.compile(r"[A-Za-z_]\w*")                            # -R align
RULE_GROUP = re.compile(r"[A-Za-z_]\w*=\S.*", re.DOTALL)                # trim=per_sample
RULE_NAME_VALUE = re.compile(r"[A-Za-z_]\w*:[A-Za-z_]\w*=.*", re.DOTALL)  # align:mem_mb=8000
_COUNT_LIKE = re.compile(r"[-+.\d]|all$|inf|nan", re.IGNORECASE)  # a value -j reads, not a target

# Snakemake's options that fileflow spells differently (or has as a command): the hint
# an unknown option gets.
SNAKEMAKE_SPELLINGS = {
    "-s": "-f/--file",
    "--snakefile": "-f/--file",
    "-c": "-j/--cores",
    "--printshellcmds": "-p/--print-commands",
    "--dag": "'fileflow graph' (Graphviz DOT on stdout)",
    "--rulegraph": "'fileflow graph --level rules'",
    "--filegraph": "'fileflow graph --level files'",
    "--delete-all-output": "'fileflow clean'",
    "--unlock": "'fileflow unlock'",
    "--report": "'fileflow report'",
    "--detailed-summary": "'fileflow summary'",
}


# ---------------------------------------------------------------- value types

def whole_number(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """The type of an option whose value is a whole number in [minimum, maximum]."""
    bound = f"from {minimum} to {maximum}" if maximum is not None else f">= {minimum}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number {bound}, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"expected a whole number {bound}, got {text!r}")
        return value

    return parse


def cores(text: str) -> int:
    """-j/--cores/--local-cores: a whole number >= 1, or `all` (ALL_CORES)."""
    if text.strip().lower() == "all":
        return ALL_CORES
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1 or 'all', got {text!r}")
    return value


def seconds(text: str) -> float:
    """A duration: a finite number >= 0 (nan and inf are refused: neither is a wait)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {text!r}")
    return value


def time_span(text: str) -> float:
    """A time span as a rule's `timeout:` takes it ("2h", "90s", "1h30m"; digits alone are
    seconds), longer than 0."""
    from fileflow.lang.units import UnitError
    from fileflow.lang.units import seconds as span_seconds

    try:
        value = span_seconds(text)
    except UnitError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"expected a time longer than 0, got {text!r}")
    return value


def add_time_limits(parser: argparse.ArgumentParser) -> None:
    """The build's --default-timeout and --retry-delay (a rule's timeout: and retry_delay:
    win over them)."""
    parser.add_argument("--default-timeout", type=time_span, default=0.0, metavar="SPAN",
                        help="stop a job running longer than this (\"2h\", \"90s\") unless "
                             "its rule has timeout:")
    parser.add_argument("--retry-delay", type=time_span, default=0.0, metavar="SPAN",
                        help="wait this long before retrying a job whose rule has no retry_delay:")


def resource_limits(pairs: Sequence[str]) -> dict[str, float]:
    """--resources NAME=N...: each N a finite number >= 0. `mem` and `disk` limit `mem_mb`
    and `disk_mb`, and may have a unit (`mem=16G`), as in a rule's resources."""
    out = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        numeric = True
        try:
            value = float(text)
        except ValueError:
            value, numeric = math.nan, False
        sized = key in ("mem", "disk")
        if sized and sep and not numeric:
            from fileflow.lang.units import UnitError, size_mb
            try:
                value = float(size_mb(text))
            except UnitError:
                raise FileflowError(f"--resources expects NAME=N with N a number >= 0 or, for "
                                    f"{key}, a size such as 16G, got {pair!r}") from None
        if not sep or not key or not math.isfinite(value) or value < 0:
            raise FileflowError(f"--resources expects NAME=N with N a number >= 0, got {pair!r}")
        out[key + "_mb" if sized else key] = value
    return out


# ---------------------------------------------------------------- actions

def _spill(namespace: argparse.Namespace, words: Sequence[str]) -> None:
    """Words an option did not take: targets, added after parsing (FlowParser)."""
    namespace.spilled_targets = [*getattr(namespace, "spilled_targets", ()), *words]


class FormedValues(argparse.Action):
    """An option of several values, each of the form `form`; the first word of another
    form, and the words after it, are targets. Repeating the option adds to its values."""

    def __init__(self, option_strings: Sequence[str], dest: str, form: re.Pattern[str],
                 **kwargs: Any):
        super().__init__(option_strings, dest, nargs="+", **kwargs)
        self.form = form

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        words = list(values)
        taken = 0
        while taken < len(words) and self.form.fullmatch(words[taken]):
            taken += 1
        if not taken:
            raise argparse.ArgumentError(self, f"expected {self.metavar}, got {words[0]!r}")
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest, None) or ()), *words[:taken]])
        _spill(namespace, words[taken:])


class CoresAction(argparse.Action):
    """-j/--jobs/--cores [N|all]: without a value (or with a target after it), all cores."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any):
        super().__init__(option_strings, dest, nargs="?", const="all", **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        text = str(values)
        if not _COUNT_LIKE.match(text):
            _spill(namespace, [text])
            text = "all"
        try:
            setattr(namespace, self.dest, cores(text))
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentError(self, str(exc)) from None


# ---------------------------------------------------------------- the parser

class FlowParser(argparse.ArgumentParser):
    """argparse with one-line errors (`fileflow build: ...`, exit 2, no usage block),
    options and positionals in any order, and a hint for an unknown option."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message}\n")

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        parsed, extras = self.parse_known_intermixed_args(args, namespace)
        if extras:
            self.error(self.unexpected(extras[0]))
        spilled = getattr(parsed, "spilled_targets", None)
        if spilled is not None:
            del parsed.spilled_targets
            if not hasattr(parsed, "targets"):
                self.error(f"unexpected argument {spilled[0]!r}")
            parsed.targets = [*parsed.targets, *spilled]
        return parsed

    def unexpected(self, word: str) -> str:
        """What is wrong with a word no option or positional took."""
        if not word.startswith("-") or word == "-":
            return f"unexpected argument {word!r}"
        name = word.split("=", 1)[0]
        spelling = SNAKEMAKE_SPELLINGS.get(name)
        if spelling:
            return f"unknown option {name}; for Snakemake's {name}, use {spelling}"
        import difflib

        longs = [s for s in self._option_string_actions if s.startswith("--")]
        close = difflib.get_close_matches(name, longs, n=1, cutoff=0.6) if name.startswith("--") else []
        if close:
            return f"unknown option {name}; did you mean {close[0]}?"
        return f"unknown option {name} (see '{self.prog} --help')"


def parse_quietly(parser: argparse.ArgumentParser, args: list[str]) -> argparse.Namespace | None:
    """`args` parsed as far as they go, printing nothing (None on an error)."""
    import contextlib
    import io

    try:
        with contextlib.redirect_stderr(io.StringIO()):
            parsed, _ = parser.parse_known_args(args)
    except SystemExit:
        return None
    return parsed
