"""Peak-memory measurement sees a large temporary allocation and returns the call's result."""

from __future__ import annotations

import numpy as np

from replication import profiling


def allocate(mb: int) -> int:
    block = np.ones(mb * 2**20 // 8)  # touched pages count in RSS
    return int(block.size)


def test_measure_sees_a_temporary_allocation():
    small = profiling.measure(allocate, 1)
    big = profiling.measure(allocate, 200)
    assert big.result == 200 * 2**20 // 8
    assert big.peak_mb > 150 and big.peak_mb > small.peak_mb + 100
    assert big.seconds > small.seconds  # touching 200 MB takes longer than 1 MB: the call is what is timed


def test_measure_times_the_call(monkeypatch):
    """The seconds are the call's wall time (a timer that started late or stopped early would show less)."""
    import time

    assert profiling.measure(time.sleep, 0.05).seconds >= 0.05


def test_measure_collects_garbage_first_unless_told_not_to(monkeypatch):
    calls = []
    monkeypatch.setattr(profiling.gc, "collect", lambda *a: calls.append(1) or 0)
    assert profiling.measure(lambda x: x + 1, 1).result == 2 and calls == [1]
    measured = profiling.measure(lambda x: np.ones(x).sum(), 10, collect=False)
    assert measured.result == 10.0 and calls == [1], "collect=False: no collection, the call still measured"
