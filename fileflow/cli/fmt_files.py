"""`fileflow fmt FILE...`: Flowfiles formatted in place, or checked, or shown as a diff. Layer 5.

The layout itself is fileflow.lang.fmt's; this module reads and writes the files.
"""
from __future__ import annotations

from fileflow.errors import FileflowError
from fileflow.lang.fmt import format_text
from fileflow.lang.source_files import MAX_FLOWFILE_BYTES, FileRefused, read_bytes
from fileflow.printable import printable

__all__ = ["format_paths", "flowfile_and_includes"]


def flowfile_and_includes(flowfile: str) -> list[str]:
    """The Flowfile and, after it, every file it includes, directly or through other files,
    in the order they are met: what `fileflow fmt` without FILE formats (and --check checks).
    An `include:` of a computed path (it reads `config`, say) is not followed; a file that
    does not parse or cannot be read is listed, so that formatting reports it."""
    import os

    from fileflow.lang import nodes
    from fileflow.lang.syntax import parse_flowfile

    found: list[str] = []
    seen: set[str] = set()
    todo = [flowfile]
    while todo:
        path = todo.pop(0)
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        found.append(path)
        try:
            with open(path, encoding="utf-8-sig") as fh:
                module = parse_flowfile(fh.read(), path)
        except (OSError, UnicodeDecodeError, FileflowError):
            continue
        for stmt in module.statements:
            if (isinstance(stmt, nodes.Directive) and stmt.name == "include" and len(stmt.args) == 1
                    and isinstance(stmt.args[0], nodes.Const) and isinstance(stmt.args[0].value, str)):
                target = stmt.args[0].value
                todo.append(target if os.path.isabs(target) else
                            os.path.normpath(os.path.join(os.path.dirname(path), target)))
    return found


def format_paths(paths: list[str], check: bool = False, diff: bool = False) -> int:
    """`fileflow fmt`: format each file in place (only if it changes, atomically), or with
    `check`/`diff` only report; '-' is stdin to stdout. Exit status: 2 if a file could not
    be read or parsed (it is left untouched), else 1 if `check` found a file to change."""
    import sys

    status = 0
    for path in paths:
        try:
            if path == "-":
                text = sys.stdin.read()
            else:  # a regular file within a Flowfile's limit: /dev/zero would never end
                text = read_bytes(path, MAX_FLOWFILE_BYTES, "a Flowfile").decode("utf-8")
            # Only a rewrite needs the meaning check: --check and --diff write nothing.
            result = format_text(text, "<stdin>" if path == "-" else path,
                                 verify=not (check or diff))
        except OSError as exc:
            print(printable(f"fileflow fmt: cannot read {path}: {exc.strerror}"), file=sys.stderr)
            status = 2
            continue
        except FileRefused as exc:
            print(printable(f"fileflow fmt: cannot read {path}: {exc}"), file=sys.stderr)
            status = 2
            continue
        except UnicodeDecodeError as exc:
            print(printable(f"fileflow fmt: {path}: not UTF-8 text ({exc.reason})"), file=sys.stderr)
            status = 2
            continue
        except FileflowError as err:
            print(printable(err.render()), file=sys.stderr)
            status = 2
            continue
        changed = result != text
        if diff and changed:
            import difflib

            name = "<stdin>" if path == "-" else path
            sys.stdout.writelines(difflib.unified_diff(
                text.splitlines(keepends=True), result.splitlines(keepends=True),
                f"{name} (original)", f"{name} (formatted)"))
        if check:
            if changed:
                print(printable(f"would reformat {path}"), file=sys.stderr)
                status = max(status, 1)
        elif diff:
            continue
        elif path == "-":
            sys.stdout.write(result)
        elif changed:
            _write_atomically(path, result)
            print(printable(f"reformatted {path}"), file=sys.stderr)
    sys.stdout.flush()
    return status


def _write_atomically(path: str, text: str) -> None:
    """Write `text` to a temporary file beside `path`, then rename it over `path`: a reader
    (or a crash) never sees half a file. The file's permissions are kept."""
    import os
    import tempfile

    directory = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(prefix=".fmt-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.chmod(temp, os.stat(path).st_mode & 0o7777)
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise
