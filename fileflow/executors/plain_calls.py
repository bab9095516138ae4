"""Whether a job's command is one plain program call, which a local job can run without
bash in between (as make does): no expansions, pipes, globs, builtins or assignments,
at most one output redirection at the end (`> file`, `>> file`). Layer 3.
"""
from __future__ import annotations

import os
import re
import shlex

__all__ = ["plain_call"]

# Characters that make a command more than one plain program call in bash: expansions,
# globs, input redirections, pipes, lists, subshells, comments, escapes, newlines (an
# output redirection, `>`, is allowed: plain_call handles the one at the end).
_PLAIN_COMMAND = re.compile(r"""[A-Za-z0-9_@%+=:,./' ">-]*""")
_UNQUOTED_WORD = re.compile(r">+|[^\s>]+")  # a run of '>' is one token, as shlex makes it
_FD_REDIRECT = re.compile(r"(?:^|\s)\d+>")  # `2>`: a redirect of another descriptor
_SHELL_WORDS = frozenset({
    "echo", "printf", "cd", "test", "true", "false", "export", "set", "unset", "exit",
    "source", "read", "eval", "exec", "ulimit", "umask", "type", "command", "trap",
    "wait", "kill", "pwd", "times", "alias", "builtin", "declare", "local", "let",
    "shift", "hash", "if", "then", "for", "while", "until", "case", "function", "time",
})


def _words(command: str, punctuation: str) -> list[str]:
    """The command's words as bash reads them (the caller allows no expansion characters),
    `>`/`>>` apart when `punctuation` is ">". Without quotes a split by a regex does it;
    shlex (about 0.1 ms a command) only reads quoted ones."""
    if "'" not in command and '"' not in command:
        return _UNQUOTED_WORD.findall(command) if punctuation else command.split()
    lexer = shlex.shlex(command, posix=True, punctuation_chars=punctuation)
    lexer.whitespace_split = True
    return list(lexer)


def plain_call(command: str) -> tuple[list[str], tuple[str, int] | None] | None:
    """The argv of a command that is one plain program call, with the file its output goes
    to and that file's open flags (or None); None for anything bash must run."""
    if len(command) > 4096 or not _PLAIN_COMMAND.fullmatch(command):
        return None
    stdout = None
    try:
        if ">" in command:
            if _FD_REDIRECT.search(command) or "'" in command or '"' in command:
                # `2> file`, or quotes (a quoted '>' reads like the operator once the
                # quotes are gone): bash's business
                return None
            argv = _words(command, ">")
            operators = [i for i, word in enumerate(argv) if word[:1] == ">"
                         and word.strip(">") == ""]
            if operators != [len(argv) - 2] or len(argv) < 3 or argv[-2] not in (">", ">>"):
                return None  # one `>`/`>>` before the last word, and no other
            append = argv[-2] == ">>"
            stdout = (argv[-1], os.O_WRONLY | os.O_CREAT
                      | (os.O_APPEND if append else os.O_TRUNC))
            argv = argv[:-2]
        else:
            argv = _words(command, "")
    except ValueError:
        return None
    if not argv or argv[0] in _SHELL_WORDS or "=" in argv[0]:
        return None
    return argv, stdout
