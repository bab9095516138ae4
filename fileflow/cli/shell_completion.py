"""Shell completion. Layer 5.

`fileflow completion bash|zsh|fish` prints a thin script; on every Tab it runs the hidden
`fileflow __complete SHELL CWORD WORD...`, which prints the candidates, one per line. All
the knowledge is here: the subcommands and their flags come from the real argparse parsers
(handed in by cli/main.py, so completion cannot drift from the command line), the values of a
flag from its `choices` or its metavar (RULE, TARGET, FILE, DIR), and rule names and
targets from the Flowfile that the words already typed name (`-f`, `-C`, `--configfile`,
`--config`). The Flowfile is loaded only when a candidate needs it, and anything that goes
wrong there leaves the subcommands and flags: a Tab never prints an error.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple

__all__ = ["SHELLS", "Candidate", "candidates", "complete_command", "render", "script", "split_line"]

SHELLS = ("bash", "zsh", "fish")

# The characters bash's readline splits a word at besides blanks (COMP_WORDBREAKS, less the
# quotes): a candidate for bash is the part after the last of them in the word being typed.
_BASH_BREAKS = "=:"
_BASH_SPECIAL = set(" \t\n\"'\\$`<>|&;()*?[]!{}#")


class Candidate(NamedTuple):
    value: str
    help: str = ""


class _Context(NamedTuple):
    """What the words before the cursor say."""

    command: str | None               # None: still at the command position
    positionals: list[str]            # positional words of the command, in order
    pending: argparse.Action | None   # a flag waiting for (more) values
    used: set[str]                    # option strings already given
    settings: dict[str, list[str]]    # -f, -C, --configfile, --config values


def split_line(line: str) -> list[str]:
    """A shell line cut into words as the shell will pass them (quotes and backslashes
    removed); an unfinished quote ends the last word, and a line that ends in a blank gets
    an empty last word (the word being typed)."""
    words: list[str] = []
    word, in_word, quote, chars = [], False, "", iter(line)
    for ch in chars:
        if quote:
            if ch == quote:
                quote = ""
            elif ch == "\\" and quote == '"':
                nxt = next(chars, "")
                word.append(nxt if nxt in '"\\$`' else ch + nxt)
            else:
                word.append(ch)
        elif ch in " \t\n":
            if in_word:
                words.append("".join(word))
                word, in_word = [], False
        elif ch in "'\"":
            quote, in_word = ch, True
        elif ch == "\\":
            word.append(next(chars, ""))
            in_word = True
        else:
            word.append(ch)
            in_word = True
    words.append("".join(word))  # the word under the cursor, perhaps empty
    return words


class _Options:
    """One parser's flags by option string, and its positionals in order."""

    def __init__(self, parsers: Iterable[argparse.ArgumentParser]):
        self.by_string: dict[str, argparse.Action] = {}
        self.positionals: list[argparse.Action] = []
        for parser in parsers:
            for action in parser._actions:  # argparse has no public list of its actions
                if not action.option_strings:
                    self.positionals.append(action)
                for string in action.option_strings:
                    self.by_string.setdefault(string, action)

    def find(self, word: str) -> tuple[argparse.Action | None, str | None]:
        """The flag a word names and the value attached to it (`--db=URL`, `-j4`)."""
        if word in self.by_string:
            return self.by_string[word], None
        if word.startswith("--"):
            name, eq, value = word.partition("=")
            return (self.by_string.get(name), value) if eq else (None, None)
        short = self.by_string.get(word[:2])
        if short is not None and _takes_values(short):
            return short, word[2:]
        return None, None  # a cluster of short switches (-np) or an unknown flag


def _takes_values(action: argparse.Action) -> bool:
    return action.nargs != 0  # switches (store_true, count, help) take none


def _is_many(action: argparse.Action) -> bool:
    return action.nargs in ("+", "*", argparse.REMAINDER)


_SETTINGS = {"file": "-f", "directory": "-C", "configfile": "--configfile", "config": "--config"}


def _read_context(words: Sequence[str], commands: Mapping,
                  options_for: Callable[[str | None], _Options]) -> _Context:
    command: str | None = None
    options = options_for(None)
    positionals: list[str] = []
    pending, count = None, 0
    used: set[str] = set()
    settings: dict[str, list[str]] = {}
    only_positionals = False

    def note(action: argparse.Action, value: str) -> None:
        if action.dest in _SETTINGS:
            settings.setdefault(_SETTINGS[action.dest], []).append(value)

    for word in words:
        if word == "--" and not only_positionals:
            only_positionals, pending = True, None
            continue
        if word.startswith("-") and len(word) > 1 and not only_positionals:
            action, attached = options.find(word)
            used.add(word.partition("=")[0])
            pending, count = None, 0
            if action is None:
                continue
            used.update(action.option_strings)
            if attached is not None:
                note(action, attached)
                if _is_many(action):
                    pending, count = action, 1
            elif _takes_values(action):
                pending = action
            continue
        if pending is not None:
            note(pending, word)
            count += 1
            if not _is_many(pending) and count >= (pending.nargs if isinstance(pending.nargs, int) else 1):
                pending, count = None, 0
            continue
        if command is None:
            # The first positional word picks the command; any other word means `build`.
            command = word if word in commands else "build"
            options = options_for(command)
            if word in commands:
                continue
        positionals.append(word)
    return _Context(command, positionals, pending, used, settings)


# ---------------------------------------------------------------- the Flowfile's names

class _Flow:
    """Rule names and targets of the Flowfile the command line names, loaded on first use;
    None when there is no Flowfile or it does not load."""

    def __init__(self, base: str, settings: Mapping[str, list[str]], flowfile_names: Sequence[str]):
        self.base = base
        self.settings = settings
        self.flowfile_names = flowfile_names
        self._workflow: object = False  # not loaded yet

    def workflow(self):
        if self._workflow is False:
            self._workflow = None
            try:
                self._workflow = self._load()
            except Exception:  # a broken Flowfile: subcommands and flags only
                pass
        return self._workflow

    def _load(self):
        given = self.settings.get("-f", [])
        names = [given[-1]] if given else list(self.flowfile_names)
        path = next((os.path.join(self.base, os.path.expanduser(n)) for n in names
                     if os.path.isfile(os.path.join(self.base, os.path.expanduser(n)))), None)
        if path is None:
            return None
        from fileflow.lang.config import parse_config_overrides
        from fileflow.lang.loader import load_workflow

        configfiles = [os.path.join(self.base, os.path.expanduser(c))
                       for c in self.settings.get("--configfile", [])]
        with contextlib.redirect_stderr(io.StringIO()):  # nothing it says reaches the terminal
            return load_workflow(path, workdir=self.base, configfiles=configfiles,
                                 config=parse_config_overrides(self.settings.get("--config", [])))

    def rules(self) -> list[Candidate]:
        workflow = self.workflow()
        return [Candidate(r.name, "rule") for r in workflow.rules] if workflow else []

    def targets(self) -> list[Candidate]:
        """Rules without wildcards, the outputs of those rules and the default targets."""
        workflow = self.workflow()
        if not workflow:
            return []
        found = [Candidate(t, "default target") for t in workflow.default_targets]
        for rule in workflow.rules:
            if rule.wildcards:
                continue
            found.append(Candidate(rule.name, "rule"))
            found.extend(Candidate(o.pattern.text, f"output of {rule.name}") for o in rule.outputs
                         if o.pattern.is_constant)
        return found


def _paths(base: str, prefix: str, dirs_only: bool = False) -> list[Candidate]:
    """Files and directories (with a trailing '/') whose path starts with `prefix`, relative
    to `base`; hidden ones only when the prefix asks for them."""
    head, sep, tail = prefix.rpartition("/")
    directory = os.path.join(base, os.path.expanduser(head + sep)) if sep else base
    found = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    for entry in entries:
        if not entry.name.startswith(tail) or (entry.name.startswith(".") and not tail.startswith(".")):
            continue
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if dirs_only and not is_dir:
            continue
        shown = head + sep + entry.name
        found.append(Candidate(shown + ("/" if is_dir else "")))
    return sorted(found)


def _profiles(base: str, prefix: str) -> list[Candidate]:
    """--profile: the names of ./profiles/NAME/config.yaml and ~/.config/fileflow/NAME/config.yaml
    (where profiles.find_profile looks), then paths."""
    names = []
    home = os.path.expanduser(os.path.join("~", ".config", "fileflow"))
    for where in (os.path.join(base, "profiles"), home):
        try:
            names += [Candidate(e.name, "profile") for e in os.scandir(where)
                      if os.path.isfile(os.path.join(e.path, "config.yaml"))]
        except OSError:
            pass
    return sorted(names) + _paths(base, prefix)


def _lint_codes() -> list[Candidate]:
    from fileflow.editor.lint import CODES

    return [Candidate(code, title) for code, (_, title) in CODES.items()]


# ---------------------------------------------------------------- candidates

def _help(action: argparse.Action) -> str:
    text = (action.help or "").split(";")[0].split(" (")[0]
    return text if len(text) <= 60 else text[:57] + "..."


def _flags(options: _Options, used: set[str]) -> list[Candidate]:
    found = []
    for string, action in options.by_string.items():
        if action.help == argparse.SUPPRESS:
            continue
        if set(action.option_strings) & used and not isinstance(action, argparse._AppendAction):
            continue
        found.append(Candidate(string, _help(action)))
    return found


def _values(action: argparse.Action, prefix: str, flow: _Flow) -> list[Candidate]:
    """What may follow a flag or stand in a positional place."""
    if action.choices:
        return [Candidate(str(c)) for c in action.choices]
    written = str(action.metavar or action.dest)
    metavar = written.upper()
    if metavar.startswith("RULE:"):  # --set-resources RULE:NAME=VALUE
        return [Candidate(c.value + ":", c.help) for c in flow.rules()]
    if metavar == "RULE|FILE":  # --until, --omit-from
        return flow.rules() + flow.targets() + _paths(flow.base, prefix)
    if metavar == "RULE=I/N":  # --batch
        return [Candidate(c.value + "=", c.help) for c in flow.rules()]
    words = written.split("|")
    if len(words) > 1 and all(w.islower() for w in words):  # words to choose: --rerun-triggers
        return [Candidate(word) for word in words]
    if metavar.startswith("RULE"):
        return flow.rules()
    if metavar.startswith("TARGET"):
        return flow.targets() + _paths(flow.base, prefix)
    if metavar == "CODES":
        return _lint_codes()
    if metavar == "NAME|PATH":
        return _profiles(flow.base, prefix)
    if metavar == "FILE":
        return _paths(flow.base, prefix)  # read after the change to -C DIR, as fileflow does
    if metavar == "DIR":
        return _paths(os.getcwd(), prefix, dirs_only=True)  # -C is read before the change
    return []


def candidates(words: Sequence[str], cword: int, commands: Mapping[str, tuple],
               parser_for: Callable[[str | None], argparse.ArgumentParser],
               flowfile_names: Sequence[str] = ("Flowfile",)) -> list[Candidate]:
    """The completions of `words[cword]` (words[0] is the program). `parser_for(None)` is
    the top-level parser, `parser_for(name)` a command's."""
    cache: dict[str | None, _Options] = {}

    def options_for(command: str | None) -> _Options:
        if command not in cache:
            parsers = [parser_for(None), parser_for("build")] if command is None else [parser_for(command)]
            cache[command] = _Options(parsers)
        return cache[command]

    words = list(words[:cword + 1]) + [""] * (cword + 1 - len(words))
    current = words[cword]
    context = _read_context(words[1:cword], commands, options_for)
    directory = context.settings.get("-C", [None])[-1]
    base = os.path.join(os.getcwd(), os.path.expanduser(directory)) if directory else os.getcwd()
    flow = _Flow(base, context.settings, flowfile_names)
    options = options_for(context.command)

    prefix, found = "", []
    if context.pending is not None and not current.startswith("-"):
        found = _values(context.pending, current, flow)
    elif current.startswith("--") and "=" in current:
        name, _, value = current.partition("=")
        action = options.by_string.get(name)
        if action is not None and _takes_values(action):
            prefix, current = name + "=", value
            found = _values(action, value, flow)
    elif current.startswith("-"):
        found = _flags(options, context.used)
    elif context.command is None:
        found = [Candidate(name, help_text) for name, (_, _, help_text) in commands.items()]
        if not any(c.value.startswith(current) for c in found) and current:
            found = _values(options_for("build").positionals[0], current, flow)
    else:
        slots = options.positionals
        taken = len(context.positionals)
        for action in slots:
            width = (1 if action.nargs in (None, "?")
                     else action.nargs if isinstance(action.nargs, int) else None)  # None: all the rest
            if width is None or taken < width:
                found = _values(action, current, flow)
                break
            taken -= width
    seen: set[str] = set()
    out = []
    for c in found:
        if c.value.startswith(current) and c.value not in seen:
            seen.add(c.value)
            out.append(Candidate(prefix + c.value, c.help))
    return out


# ---------------------------------------------------------------- output for each shell

def _bash_word(value: str, typed: str) -> str:
    """A candidate as bash's readline inserts it: the part after the last '=' or ':' of the
    word being typed (readline's own word starts there), special characters escaped."""
    cut = max(typed.rfind(ch) for ch in _BASH_BREAKS)
    if cut >= 0:
        value = value[cut + 1:]
    return "".join("\\" + ch if ch in _BASH_SPECIAL else ch for ch in value)


def render(found: Sequence[Candidate], shell: str, typed: str) -> list[str]:
    if shell == "bash":
        return [_bash_word(c.value, typed) for c in found]
    if shell == "fish":
        return [f"{c.value}\t{c.help}" if c.help else c.value for c in found]
    # zsh: "value<TAB>display", the display padded so the help texts line up.
    width = max((len(c.value) for c in found if c.help), default=0)
    return [f"{c.value}\t{c.value.ljust(width)}  -- {c.help}" if c.help else c.value for c in found]


def complete_command(argv: Sequence[str], commands: Mapping[str, tuple],
                     parser_for: Callable[[str | None], argparse.ArgumentParser],
                     flowfile_names: Sequence[str], print_line: Callable[[str], None]) -> int:
    """`fileflow __complete SHELL CWORD WORD...`. For bash, COMP_LINE and COMP_POINT in the
    environment (the script passes them) are split here instead, so that `--db=x` and
    `rule:name` are one word as fileflow sees them, not three as COMP_WORDS has them."""
    try:
        shell, cword, words = argv[0], int(argv[1]), list(argv[2:])
        line, point = os.environ.get("COMP_LINE"), os.environ.get("COMP_POINT")
        if shell == "bash" and line and point:
            words = split_line(line[:int(point)])
            cword = len(words) - 1
        found = candidates(words, cword, commands, parser_for, flowfile_names)
        typed = words[cword] if cword < len(words) else ""
        for text in render(found, shell, typed):
            print_line(text)
    except Exception:  # completion must never put a traceback on the user's terminal
        pass
    return 0


# ---------------------------------------------------------------- the scripts

_BASH = r'''# bash completion for fileflow: source <(fileflow completion bash)
_fileflow_complete() {
    if (( COMP_CWORD < 0 )); then  # `compgen -F _fileflow_complete -- WORD`: WORD is the first argument
        mapfile -t COMPREPLY < <(command fileflow __complete bash 1 fileflow "$2" 2>/dev/null)
        return 0
    fi
    mapfile -t COMPREPLY < <(COMP_LINE="$COMP_LINE" COMP_POINT="$COMP_POINT" \
        command fileflow __complete bash "$COMP_CWORD" "${COMP_WORDS[@]}" 2>/dev/null)
    # a directory or `RULE:`: let the user go on typing after it
    if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *[/:=] ]]; then
        compopt -o nospace 2>/dev/null
    fi
    return 0
}
complete -F _fileflow_complete fileflow
'''


_ZSH = r'''#compdef fileflow
# zsh completion for fileflow: fileflow completion zsh > "${fpath[1]}/_fileflow"
# (or, without compinit's fpath: source <(fileflow completion zsh))
_fileflow() {
    local -a lines plain dirs described displays
    local line
    lines=("${(@f)$(command fileflow __complete zsh $((CURRENT - 1)) "${(@Q)words[1,CURRENT]}" 2>/dev/null)}")
    for line in $lines; do
        [[ -z $line ]] && continue
        if [[ $line == *$'\t'* ]]; then
            described+=("${line%%$'\t'*}")
            displays+=("${line#*$'\t'}")
        elif [[ $line == */ ]]; then
            dirs+=("$line")
        else
            plain+=("$line")
        fi
    done
    (( $#described )) && compadd -l -d displays -a described
    (( $#plain )) && compadd -a plain
    (( $#dirs )) && compadd -S '' -a dirs
    return 0
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _fileflow "$@"
else
    compdef _fileflow fileflow
fi
'''

_FISH = r'''# fish completion for fileflow:
#   fileflow completion fish > ~/.config/fish/completions/fileflow.fish
function __fileflow_complete
    set -l words (commandline -opc) (commandline -ct)
    command fileflow __complete fish (math (count $words) - 1) $words 2>/dev/null
end
complete -c fileflow -f -a '(__fileflow_complete)'
'''


def script(shell: str) -> str:
    """The completion script for a shell (one of SHELLS)."""
    return {"bash": _BASH, "zsh": _ZSH, "fish": _FISH}[shell]
