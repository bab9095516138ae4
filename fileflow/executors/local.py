"""Run jobs as local processes: `bash -euo pipefail -c COMMAND`, each in its own session so
its whole process tree can be stopped. Layer 3.

Processes start with posix_spawn (cheaper than fork for a large parent), in a build from
threads of their own (spawning.py), and are waited for through pidfds, so `wait`
blocks in the kernel instead of polling; wait4 reports the peak memory and CPU time of the
job's tree at no extra cost.
"""
from __future__ import annotations

import contextlib
import itertools
import math
import os
import select
import shutil
import signal
import socket
import threading
import time
from collections.abc import Iterable

from fileflow.executors.base import JobOutcome, JobSpec
from fileflow.executors.plain_calls import plain_call
from fileflow.executors.spawning import Attempt, Launch, Spawner, libc_spawn
from fileflow.fs import remove_file
from fileflow.lang.units import span

__all__ = ["LocalExecutor", "MAX_SPAWNERS", "NOT_STARTED", "RUN_TAG", "process_run_tag",
           "tagged_processes"]

TERM_GRACE_SECONDS = 3.0
# A job's peak memory: wait4 cannot tell a job below fileflow's own peak (see _outcome), so
# jobs that run this long have their process tree's memory read from /proc, this often.
SAMPLE_AFTER_SECONDS = 1.0
SAMPLE_EVERY_SECONDS = 1.0
# In every job's environment: finds all the processes of a run, those that left the job's
# process group or tree (daemons) and those whose pid never reached the run log.
RUN_TAG = "FILEFLOW_RUN"
# Python ignores these for itself; a job gets the defaults, as subprocess's restore_signals
# gives them (an ignored SIGPIPE makes `yes | head` report write errors instead of ending).
RESTORED_SIGNALS = tuple(getattr(signal, name) for name in ("SIGPIPE", "SIGXFZ", "SIGXFSZ")
                         if hasattr(signal, name))
# Threads that start a build's processes: one per job that may start at once (-j), up to
# this many; two at -j 2 start two jobs that became ready together side by side.
MAX_SPAWNERS = 4
# The words of a job whose process never started because the build stopped first.
NOT_STARTED = "cancelled before its process started"
# Linux refuses a single argument over 128 KiB (MAX_ARG_STRLEN): a command that joins
# thousands of inputs goes to a file instead of `bash -c`.
MAX_INLINE_COMMAND = 100_000
def _command_file(spec: JobSpec) -> str:
    folder = os.path.join(".fileflow", "commands")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{spec.job_id}-{spec.attempt}.sh")
    with open(path, "w", encoding="utf-8", errors="surrogateescape") as fh:
        fh.write(spec.command + "\n")
    return path


def process_run_tag(run_id: int, workdir: str) -> str:
    """The RUN_TAG value a run's local jobs carry in their environment: the run's id in the
    run log of that directory."""
    return f"{run_id}@{workdir}"


def tagged_processes(tags: Iterable[str]) -> list:
    """This host's processes (psutil) whose environment carries one of these run tags.
    Reads every process's environment: for stopping runs, not for hot paths."""
    import psutil

    wanted, me = set(tags), os.getpid()
    found = []
    for proc in psutil.process_iter(["environ"]):
        env = proc.info.get("environ")  # None where it cannot be read (another user's)
        if env and env.get(RUN_TAG) in wanted and proc.pid != me:
            found.append(proc)
    return found


def _own_peak(pid: int) -> int:
    """A process's peak resident set in bytes (Linux: VmHWM), 0 when unknown."""
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


class LocalExecutor:
    """Local processes. With `spawners` (threads, one per job that may start at once),
    submit() queues the jobs and returns no ids: those threads start them (spawning.py)
    while the caller goes on, and started() hands over their pids; without, submit()
    starts them before it returns their pids."""

    def __init__(self, env: dict[str, str] | None = None, tag: str = "", spawners: int = 0):
        self.bash = shutil.which("bash") or "/bin/bash"
        self.base_env = dict(os.environ if env is None else env)
        self.tag = tag
        if tag:
            self.base_env[RUN_TAG] = tag
        # bash -c reads the file BASH_ENV names before the command (Lmod and conda set PATH
        # there on clusters): then every command goes through bash, as written.
        self.direct_allowed = not self.base_env.get("BASH_ENV")
        self.env_dir = ""                  # the working directory env_here was made for
        self.env_here = self.base_env
        self.host = socket.gethostname()
        # pid -> (spec, start, pidfd, fileflow's own peak RSS in KiB when the job started)
        self.running: dict[int, tuple[JobSpec, float, int, int]] = {}
        self.sampled_peaks: dict[int, int] = {}   # pid -> peak bytes seen in /proc (long jobs)
        self.next_sample = time.monotonic() + SAMPLE_EVERY_SECONDS
        self.use_pidfd = hasattr(os, "pidfd_open") and hasattr(select, "epoll")
        # epoll: the spawning thread adds a pidfd while `wait` may be waiting on the others
        self.poller = select.epoll() if self.use_pidfd else None
        self.by_fd: dict[int, int] = {}
        spawn = libc_spawn(RESTORED_SIGNALS) if spawners > 0 else None
        self.threaded = spawn is not None
        self.spawner = Spawner(spawn, RESTORED_SIGNALS, self.use_pidfd, self._watch, spawners)
        self.launching = 0                   # submitted, not yet taken from the spawner
        self.not_launched: list[Launch] = []  # (threaded) could not start: reported cancelled
        self.started_ids: list[tuple[int, str]] = []  # (job id, pid) not yet handed over
        # Woken when a process could not start (the error is raised by `wait`).
        self.wake = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK) if (
            self.threaded and self.poller is not None) else -1
        if self.wake >= 0:
            assert self.poller is not None
            self.poller.register(self.wake, select.EPOLLIN)
        # (command name, PATH) -> path, found once per build (a job's own PATH: a conda
        # environment's bin first)
        self.programs: dict[tuple[str, str | None], str] = {}
        self.log_dirs: set[str] = set()     # log folders made (or found) during this build
        self.logs_made: set[str] = set()    # log files made ahead of their jobs (prepare_logs)
        self.logs_used: set[str] = set()    # ... and the ones a job then opened
        self.log_maker: threading.Thread | None = None
        self.stop_making_logs = threading.Event()
        # Logs made on demand (spec.log_on_demand): a job writes to a spool file in its
        # log's folder, renamed to the log when the job wrote something (or ran long enough
        # to be watched); an empty one serves the next job. Creating a file costs 0.4 ms on
        # a busy ext4, more than a trivial job's bookkeeping, and most jobs print nothing.
        self.spools: dict[str, list[tuple[int, str]]] = {}  # folder -> free (fd, name)
        self.spooled: dict[int, tuple[int, str]] = {}       # pid -> the spool its log is in
        self.spool_count = itertools.count()
        # Timeouts: pid -> when (monotonic) the job has run too long; then, once its tree
        # was sent SIGTERM, pid -> (when to send SIGKILL, the failure's words, the tree).
        self.deadlines: dict[int, float] = {}
        self.stopping: dict[int, tuple[float, str, list]] = {}

    def active(self) -> int:
        return len(self.running) + self.launching

    def submit(self, specs: list[JobSpec]) -> list[str]:
        """Threaded: queued for the spawning thread, ids "" (started() has them later)."""
        ids = []
        for spec in specs:
            self.spawner.put(self._launch(spec))
            self.launching += 1
            if not self.threaded:  # started already: its pid, or the error, now
                self._take_started()
                ids.append(self.started_ids.pop()[1])
        return ids if not self.threaded else [""] * len(specs)

    def started(self) -> list[tuple[int, str]]:
        """(job id, pid) of the jobs started since the last call (threaded)."""
        self._take_started()
        started, self.started_ids = self.started_ids, []
        return started

    def prepare_logs(self, paths: Iterable[str]) -> None:
        """Create the log files of jobs still to come, in a background thread, where logs
        cannot be made on demand (no spool file could be made). Creating a
        file costs far more than opening one that exists (0.4 ms against 0.02 ms a job in a
        10,000-job build here, with jobs writing beside it), and every spawn waits for its
        log. Only files that do not exist are made, so no earlier log is ever emptied; the
        ones no job used are removed by discard_unused_logs()."""
        paths = iter(paths)
        first = next(paths, None)
        if first is None or self._spool(os.path.dirname(first)) is not None:
            return  # made on demand (the spool just made serves the first job)
        paths = itertools.chain([first], paths)
        self.log_maker = threading.Thread(target=self._make_logs, args=(paths,), daemon=True,
                                          name="fileflow-logs")
        self.log_maker.start()

    def _make_logs(self, paths: Iterable[str]) -> None:
        folders: set[str] = set()
        for path in paths:
            if self.stop_making_logs.is_set():
                return
            try:
                parent = os.path.dirname(path)
                if parent and parent not in folders:
                    os.makedirs(parent, exist_ok=True)
                    folders.add(parent)
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644))
            except OSError:
                continue  # there already, or not makeable: the job's own open says why
            self.logs_made.add(path)

    def _spool(self, folder: str) -> tuple[int, str] | None:
        """A free empty spool file (fd, name) in `folder`, or None where none can be made."""
        free = self.spools.setdefault(folder, [])
        if free:
            return free[-1]
        name = os.path.join(folder, f".spool-{os.getpid()}-{next(self.spool_count)}")
        try:
            if folder and folder not in self.log_dirs:
                os.makedirs(folder, exist_ok=True)
                self.log_dirs.add(folder)
            fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except OSError:  # the log is then opened as it always was, and says what is wrong
            return None
        free.append((fd, name))
        return free[-1]

    @staticmethod
    def _name_log(spool: tuple[int, str], path: str) -> None:
        """The spool becomes the log at `path` (replacing an earlier build's); copied there
        when it cannot be renamed (a job removed the folder)."""
        fd, name = spool
        try:
            os.rename(name, path)
            return
        except OSError:
            pass
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "wb") as out:
            offset = 0
            while chunk := os.pread(fd, 1 << 20, offset):
                out.write(chunk)
                offset += len(chunk)

    def _settle_log(self, pid: int, path: str) -> None:
        """A job ended: its log becomes a file if it wrote anything; else the spool serves
        the next job, and no log of an earlier build stays behind as if its own."""
        spool = self.spooled.pop(pid, None)
        if spool is None:
            return
        try:
            if os.fstat(spool[0]).st_size:
                self._name_log(spool, path)
                os.close(spool[0])
                return
            remove_file(path)
        except OSError:
            os.close(spool[0])
            return
        self.spools.setdefault(os.path.dirname(path), []).append(spool)

    def _name_long_logs(self, oldest: float) -> None:
        """Jobs running since before `oldest` get their log under its name now, so that it
        can be watched (tail -f) while they run."""
        for pid, spool in list(self.spooled.items()):
            spec, started, _, _ = self.running[pid]
            if started <= oldest:
                del self.spooled[pid]
                with contextlib.suppress(OSError):  # else named when the job ends
                    self._name_log(spool, spec.log_path)
                os.close(spool[0])

    def discard_unused_logs(self) -> None:
        """Stop making logs ahead, and remove those made for jobs that never started."""
        for launch in self.spawner.stop():  # none is left once every job was waited for
            self._unlaunch(launch.fd, launch.spool, os.path.dirname(launch.spec.log_path))
        self.stop_making_logs.set()
        if self.log_maker is not None:
            self.log_maker.join()
        for path in self.logs_made - self.logs_used:
            with contextlib.suppress(OSError):
                os.unlink(path)
        self.logs_made.clear()
        for free in self.spools.values():
            for fd, name in free:
                os.close(fd)
                with contextlib.suppress(OSError):
                    os.unlink(name)
        self.spools.clear()

    def _launch(self, spec: JobSpec) -> Launch:
        """What starts the job's process: its log opened, the program to run."""
        parent = os.path.dirname(spec.log_path)
        if parent and parent not in self.log_dirs:  # one makedirs per folder, not per job
            os.makedirs(parent, exist_ok=True)
            self.log_dirs.add(parent)
        spool = None
        if spec.log_on_demand and spec.log_path not in self.logs_made:
            spool = self._spool(parent)
        if spool is not None:
            self.spools[parent].remove(spool)
            fd = spool[0]
        else:
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
            self.logs_used.add(spec.log_path)  # before the open: a log made ahead is the job's
            try:
                fd = os.open(spec.log_path, flags, 0o644)
            except FileNotFoundError:  # its folder went away during the build (a job removed it)
                os.makedirs(parent, exist_ok=True)
                fd = os.open(spec.log_path, flags, 0o644)
        try:
            env = self._env_here()
            if spec.env:
                env = dict(env)
                env.update(spec.env)
            actions: list[tuple] = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                                    (os.POSIX_SPAWN_DUP2, fd, 1), (os.POSIX_SPAWN_DUP2, fd, 2)]
            attempts: list[Attempt] = []
            direct = (self._direct(spec.command, spec.env.get("PATH"))
                      if self.direct_allowed else None)
            if direct is not None:
                program, argv, stdout = direct
                # `> file` / `>> file`, opened as bash would; when it cannot be (its folder
                # is missing), bash starts instead and says so
                redirect = [(os.POSIX_SPAWN_OPEN, 1, *stdout, 0o666)] if stdout else []
                attempts.append((program, argv, actions + redirect))
            argv = ["bash", "-euo", "pipefail", "-c", spec.command]
            if len(spec.command) > MAX_INLINE_COMMAND:
                argv = ["bash", "-euo", "pipefail", _command_file(spec)]
            attempts.append((self.bash, argv, actions))
        except BaseException:
            self._unlaunch(fd, spool, parent)
            raise
        return Launch(spec, attempts, env, fd, spool)

    def _unlaunch(self, fd: int, spool: tuple[int, str] | None, parent: str) -> None:
        """A launch that never started gives back its log: a spool, still empty, serves
        another job."""
        if spool is not None:
            self.spools.setdefault(parent, []).append(spool)
        else:
            os.close(fd)

    def _watch(self, launch: Launch) -> None:
        """In the starting thread, once the launch is in the spawner's hands-back: a started
        process's pidfd joins those `wait` waits on (also while it waits); a launch that
        could not start wakes it."""
        if launch.error is not None:
            if self.wake >= 0:
                os.eventfd_write(self.wake, 1)
        elif launch.pidfd >= 0 and self.poller is not None:
            self.poller.register(launch.pidfd, select.EPOLLIN)

    def _take_started(self, raising: bool = True) -> None:
        """The launches the spawner handed back become running jobs; the first error of one
        that could not start is raised (after all are taken)."""
        error = None
        for launch in self.spawner.take():
            self.launching -= 1
            if launch.error is not None:
                if self.threaded:  # its job is reported cancelled by cancel()
                    self.not_launched.append(launch)
                else:
                    self._unlaunch(launch.fd, launch.spool, os.path.dirname(launch.spec.log_path))
                error = error or launch.error
                continue
            spec, pid = launch.spec, launch.pid
            if launch.spool is not None:
                self.spooled[pid] = launch.spool
            else:
                os.close(launch.fd)
            if launch.pidfd >= 0:
                self.by_fd[launch.pidfd] = pid
            else:
                self.use_pidfd = False
            self.running[pid] = (spec, launch.started, launch.pidfd, launch.own_peak)
            if spec.timeout > 0:
                self.deadlines[pid] = time.monotonic() + spec.timeout
            self.started_ids.append((spec.job_id, str(pid)))
        if error is not None and raising:
            if self.wake >= 0:
                with contextlib.suppress(BlockingIOError):
                    os.eventfd_read(self.wake)
            raise error

    def _env_here(self) -> dict[str, str]:
        """The jobs' environment with PWD as bash sets it in the working directory, so that a
        job started directly sees what one started by bash sees (after `-C DIR` the inherited
        PWD names another folder): the inherited PWD when it names this folder (a path through
        a symlink is kept), else the folder's own path."""
        here = os.getcwd()
        if here != self.env_dir:
            pwd = self.base_env.get("PWD", "")
            try:
                same = os.path.isabs(pwd) and os.path.samefile(pwd, here)
            except OSError:
                same = False
            self.env_dir = here
            self.env_here = {**self.base_env, "PWD": pwd if same else here}
        return self.env_here

    def _direct(self, command: str, path: str | None = None
                ) -> tuple[str, list[str], tuple[str, int] | None] | None:
        """A command that is one plain program call (executors/plain_calls.py) runs without
        bash in between, as make does for a plain call: same argv, same file, same exit
        code, one exec instead of two. Returns (program, argv, (file, open flags) or None);
        anything else goes to bash."""
        call = plain_call(command)
        if call is None:
            return None
        argv, stdout = call
        if f"BASH_FUNC_{argv[0]}%%" in self.base_env:
            return None  # an exported bash function of that name (Lmod's `module`) wins in bash
        program = self.programs.get((argv[0], path))
        if program is None:
            program = (argv[0] if "/" in argv[0]  # looked up on the job's PATH, as bash does
                       else shutil.which(argv[0], path=path or self.base_env.get("PATH")))
            if program is None:
                return None  # bash says "command not found" (exit 127) the usual way
            self.programs[(argv[0], path)] = program
        return program, argv, stdout

    def wait(self, timeout: float) -> list[JobOutcome]:
        self._take_started()
        if not self.running and not self.launching:
            return []
        if self.deadlines or self.stopping:
            timeout = min(timeout, self._stop_overdue())
        if time.monotonic() >= self.next_sample:  # once a second: the long jobs
            self._name_long_logs(time.time() - SAMPLE_AFTER_SECONDS)
            self._sample_memory()
        done = self._reap_ready()
        if done:
            return done
        if self.use_pidfd:
            assert self.poller is not None
            events = self.poller.poll(max(0.0, timeout))
            self._take_started()  # a pidfd the spawning thread added has its job now
            return self._reap([self.by_fd[fd] for fd, _ in events if fd in self.by_fd])
        deadline = time.monotonic() + timeout
        while not done and time.monotonic() < deadline:
            time.sleep(0.002)
            done = self._reap_ready()
        return done

    def _reap_ready(self) -> list[JobOutcome]:
        if self.use_pidfd:
            assert self.poller is not None
            events = self.poller.poll(0)
            self._take_started()
            return self._reap([self.by_fd[fd] for fd, _ in events if fd in self.by_fd])
        finished = []
        for pid in list(self.running):
            got, status, usage = os.wait4(pid, os.WNOHANG)
            if got:
                finished.append(self._outcome(pid, status, usage))
        return finished

    def _reap(self, pids: list[int]) -> list[JobOutcome]:
        out = []
        for pid in pids:
            _, status, usage = os.wait4(pid, 0)
            out.append(self._outcome(pid, status, usage))
        return out

    def _outcome(self, pid: int, status: int, usage, message: str = "") -> JobOutcome:
        spec, started, pidfd, own_peak = self.running.pop(pid)
        self.deadlines.pop(pid, None)
        stopped = self.stopping.pop(pid, None)
        if stopped is not None and not message:
            message = stopped[1]
        self._settle_log(pid, spec.log_path)
        if pidfd >= 0:
            assert self.poller is not None
            with contextlib.suppress(OSError):  # never watched (use_pidfd turned off)
                self.poller.unregister(pidfd)
            del self.by_fd[pidfd]
            os.close(pidfd)
        code = os.waitstatus_to_exitcode(status)
        if code < 0 and not message:
            known = -code in signal.valid_signals()
            message = f"killed by signal {signal.Signals(-code).name}" if known else ""
        # A spawned child starts out sharing fileflow's memory (vfork), and Linux folds the
        # peak of that memory into the child's ru_maxrss at exec: a job that never grew
        # past fileflow's own peak reports exactly that. Its real peak is then unknown (-1).
        peak = usage.ru_maxrss * 1024 if usage.ru_maxrss > own_peak else -1
        peak = max(peak, self.sampled_peaks.pop(pid, -1))
        return JobOutcome(spec.job_id, code, started, time.time(), self.host,
                          peak, usage.ru_utime + usage.ru_stime, message, str(pid))

    def _sample_memory(self) -> None:
        """Read the memory of the trees of jobs running for a while: the largest peak of
        one process (VmHWM, its own since its exec) or the sum of the tree's resident sets."""
        import psutil

        now = time.monotonic()
        self.next_sample = now + SAMPLE_EVERY_SECONDS
        oldest = time.time() - SAMPLE_AFTER_SECONDS
        for pid, (_, started, _, _) in self.running.items():
            if started > oldest:
                continue
            try:
                tree = [psutil.Process(pid)]
                tree.extend(tree[0].children(recursive=True))
            except psutil.Error:
                continue
            total, highest = 0, 0
            for proc in tree:
                try:
                    total += proc.memory_info().rss
                    highest = max(highest, _own_peak(proc.pid))
                except psutil.Error:
                    continue
            peak = max(total, highest)
            if peak > self.sampled_peaks.get(pid, -1):
                self.sampled_peaks[pid] = peak

    def _stop_overdue(self) -> float:
        """Jobs past their timeout get SIGTERM, their whole tree; those still running a
        grace period later get SIGKILL. Returns the seconds until the next such moment."""
        import psutil

        now = time.monotonic()
        for pid, deadline in list(self.deadlines.items()):
            if now >= deadline:
                del self.deadlines[pid]
                try:
                    tree = psutil.Process(pid).children(recursive=True)
                except psutil.Error:
                    tree = []
                self._signal_tree(pid, signal.SIGTERM, tree)
                words = f"timed out after {span(self.running[pid][0].timeout)}"
                self.stopping[pid] = (now + TERM_GRACE_SECONDS, words, tree)
        for pid, (kill_at, words, tree) in list(self.stopping.items()):
            if now >= kill_at:
                self._signal_tree(pid, signal.SIGKILL, tree)
                self.stopping[pid] = (math.inf, words, tree)
        upcoming = [*self.deadlines.values(), *(s[0] for s in self.stopping.values())]
        return max(0.0, min(upcoming, default=math.inf) - now)

    def cancel(self) -> list[JobOutcome]:
        """Terminate every job's process tree: SIGTERM, a grace period, then SIGKILL. Jobs
        whose processes had not started never start: reported cancelled."""
        import psutil

        unstarted = self.spawner.stop() + self.not_launched
        self.not_launched = []
        self._take_started(raising=False)
        unstarted.extend(self.not_launched)
        self.not_launched = []
        now = time.time()
        never: list[JobOutcome] = []
        for launch in unstarted:
            self.launching -= launch.error is None  # those that failed were taken already
            self._unlaunch(launch.fd, launch.spool, os.path.dirname(launch.spec.log_path))
            never.append(JobOutcome(launch.spec.job_id, -signal.SIGTERM, now, now,
                                    self.host, message=NOT_STARTED))
        descendants = []
        for pid in self.running:
            try:
                descendants.extend(psutil.Process(pid).children(recursive=True))
            except psutil.Error:
                pass
        if self.tag and self.running:  # and what left the trees (daemons): found by the tag
            known = {p.pid for p in descendants} | set(self.running)
            descendants.extend(p for p in tagged_processes([self.tag]) if p.pid not in known)
        self._signal_all(signal.SIGTERM, descendants)
        out: list[JobOutcome] = []
        deadline = time.monotonic() + TERM_GRACE_SECONDS
        while self.running and time.monotonic() < deadline:
            for pid in list(self.running):
                got, status, usage = os.wait4(pid, os.WNOHANG)
                if got:
                    out.append(self._outcome(pid, status, usage, "cancelled"))
            time.sleep(0.01)
        self._signal_all(signal.SIGKILL, descendants)
        for pid in list(self.running):
            _, status, usage = os.wait4(pid, 0)
            out.append(self._outcome(pid, status, usage, "cancelled"))
        return out + never

    def _signal_all(self, sig: int, descendants: list) -> None:
        """Signal each job's process group, and descendants that left it (never reaped here:
        they are not our children)."""
        for pid in self.running:
            try:
                os.killpg(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        self._signal_tree(0, sig, descendants)

    @staticmethod
    def _signal_tree(pid: int, sig: int, descendants: list) -> None:
        """Signal a job's process group (pid 0: none) and these descendants of it."""
        import psutil

        if pid:
            try:
                os.killpg(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        for proc in descendants:
            try:
                proc.send_signal(sig)
            except psutil.Error:
                pass
