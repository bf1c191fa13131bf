"""Ticker: absolute deadlines, missed-tick accounting, lateness stats; on a fake clock (no wall time)."""
from __future__ import annotations

import os
import threading

import pytest

from rtc_policy_node.ticker import Scheduling, Ticker, request_realtime, request_realtime_process


class FakeClock:
    """Monotonic time that only moves when the loop sleeps or a tick takes `work[tick]` seconds."""

    def __init__(self, oversleep: float = 0.0) -> None:
        self.now = 100.0
        self.oversleep = oversleep
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds + self.oversleep


def run_ticks(ticker: Ticker, clock: FakeClock, count: int, work: dict[int, float] | None = None):
    stop = threading.Event()
    seen: list[tuple[int, float]] = []

    def on_tick(tick: int) -> None:
        seen.append((tick, clock.now))
        clock.now += (work or {}).get(tick, 0.0)
        if len(seen) == count:
            stop.set()

    ticker.run(on_tick, stop)
    return seen


def test_ticks_land_on_a_fixed_grid_without_drift():
    clock = FakeClock(oversleep=0.0002)
    ticker = Ticker(50.0, window_ticks=100, clock=clock, sleep=clock.sleep)
    seen = run_ticks(ticker, clock, 10, work={t: 0.005 for t in range(10)})
    start = 100.0
    for tick, at in seen:
        assert tick == seen.index((tick, at))
        assert at == pytest.approx(start + (tick + 1) * 0.02 + 0.0002)  # grid + oversleep, no drift
    stats = ticker.stats()
    assert stats.ticks == 10 and stats.missed == 0
    assert stats.p50_ms == pytest.approx(0.2) and stats.max_ms == pytest.approx(0.2)


def test_a_long_tick_skips_passed_deadlines_and_counts_them_missed():
    clock = FakeClock()
    ticker = Ticker(10.0, window_ticks=100, clock=clock, sleep=clock.sleep)
    seen = run_ticks(ticker, clock, 4, work={1: 0.35})  # tick 1 overruns by 2.5 periods
    ticks = [t for t, _ in seen]
    assert ticks == [0, 1, 2, 3]  # tick numbers count executed ticks only
    # tick 2 runs at once (0.25 s late: deadlines 0.3 and 0.4 were passed), then the grid resumes.
    times = [round(at - 100.0, 6) for _, at in seen]
    assert times == [0.1, 0.2, 0.55, 0.6]
    stats = ticker.stats()
    assert stats.missed == 2
    assert stats.max_ms == pytest.approx(250.0)


def test_stats_window_keeps_only_recent_ticks_but_max_covers_the_run():
    clock = FakeClock()
    ticker = Ticker(10.0, window_ticks=3, clock=clock, sleep=clock.sleep)
    run_ticks(ticker, clock, 6, work={0: 0.15})  # tick 1 is 50 ms late, then on time
    stats = ticker.stats()
    assert stats.ticks == 6 and stats.window_ticks == 3
    assert stats.window_max_ms == pytest.approx(0.0)
    assert stats.max_ms == pytest.approx(50.0)


def test_stop_before_start_runs_no_tick():
    clock = FakeClock()
    ticker = Ticker(10.0, window_ticks=3, clock=clock, sleep=clock.sleep)
    stop = threading.Event()
    stop.set()
    ticker.run(lambda tick: pytest.fail("ticked"), stop)
    assert ticker.stats().ticks == 0


@pytest.mark.parametrize("rate", [0.0, -1.0, float("nan"), float("inf")])
def test_rate_must_be_positive_and_finite(rate):
    with pytest.raises(ValueError, match="rate_hz"):
        Ticker(rate, window_ticks=10)


def test_realtime_request_reports_what_it_got():
    got: list[Scheduling] = []
    thread = threading.Thread(target=lambda: got.append(request_realtime(10)))
    thread.start()
    thread.join()
    (sched,) = got
    assert sched.policy in ("SCHED_FIFO", "SCHED_OTHER")
    assert (sched.policy == "SCHED_FIFO") == (sched.detail == "granted")
    assert sched.policy in str(sched)


def test_realtime_request_falls_back_when_refused(monkeypatch):
    def refuse(*args):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr("os.sched_setscheduler", refuse)
    sched = request_realtime(50)
    assert sched.policy == "SCHED_OTHER" and "refused" in sched.detail


def test_realtime_for_the_process_asks_for_every_thread(monkeypatch):
    calls: list[tuple[int, int, int]] = []
    monkeypatch.setattr("os.sched_setscheduler", lambda tid, policy, param: calls.append(
        (tid, policy, param.sched_priority)))
    sched = request_realtime_process(40)
    thread_ids = sorted(int(tid) for tid in os.listdir("/proc/self/task"))
    assert sorted(tid for tid, _, _ in calls) == thread_ids
    assert {(policy, prio) for _, policy, prio in calls} == {(os.SCHED_FIFO, 40)}
    assert sched.policy == "SCHED_FIFO" and sched.priority == 40 and str(len(thread_ids)) in sched.detail


def test_realtime_for_the_process_reports_a_refusal(monkeypatch):
    def refuse(*args):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr("os.sched_setscheduler", refuse)
    sched = request_realtime_process(40)
    assert sched.policy == "SCHED_OTHER" and "refused" in sched.detail
