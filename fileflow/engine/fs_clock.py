"""The file system's own clock and timestamp granularity, measured where the run log lives.
Layer 2: does I/O (one utime and one stat a reading).

A file's mtime is stamped by the file system: the kernel's coarse clock (a tick of a few
milliseconds), cut down to what the file system keeps (1 ns on ext4 with large inodes and
XFS, 1 s on ext4 with 128-byte inodes, HFS+ and many network file systems, 2 s on FAT). A
write that lands in the same tick as a recorded observation can leave size, mtime and ctime
as they were: git's "racily clean" files. fileflow records with every state the file
system's time of the observation (`FsClock.now_ns`, read from a probe file it touches), and
trusts a recorded stat only when the file had changed a whole tick (`granularity_ns`)
before it (fileflow.state.settled).

The granularity is the largest step that divides the timestamps the kernel wrote on the
entries of `.fileflow` (the probe, the run log, the no-op cache: a fine-grained file system
gives them arbitrary nanoseconds), with the ctimes of the working directory's entries while
`.fileflow` is new (a project's first build), and is kept in the probe file itself with the device it
was measured on, so later builds read it instead of measuring again.
"""
from __future__ import annotations

import os
import time
from typing import NamedTuple

from fileflow.state import COARSE_NS

__all__ = ["FsClock", "read_clock", "granularity", "PROBE_NAME"]

PROBE_NAME = "clock"
# Steps a file system may keep timestamps in, coarsest first: FAT's 2 s, whole seconds,
# exFAT's 10 ms, milliseconds, microseconds, NTFS's 100 ns, nanoseconds.
_STEPS = (COARSE_NS, 1_000_000_000, 10_000_000, 1_000_000, 1_000, 100, 1)
_SAMPLES = 3  # timestamps needed before a step is believed (one is a whole second once in 1e9)
_ENOUGH = 16  # timestamps below which a new `.fileflow` is measured with its neighbours'


class FsClock(NamedTuple):
    now_ns: int          # the file system's time: the mtime a file written now gets
    granularity_ns: int  # the step its timestamps are kept in
    device: int = -1     # the probe's st_dev; -1 for the wall clock


def granularity(timestamps: list[int]) -> int:
    """The coarsest step that divides every timestamp; COARSE_NS with too few to tell."""
    if len(timestamps) < _SAMPLES:
        return COARSE_NS
    return next(step for step in _STEPS if all(t % step == 0 for t in timestamps))


def read_clock(folder: str = ".fileflow", touch: bool = True,
               previous: FsClock | None = None) -> FsClock:
    """Touch `folder`/clock and read the time the file system gave it, with the file
    system's granularity (measured once per device, then read back from the probe). Where
    `folder` does not exist or cannot be written, the wall clock less the coarsest step,
    with that step: never later than the file system's own time. Without `touch`, nothing
    is written: the probe's time from its last touch, an earlier but still true reading.
    With `previous`, an earlier reading of this process, its granularity serves again while
    the probe is on the same device (a reading then costs a utime and a stat)."""
    probe = os.path.join(folder, PROBE_NAME)
    try:
        if touch:
            os.utime(probe)
        st = os.stat(probe)
        if previous is not None and previous.device == st.st_dev:
            return FsClock(st.st_mtime_ns, previous.granularity_ns, st.st_dev)
        known = _known_granularity(probe, st.st_dev)
    except FileNotFoundError:
        known, st = None, None
    except OSError:
        return _wall_clock()
    if known is None and not touch:
        return _wall_clock() if st is None else FsClock(st.st_mtime_ns, COARSE_NS)
    if known is None:
        try:
            known, st = _measure(folder, probe)
        except OSError:
            return _wall_clock()
    if st is None:
        return _wall_clock()
    if known is None:  # too few timestamps to tell: the coarsest, measured again next time
        return FsClock(st.st_mtime_ns, COARSE_NS)
    return FsClock(st.st_mtime_ns, known, st.st_dev)


def _known_granularity(probe: str, device: int) -> int | None:
    with open(probe, encoding="ascii", errors="replace") as fh:
        words = fh.read().split()
    if len(words) == 2 and words[0] == str(device) and words[1].isdigit():
        return int(words[1])
    return None


def _measure(folder: str, probe: str) -> tuple[int | None, os.stat_result]:
    """Write the probe, then measure the granularity on it and its neighbours (None when
    they are too few to tell)."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(folder)
    tmp = f"{probe}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="ascii") as fh:
        fh.write("0 0\n")
    device = os.stat(tmp).st_dev
    stamps: set[int] = set()
    with os.scandir(folder) as it:
        for entry in it:
            est = entry.stat(follow_symlinks=False)
            if est.st_dev == device:  # stamped by the kernel on this file system
                stamps.update((est.st_mtime_ns, est.st_ctime_ns))
    fst = os.stat(folder)
    stamps.add(fst.st_ctime_ns)  # the folder's own: changed by the writes above
    if len(stamps) < _ENOUGH:  # a new folder: the ctimes beside it, which only the kernel sets
        stamps.update(_ctimes_beside(folder, device))
    step = granularity(sorted(stamps)) if len(stamps) >= _SAMPLES else None
    with open(tmp, "w", encoding="ascii") as fh:  # too few to tell: measured again next time
        fh.write(f"{device} {step}\n" if step is not None else "unknown\n")
    os.replace(tmp, probe)
    return step, os.stat(probe)


def _ctimes_beside(folder: str, device: int) -> set[int]:
    """The ctimes of up to _ENOUGH entries of the folder that holds `folder` (the working
    directory: the Flowfile, the inputs) on the same device."""
    found: set[int] = set()
    try:
        with os.scandir(os.path.dirname(os.path.abspath(folder))) as it:
            for entry in it:
                est = entry.stat(follow_symlinks=False)
                if est.st_dev == device:
                    found.add(est.st_ctime_ns)
                    if len(found) >= _ENOUGH:
                        break
    except OSError:
        pass
    return found


def _wall_clock() -> FsClock:
    return FsClock(time.time_ns() - COARSE_NS, COARSE_NS)
