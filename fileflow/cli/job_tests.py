"""`fileflow test-job TARGET`: one job run on its own, in a temporary folder. Layer 5."""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile

from fileflow.cli.build_args import profile_option
from fileflow.cli.steps import print_line
from fileflow.errors import EXIT_JOB_FAILED, EXIT_OK

__all__ = ["configure_test_job", "test_job"]

LOG_TAIL_LINES = 15


def configure_test_job(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="TARGET",
                        help="a file a job makes, or a job's name such as 'count[sample=a]'")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary folder (its path is printed)")
    parser.add_argument("--copy", action="store_true",
                        help="copy the inputs into the folder instead of linking them")
    profile_option(parser, "as for build: read options from a YAML profile (its config, "
                           "resources, threads...), to run the job as a build with it would")


def test_job(args, workflow) -> int:
    """Run the job `args.target` names in a temporary copy of what it needs; the working
    directory's outputs and run log are left as they are. Exits with the job's status."""
    from fileflow.run.one_job import find_job, run_job, stage_job

    job = find_job(workflow, args.target)
    folder = tempfile.mkdtemp(prefix="fileflow-test-job-")
    try:
        stage_job(workflow, job, folder, copy=args.copy)
        done = run_job(workflow, job, folder)
        status = "ok" if done.ok else f"failed (exit {done.exit_code}{_words(done.message)})"
        print_line(f"fileflow: job {job.name} {status}, run in {folder}")
        for path in done.outputs:
            state = f"{os.path.getsize(path)} bytes" if os.path.isfile(path) else (
                "a folder" if os.path.isdir(path) else "missing")
            print_line(f"  output {path} ({state})")
        print_line(f"  log    {done.log or '(the job wrote nothing)'}")
        if not done.ok and done.log:
            _print_tail(done.log)
        if not args.keep:
            print_line("  (the folder is removed; --keep keeps it)")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    if done.ok:
        return EXIT_OK
    return done.exit_code if 0 < done.exit_code < 256 else EXIT_JOB_FAILED


def _words(message: str) -> str:
    return f", {message}" if message else ""


def _print_tail(path: str) -> None:
    with open(path, encoding="utf-8", errors="replace") as fh:
        lines = fh.read().splitlines()[-LOG_TAIL_LINES:]
    for line in lines:
        print_line(f"  | {line}")
