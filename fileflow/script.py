"""What a `script:` sees of its job: `from fileflow.script import job`. Layer 3.

fileflow writes the job's values to a JSON file and names it in FILEFLOW_JOB; this module
reads it on import. `job.input[0]`, `job.input.reads`, `job.output`, `job.log`,
`job.params.x`, `job.wildcards.sample`, `job.threads`, `job.resources.mem_mb`,
`job.config.x` (the workflow's config; nested mappings read as attributes too), `job.rule`,
`job.attempt`.
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence

__all__ = ["Named", "Job", "load", "job"]  # noqa: F822 (job: loaded on first use, below)


class Named(list):
    """A list whose named entries also read as attributes (`job.input.reads`); `empty`: the
    names given an empty list, which read as [] (`job.input.groups`)."""

    def __init__(self, values: Sequence[object] = (), names: Sequence[str | None] = (),
                 empty: Sequence[str] = ()) -> None:
        super().__init__(values)
        self._names: dict[str, list] = {}
        for name, value in zip(names, values):
            if name:
                self._names.setdefault(name, []).append(value)
        for name in empty:
            self._names.setdefault(name, [])

    def __getattr__(self, name: str):
        try:
            found = self._names[name]
        except KeyError:
            named = ", ".join(self._names) or "none"
            raise AttributeError(f"no entry named {name!r} (named: {named})") from None
        return found[0] if len(found) == 1 else found

    def __str__(self) -> str:
        return " ".join(str(v) for v in self)


class _Record(dict):
    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no {name!r} (has: {', '.join(self) or 'none'})") from None


def _records(value):
    """Mappings at any depth as _Record (`job.config.qc.min_quality`)."""
    if isinstance(value, dict):
        return _Record({k: _records(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_records(v) for v in value]
    return value


class Job:
    def __init__(self, data: dict):
        self.rule = data["rule"]
        self.attempt = data["attempt"]
        self.threads = data["threads"]
        for key in ("input", "output", "log", "params"):
            items = data[key]
            setattr(self, key, Named(items["values"], items["names"], items.get("empty", ())))
        self.wildcards = _Record(data["wildcards"])
        self.resources = _Record(data["resources"])
        self.config = _records(data.get("config", {}))


def load(path: str | None = None) -> Job:
    path = path or os.environ.get("FILEFLOW_JOB")
    if not path:
        raise RuntimeError("fileflow.script: FILEFLOW_JOB is not set (run this script through "
                           "a Flowfile's 'script:' directive)")
    with open(path, encoding="utf-8") as fh:
        return Job(json.load(fh))


def __getattr__(name: str):
    # `job` is loaded on first use, so importing this module outside a job is harmless.
    if name == "job":
        value = load()
        globals()["job"] = value
        return value
    raise AttributeError(name)
