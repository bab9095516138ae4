"""What the dashboard's pages and its JSON API show, read from the run log. Layer 4.

Each function takes the request's parameters (strings, as typed in a URL), checks them
(BadRequest, a 400 with its message, for one that is wrong) and reads one page of rows
through fileflow.runlog.history: never a whole table, so a log of 10,000 runs or a run of
100,000 jobs answers as fast as a small one. A job's log is read only from inside its run's
working directory.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from fileflow.runlog import history
from fileflow.runlog.history import LARGEST_ID
from fileflow.views.html_report import rule_states

__all__ = ["BadRequest", "NotFound", "Forbidden", "runs", "run", "jobs", "job", "job_log",
           "file_history", "find_files", "live", "compare", "inside", "PAGE", "LOG_CHUNK", "RUN_FILTER_NAMES"]

PAGE = 50            # rows of a page unless ?limit= says otherwise
MAX_PAGE = 1000      # the most rows one request may ask for
LOG_CHUNK = 64 * 1024  # bytes of a job's log one request returns
COMPARED_JOBS = 200_000  # job rows of each run that `compare` reads
RUN_FILTER_NAMES = ("status", "user", "host", "workdir", "since", "until")


class BadRequest(Exception):
    """A parameter that is wrong: answered 400 with this message."""


class NotFound(Exception):
    """No such run, job or file: answered 404 with this message."""


class Forbidden(Exception):
    """What may not be served (a log outside its run's working directory): 403."""


def number(params: Mapping[str, str], name: str, default: int, low: int = 0,
           high: int = LARGEST_ID) -> int:
    text = params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, not {text[:40]!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}, not {value}")
    return value


def _moment(name: str, text: str) -> float:
    """A date (YYYY-MM-DD, local time) or seconds since the epoch."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return time.mktime(time.strptime(text, "%Y-%m-%d"))
    except (ValueError, OverflowError):
        raise BadRequest(f"{name} must be a date (YYYY-MM-DD) or seconds since the epoch, "
                         f"not {text[:40]!r}") from None


def runs(log: Any, params: Mapping[str, str]) -> dict:
    """Runs newest first, filtered; `next` is the `before` of the next page (None: last)."""
    limit = number(params, "limit", PAGE, 1, MAX_PAGE)
    filters: dict[str, Any] = {k: params[k] for k in ("status", "user", "host", "workdir")
                               if params.get(k)}
    for name in ("since", "until"):
        if params.get(name):
            filters[name] = _moment(name, params[name])
    if params.get("before"):
        filters["before"] = number(params, "before", LARGEST_ID)
    found = history.runs_page(log, limit + 1, **filters)
    more = len(found) > limit
    found = found[:limit]
    return {"runs": found, "next": found[-1]["id"] if more else None}


def run(log: Any, run_id: int) -> dict:
    found = history.get_run(log, run_id)
    if found is None:
        raise NotFound(f"no run {run_id} in the run log")
    live_now = history.live_state(log, run_id, running=0)
    found["counts"] = live_now["counts"] if live_now else {}
    return found


def jobs(log: Any, run_id: int, params: Mapping[str, str]) -> dict:
    """A page of a run's jobs in start order; `next` is the `after` of the next page."""
    if history.get_run(log, run_id) is None:
        raise NotFound(f"no run {run_id} in the run log")
    limit = number(params, "limit", PAGE, 1, MAX_PAGE)
    after = number(params, "after", 0)
    state = params.get("state") or None
    found = history.jobs_page(log, run_id, after, limit + 1, state)
    more = len(found) > limit
    found = found[:limit]
    return {"jobs": found, "next": found[-1]["id"] if more else None}


def job(log: Any, job_id: int) -> dict:
    found = history.get_job(log, job_id)
    if found is None:
        raise NotFound(f"no job {job_id} in the run log")
    found["attempts"] = history.attempts_of(log, found)
    return found


def inside(workdir: str, path: str) -> str:
    """The real path of `path` (relative to `workdir`), refused unless it lies inside it."""
    root = os.path.realpath(workdir)
    real = os.path.realpath(os.path.join(root, path))
    if os.path.commonpath([root, real]) != root:
        raise Forbidden(f"the log {path} is outside the run's working directory")
    return real


def job_log(log: Any, job_id: int, params: Mapping[str, str]) -> dict:
    """Up to LOG_CHUNK bytes of a job's log: from ?offset= (follow mode: the offset the last
    answer gave), else its end. `next_offset` is where the next read starts."""
    found = history.get_job(log, job_id)
    if found is None:
        raise NotFound(f"no job {job_id} in the run log")
    if not found["log_path"]:
        raise NotFound(f"job {job_id} records no log")
    owner = history.get_run(log, found["run_id"])
    real = inside(owner["workdir"] if owner else "/nonexistent", found["log_path"])
    offset = number(params, "offset", -1, -1)
    try:
        with open(real, "rb") as fh:
            stat = os.fstat(fh.fileno())
            size = stat.st_size
            start = max(0, size - LOG_CHUNK) if offset < 0 else min(offset, size)
            fh.seek(start)
            data = fh.read(LOG_CHUNK)
    except FileNotFoundError:
        return {"path": found["log_path"], "offset": 0, "next_offset": 0, "size": 0, "text": "",
                "state": found["state"], "rewritten": False,
                "note": "the job wrote nothing, or the file was removed"}
    except OSError as exc:
        raise Forbidden(f"cannot read the log {found['log_path']}: {exc.strerror}") from None
    # A later attempt writes the same file: what it holds now may not be this attempt's.
    rewritten = found["ended_at"] is not None and stat.st_mtime > found["ended_at"] + 2
    return {"path": found["log_path"], "offset": start, "next_offset": start + len(data),
            "size": size, "text": data.decode("utf-8", "replace"), "state": found["state"],
            "rewritten": rewritten}


def file_history(log: Any, params: Mapping[str, str]) -> dict:
    path = params.get("path")
    if not path:
        raise BadRequest("path is missing: /api/file?path=PATH")
    limit = number(params, "limit", PAGE, 1, MAX_PAGE)
    before = number(params, "before", LARGEST_ID)
    found = history.path_history(log, path, before, limit + 1)
    more = len(found) > limit
    found = found[:limit]
    record = history.file_records(log, [path]).get(path)
    if record is not None:
        record["complete"] = bool(record["complete"])
    return {"path": path, "file": record, "jobs": found,
            "next": found[-1]["id"] if more else None}


def find_files(log: Any, params: Mapping[str, str]) -> dict:
    text = params.get("q", "")
    if not text:
        raise BadRequest("q is missing: /api/files?q=PART-OF-A-PATH")
    limit = number(params, "limit", PAGE, 1, MAX_PAGE)
    return {"q": text, "files": history.find_paths(log, text, limit)}


def live(log: Any, run_id: int) -> dict:
    """What a live run page shows, in one query: status, counts per state, running jobs,
    and each rule's state (failed beats cancelled beats running beats done)."""
    found = history.live_state(log, run_id)
    if found is None:
        raise NotFound(f"no run {run_id} in the run log")
    found["now"] = time.time()
    found["rules"] = rule_states(found.pop("rule_counts"))
    return found


def _took(job: Mapping[str, Any]) -> float | None:
    if job["started_at"] is None or job["ended_at"] is None:
        return None
    return job["ended_at"] - job["started_at"]


def compare(log: Any, params: Mapping[str, str]) -> dict:
    """Two runs side by side: the jobs (by name, each its last attempt) that ran in one and
    not the other, and those both ran whose duration or peak memory changed most."""
    a, b = number(params, "a", -1), number(params, "b", -1)
    if a < 0 or b < 0:
        raise BadRequest("two runs are needed: /api/compare?a=RUN&b=RUN")
    limit = number(params, "limit", PAGE, 1, MAX_PAGE)
    runs_ = [run(log, a), run(log, b)]
    first, second = (history.run_outcomes(log, r, COMPARED_JOBS) for r in (a, b))
    both = [(first[n], second[n]) for n in first.keys() & second.keys()]

    def change(key: Callable[[Mapping[str, Any]], float | None]) -> list[dict]:
        out = []
        for x, y in both:
            kx, ky = key(x), key(y)
            if kx is not None and ky is not None and kx != ky:
                out.append({"name": x["name"], "a": kx, "b": ky, "change": ky - kx,
                            "a_job": x["id"], "b_job": y["id"]})
        out.sort(key=lambda c: (-abs(c["change"]), c["name"]))
        return out[:limit]

    return {"a": runs_[0], "b": runs_[1],
            "only_a": sorted(first.keys() - second.keys())[:limit],
            "only_b": sorted(second.keys() - first.keys())[:limit],
            "duration": change(_took), "memory": change(lambda j: j["peak_rss_bytes"])}
