"""The garbage collector's part in a control loop's process: start-up frozen, every pause timed."""
from __future__ import annotations

import gc
import itertools

import pytest

from rtc_runtime.gc_pauses import GcPauses, freeze_startup_objects


@pytest.fixture
def no_automatic_collections():
    """Only the test's own gc.collect() runs; frozen objects are given back afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()


def test_start_up_objects_are_frozen_and_later_collections_leave_them_alone(no_automatic_collections):
    kept = [[] for _ in range(1000)]
    frozen = freeze_startup_objects()
    assert frozen == gc.get_freeze_count() and frozen > len(kept)
    assert not any(obj is kept for obj in gc.get_objects())  # in the permanent generation: never scanned


def test_every_collection_is_timed_while_installed(no_automatic_collections):
    ticks = itertools.count()
    pauses = GcPauses(clock=lambda: next(ticks) * 0.004)  # each collection lasts one 4 ms tick
    assert str(pauses.stats()) == "no collection yet" and pauses.stats().longest_generation == -1
    pauses.install()
    pauses.install()  # once only
    try:
        gc.collect()
    finally:
        pauses.remove()
    stats = pauses.stats()
    assert (stats.collections, stats.longest_ms, stats.longest_generation) == (1, pytest.approx(4.0), 2)
    assert str(stats) == "1 collections, longest 4.00 ms (generation 2)"
    assert stats.diagnostic_values() == {"gc_pauses": str(stats), "gc_pause_max_ms": "4.00"}
    gc.collect()  # removed: not counted
    assert pauses.stats().collections == 1
