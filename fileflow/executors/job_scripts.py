"""The scripts cluster jobs run (fileflow.executors.cluster): one per job, one per array
(its tasks pick their job's script by index), one per group job (its runner). Layer 3.

Each job script runs the command with `bash -euo pipefail`, in the working directory, with
stdout and stderr to the job's log, and then writes the command's exit status to the exit
folder, `<exit_dir>/<external id>`: the head can judge a job even when the scheduler keeps
no accounting (or forgot the job already). A member of a group leaves its exit status to
its group's runner, which writes each member's result.
"""
from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence

from fileflow.executors.base import JobSpec
from fileflow.executors.cluster_groups import GroupJob, runner_command, write_manifest

__all__ = ["JobScripts", "MAX_INLINE_COMMAND"]

MAX_INLINE_COMMAND = 100_000     # longer commands go to a file (argument size limit)


def _shell_path(pattern: str, id_shell: str) -> str:
    """A path pattern with %j as a shell word: quoted parts joined by the id expression."""
    return f'"{id_shell}"'.join(shlex.quote(p) for p in pattern.split("%j"))


class JobScripts:
    def __init__(self, workdir: str, script_dir: str, exit_dir: str, job_id_shell: str,
                 array_index_shell: str):
        self.workdir = workdir
        self.script_dir = script_dir
        self.exit_dir = exit_dir
        self.job_id_shell = job_id_shell
        self.array_index_shell = array_index_shell
        self.made_dirs: set[str] = set()               # log folders known to exist

    def job(self, spec: JobSpec, run: str = "") -> str:
        """The job's script: working directory, log, environment, the command under
        `bash -euo pipefail` (or `run`, a group's), then its exit status to the exit file
        (written atomically)."""
        name = f"{spec.job_id}-{spec.attempt}"
        path = os.path.join(self.script_dir, name + ".sh")
        log = spec.log_path if os.path.isabs(spec.log_path) else os.path.join(self.workdir, spec.log_path)
        log_dir = os.path.dirname(log.split("%j")[0] + "x")
        if log_dir not in self.made_dirs:
            os.makedirs(log_dir, exist_ok=True)
            self.made_dirs.add(log_dir)
        if run:
            pass
        elif len(spec.command) > MAX_INLINE_COMMAND:
            command_file = os.path.join(self.script_dir, name + ".cmd")
            with open(command_file, "w", encoding="utf-8", errors="surrogateescape") as fh:
                fh.write(spec.command + "\n")
            run = f"bash -euo pipefail {shlex.quote(command_file)}"
        else:
            run = f"bash -euo pipefail -c {shlex.quote(spec.command)}"
        if spec.stage:
            run = _staged_run(spec.stage, run)
        ending = (['exit "$ff_status"'] if spec.group else [
            f"ff_exit={_shell_path(os.path.join(self.exit_dir, '%j'), '$ff_id')}",
            'printf "%s\\n" "$ff_status" >"$ff_exit.tmp" && mv -f "$ff_exit.tmp" "$ff_exit"',
            'exit "$ff_status"'])
        lines = [
            "#!/bin/bash",
            f"# fileflow job {spec.name}, attempt {spec.attempt}",
            f"ff_id={self.job_id_shell}",
            f"cd {shlex.quote(self.workdir)} || exit 1",
            f"exec >{_shell_path(log, '$ff_id')} 2>&1 </dev/null",
            *(f"export {k}={shlex.quote(str(v))}" for k, v in spec.env.items()),
            f"export FILEFLOW_ATTEMPT={spec.attempt}",
            run,
            "ff_status=$?",
            *ending,
            "",
        ]
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as fh:
            fh.write("\n".join(lines))
        return path

    def group(self, spec: JobSpec, group: GroupJob) -> str:
        """A group's member scripts, its manifest, and its own script: the runner."""
        scripts = [self.job(member) for member in group.members]
        manifest = os.path.join(self.script_dir, f"group{spec.job_id}.json")
        write_manifest(manifest, group, scripts, spec.threads)
        return self.job(spec, run=runner_command(manifest))

    def array(self, scripts: Sequence[str]) -> str:
        """The array's task list (one script per line) and the script every task runs:
        it picks its line by the task's index."""
        first = os.path.splitext(os.path.basename(scripts[0]))[0]
        tasks = os.path.join(self.script_dir, f"array-{first}.tasks")
        with open(tasks, "w", encoding="utf-8", errors="surrogateescape") as fh:
            fh.write("\n".join(scripts) + "\n")
        path = os.path.join(self.script_dir, f"array-{first}.sh")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write("#!/bin/bash\n"
                     f"ff_index=$(( {self.array_index_shell} + 1 ))\n"
                     f'ff_script=$(sed -n "${{ff_index}}p" {shlex.quote(tasks)})\n'
                     '[ -n "$ff_script" ] || { echo "fileflow: no task $ff_index" >&2; exit 1; }\n'
                     'exec bash "$ff_script"\n')
        return path


def _staged_run(manifest: str, run: str) -> str:
    """`run` between the job's own download of its remote inputs and upload of its
    remote outputs (fileflow.remote.job_stager, by this Python and this fileflow: the package's
    folder leads PYTHONPATH, so the job runs the code the head runs)."""
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    stage = (f'PYTHONPATH={shlex.quote(package_root)}"${{PYTHONPATH:+:$PYTHONPATH}}" '
             f"{shlex.quote(sys.executable)} -m fileflow.remote.job_stager")
    manifest = shlex.quote(manifest)
    return f"{stage} download {manifest} && {run} && {stage} upload {manifest}"
