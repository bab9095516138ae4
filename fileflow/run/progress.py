"""What the user sees while a build runs: plain lines when not on a terminal, a live progress
display (rich) on one. Failures always print the command, the exit code and the log's tail.
Layer 4.
"""
from __future__ import annotations

import os
import sys
import time

from fileflow.fs import FULL_DISK_HINT, NO_SPACE_TEXTS, full_disk
from fileflow.printable import printable
from fileflow.runlog.records import shown_command

__all__ = ["PlainReporter", "LiveReporter", "progress_mode", "make_reporter", "log_tail",
           "full_disk_hint"]

TAIL_LINES = 15


def log_tail(path: str, lines: int = TAIL_LINES) -> list[str]:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]


def _failure_text(job, spec, outcome, message: str, retrying: bool) -> str:
    head = f"error: job {job.name} failed: {message}"
    if retrying:
        head = f"warning: job {job.name} failed (attempt {spec.attempt}): {message}; retrying"
    parts = [head]
    if not retrying:
        parts.append(f"  command: {shown_command(spec.command)}")
        log_path = outcome.log_path or spec.log_path
        tail = log_tail(log_path)
        parts.append(f"  log: {log_path}" + (f" (last {len(tail)} lines):" if tail else " (empty)"))
        parts.extend(f"    {line}" for line in tail)
        hint = full_disk_hint(tail, [log_path, *job.outputs])
        if hint:
            parts.append(f"  hint: {hint}")
    return "\n".join(parts)


def full_disk_hint(tail: list[str], paths: list[str]) -> str | None:
    """Why a job may have failed when its disk is full: its log says so, or the file system
    of its log or of one of its outputs has no space left."""
    if any(text in line for line in tail for text in NO_SPACE_TEXTS):
        return f"the job ran out of disk space (its log says so): {FULL_DISK_HINT}"
    folder = full_disk(paths)
    if folder is not None:
        return f"the disk holding {folder} is full: {FULL_DISK_HINT}"
    return None


class PlainReporter:
    """One line per event; safe when stdout is a closed pipe (`| head -1`). With `quiet`
    (`--progress none`, and `-q`), only the final failures."""

    def __init__(self, out=None, err=None, quiet: bool = False, print_commands: bool = False):
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.quiet = quiet
        self.print_commands = print_commands

    def _say(self, text: str, stream=None) -> None:
        stream = stream or self.out
        try:
            stream.write(printable(text) + "\n")
            stream.flush()
        except (BrokenPipeError, ValueError):
            # The reader went away: keep building, stop talking there.
            devnull = open(os.devnull, "w")
            if stream is self.out:
                self.out = devnull
            else:
                self.err = devnull

    def job_started(self, job, spec, reasons) -> None:
        if self.quiet:
            return
        why = "; ".join(str(r) for r in reasons[:2]) + (" ..." if len(reasons) > 2 else "")
        attempt = f" (attempt {spec.attempt})" if spec.attempt > 1 else ""
        self._say(f"run  {job.name}{attempt}: {why}")
        if job.rule.message is not None:
            from fileflow.engine.command import render_message
            self._say(f"     {render_message(job)}")
        if self.print_commands:
            self._say(f"     $ {shown_command(spec.command)}")

    def job_finished(self, job, outcome) -> None:
        if not self.quiet:
            self._say(f"done {job.name} ({outcome.ended_at - outcome.started_at:.1f} s)")

    def job_failed(self, job, spec, outcome, message: str, retrying: bool) -> None:
        if retrying and self.quiet:
            return  # a warning, not an error: -q shows the final failure only
        self._say(_failure_text(job, spec, outcome, message, retrying), self.err)

    def job_waiting(self, job, seconds: float) -> None:
        pass  # the failure's line said when the next attempt comes

    def job_skipped(self, job, why: str) -> None:
        if not self.quiet:
            self._say(f"skip {job.name}: {why}")

    def tick(self, done: int, failed: int, running: int, total: int) -> None:
        pass

    def close(self) -> None:
        pass

    def line(self, text: str, error: bool = False) -> None:
        self._say(text, self.err if error else self.out)


class LiveReporter(PlainReporter):
    """On a terminal: the plain lines (run, message, done, skip, failures) printed above a live
    status line (done/running/failed/total, rate, ETA, running jobs), which goes away at the
    end, leaving the lines and the summary."""

    def __init__(self, total: int, print_commands: bool = False):
        super().__init__(print_commands=print_commands)
        from rich.console import Console
        from rich.live import Live

        self.console = Console(stderr=False)
        self.total = total
        self.started = time.monotonic()
        self.running: dict[int, str] = {}
        self.waiting: dict[int, tuple[str, float]] = {}  # retries to come: name, when (monotonic)
        self.counts = (0, 0)
        # Drawn anew at each refresh (8 a second, in rich's thread) from the counts and the
        # running jobs as they are then.
        self.live = Live(console=self.console, refresh_per_second=8, transient=True,
                         get_renderable=self._render)
        self.live.start()

    def _render(self):
        from rich.text import Text

        done, failed = self.counts
        names = list(self.running.values())
        running = len(names)
        elapsed = time.monotonic() - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        left = self.total - done - failed
        eta = f"{left / rate:.0f} s" if rate > 0 and left > 0 else "-"
        waiting = list(self.waiting.values())
        counted = f", {len(waiting)} waiting" if waiting else ""
        lines = [f"[{done}/{self.total}] done, {running} running{counted}, {failed} failed, "
                 f"{rate:.1f} jobs/s, ETA {eta}"]
        lines.extend(f"  running {n}" for n in names[:8])
        if len(names) > 8:
            lines.append(f"  ... and {len(names) - 8} more")
        now = time.monotonic()
        lines.extend(f"  waiting {n} (next attempt in {max(0.0, due - now):.0f} s)"
                     for n, due in waiting[:4])
        return Text(printable("\n".join(lines)))

    def _say(self, text: str, stream=None) -> None:
        """Above the live status line; errors in red."""
        error = stream is not None and stream is self.err
        self.live.console.print(printable(text), markup=False, highlight=False,
                                style="red" if error else None)

    def job_started(self, job, spec, reasons) -> None:
        self.running[job.id] = job.name
        self.waiting.pop(job.id, None)
        super().job_started(job, spec, reasons)

    def job_finished(self, job, outcome) -> None:
        self.running.pop(job.id, None)
        super().job_finished(job, outcome)

    def job_failed(self, job, spec, outcome, message: str, retrying: bool) -> None:
        self.running.pop(job.id, None)
        super().job_failed(job, spec, outcome, message, retrying)

    def job_waiting(self, job, seconds: float) -> None:
        self.waiting[job.id] = (job.name, time.monotonic() + seconds)

    def tick(self, done: int, failed: int, running: int, total: int) -> None:
        self.counts = (done, failed)

    def close(self) -> None:
        self.live.refresh()  # the last counts, never a stale line
        self.live.stop()


def progress_mode(asked: str | None, quiet: bool) -> str:
    """`--progress` as asked (it wins over -q), else: none with -q, live on a terminal, plain
    otherwise (a pipe, a file, TERM=dumb)."""
    if asked:
        return asked
    if quiet:
        return "none"
    if sys.stdout.isatty() and os.environ.get("TERM") != "dumb":
        return "live"
    return "plain"


def make_reporter(total: int, mode: str, print_commands: bool = False):
    """The reporter for a build of `total` jobs; `mode` is live, plain or none (progress_mode).
    With none, a failure still prints, the retries' warnings do not."""
    if mode == "live":
        return LiveReporter(total, print_commands=print_commands)
    return PlainReporter(quiet=mode == "none", print_commands=print_commands)
