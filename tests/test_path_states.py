"""The checks the caches of .fileflow share (fileflow/run/path_states.py): whether recorded
path states are old enough to vouch for their files against a clock."""
from __future__ import annotations

from fileflow.engine.fs_clock import FsClock
from fileflow.run.path_states import old_enough

NOW = 1_800_000_000_123_456_789
TICK = 1_000_000  # a file system of millisecond timestamps


def state(changed_ns: int, ctime_ns: int | None = None) -> tuple:
    return (3, changed_ns, changed_ns if ctime_ns is None else ctime_ns, False, "")


def test_states_far_older_than_the_clock_are_old_enough():
    states = [state(NOW - 3_600_000_000_000 - i * 7) for i in range(1000)] + [None]
    assert old_enough(states, FsClock(NOW, TICK))
    assert old_enough([None, None], FsClock(NOW, TICK))
    assert old_enough([], FsClock(NOW, TICK))


def test_one_state_within_a_tick_of_the_clock_among_many_old_ones_is_not():
    old = [state(NOW - 3_600_000_000_000 - i) for i in range(1000)]
    assert not old_enough([*old, state(NOW - TICK // 2)], FsClock(NOW, TICK))
    assert not old_enough([*old, state(NOW - 5 * TICK, ctime_ns=NOW)], FsClock(NOW, TICK))
    assert old_enough([*old, state(NOW - 5 * TICK)], FsClock(NOW, TICK))  # recent, a tick old


def test_whole_second_times_need_two_seconds():
    """A state whose times are whole seconds may come from a file system of whole seconds
    (fileflow.state.settled): within two seconds of the clock it does not vouch."""
    whole = (NOW // 1_000_000_000 - 1) * 1_000_000_000
    assert not old_enough([state(whole)], FsClock(NOW, TICK))
    assert old_enough([state(whole - 2_000_000_000)], FsClock(NOW, TICK))


def test_a_state_that_cannot_be_told_is_never_old_enough():
    assert not old_enough([state(NOW - 3_600_000_000_000), False], FsClock(NOW, TICK))
