"""`python -m fileflow.remote.job_stager download|upload MANIFEST`: a cluster job's own staging, run
on its compute node before and after its command (`--remote-staging job`). Layer 3, the
job-side counterpart of fileflow.remote.staging, as fileflow.script is of the scheduler.

The head writes the manifest (JSON) when it submits the job:

    {"job": "upper[s=a]", "stage_root": ".fileflow/remote",
     "inputs": {"s3://b/raw/a.txt": "etag:..."}, "outputs": ["s3://b/out/a.txt"],
     "result": ".fileflow/jobs/7/3-1.stage-result.json"}

`download` stages each input at the token the head recorded for the job (a staged copy whose
token matches is reused, as on the head); `upload` uploads each output from its staged path
and writes the outputs' new states (version token, size, time) to `result`, which the head
reads once the job has ended: the job counts as done only when every upload is in it. A
failure of either step writes {"error": "..."} there (naming the URL, never a credential),
says it on stderr (the job's log) and exits 1, so the command does not run, or the job fails.
"""
from __future__ import annotations

import json
import os
import sys
import uuid

__all__ = ["main", "read_result"]


def _write_result(path: str, data: dict) -> None:
    tmp = f"{path}.part-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


def read_result(path: str) -> dict:
    """What the job's staging wrote ({} when nothing, or nothing readable)."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _download(remote, manifest: dict) -> None:
    inputs = list(manifest.get("inputs", {}).items())
    if len(inputs) <= 1:
        for url, token in inputs:
            remote.download(url, token)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(min(remote.parallel, len(inputs))) as pool:
        for future in [pool.submit(remote.download, url, token) for url, token in inputs]:
            future.result()  # the first failure, once the others have ended


def _upload(remote, manifest: dict) -> dict:
    from fileflow.remote.staged_copies import staged_path

    outputs = {}
    for url in manifest.get("outputs", []):
        state = remote.upload(staged_path(url, manifest["stage_root"]), url)
        outputs[url] = {"size": state.size, "mtime_ns": state.mtime_ns, "digest": state.digest}
    return outputs


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("download", "upload"):
        print("usage: python -m fileflow.remote.job_stager download|upload MANIFEST", file=sys.stderr)
        return 2
    step, path = argv
    with open(path, encoding="utf-8") as fh:
        manifest = json.load(fh)
    from fileflow.remote.failures import RemoteError
    from fileflow.remote.files import RemoteFiles

    remote = RemoteFiles(manifest.get("storage") or {}, stage_root=manifest["stage_root"])
    try:
        if step == "download":
            _download(remote, manifest)
            n = len(manifest.get("inputs", {}))
            _say(manifest, f"downloaded {n} remote input{'s' if n != 1 else ''} on "
                           f"{os.uname().nodename} ({remote.downloads} transferred)")
            return 0
        outputs = _upload(remote, manifest)
        _write_result(manifest["result"], {"outputs": outputs})
        n = len(outputs)
        _say(manifest, f"uploaded {n} remote output{'s' if n != 1 else ''} from "
                       f"{os.uname().nodename}")
        return 0
    except RemoteError as exc:  # names the URL, scrubbed of credentials
        what = "download input" if step == "download" else "upload output"
        why = f"cannot {what} {exc}"
    except OSError as exc:  # the local side: a staged copy missing, disk full
        why = f"cannot {step} on {os.uname().nodename}: {exc}"
    _write_result(manifest["result"], {"error": why})
    _say(manifest, why)
    return 1


def _say(manifest: dict, text: str) -> None:
    """A line in the job's log."""
    print(f"fileflow: job {manifest.get('job', '?')}: {text}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
