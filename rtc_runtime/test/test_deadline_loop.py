"""Ticker: absolute deadlines, missed-tick accounting, lateness stats; on a fake clock (no wall time)."""
from __future__ import annotations

import threading

import pytest

from rtc_runtime.deadline_loop import Ticker, cadence_line


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


def run_ticks(ticker: Ticker, clock: FakeClock, count: int, work: dict[int, float] | None = None,
              missed: list[int] | None = None):
    """Run `count` ticks; returns (tick, time) per tick, and appends each tick's `missed` to `missed`."""
    stop = threading.Event()
    seen: list[tuple[int, float]] = []
    missed = [] if missed is None else missed

    def on_tick(tick: int, skipped: int) -> None:
        seen.append((tick, clock.now))
        missed.append(skipped)
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
    missed: list[int] = []
    seen = run_ticks(ticker, clock, 4, work={1: 0.35}, missed=missed)  # tick 1 overruns by 2.5 periods
    ticks = [t for t, _ in seen]
    assert ticks == [0, 1, 4, 5]  # wall ticks: deadlines 2 and 3 were missed
    assert missed == [0, 0, 2, 0]  # told to the tick that follows them
    # tick 2 runs at once (0.25 s late: deadlines 0.3 and 0.4 were passed), then the grid resumes.
    times = [round(at - 100.0, 6) for _, at in seen]
    assert times == [0.1, 0.2, 0.55, 0.6]
    stats = ticker.stats()
    assert stats.missed == 2
    assert stats.max_ms == pytest.approx(250.0)


def test_cadence_like_lerobots_cycle_timer_rate_ticks_over_budget_and_headroom():
    clock = FakeClock()
    ticker = Ticker(50.0, window_ticks=100, clock=clock, sleep=clock.sleep)
    assert cadence_line(ticker.stats(), 50.0) == "0 ticks, too few to measure a rate"
    # ten ticks of 5 ms work (a quarter of the 20 ms period), one of 50 ms: over budget, a deadline missed
    run_ticks(ticker, clock, 11, work={t: 0.05 if t == 5 else 0.005 for t in range(20)})
    stats = ticker.stats()
    assert stats.over_budget == 1 and stats.missed == 1
    assert stats.headroom_pct == pytest.approx(100 * (1 - (10 * 0.005 + 0.05) / 11 / 0.02))
    assert stats.effective_hz == pytest.approx(10 / (11 * 0.02))  # 11 ticks over the 12 deadlines' span
    line = cadence_line(stats, 50.0)
    assert line.startswith(f"{stats.effective_hz:.2f} Hz vs 50 Hz target, 1/11 ticks over the 20.0 ms budget")
    assert line.endswith(f"headroom {stats.headroom_pct:.0f} %")


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
    ticker.run(lambda tick, missed: pytest.fail("ticked"), stop)
    assert ticker.stats().ticks == 0


@pytest.mark.parametrize("rate", [0.0, -1.0, float("nan"), float("inf")])
def test_rate_must_be_positive_and_finite(rate):
    with pytest.raises(ValueError, match="rate_hz"):
        Ticker(rate, window_ticks=10)


def test_a_named_ticker_records_lateness_and_work_while_profiling_is_enabled(profiler):
    clock = FakeClock(oversleep=0.002)
    run_ticks(Ticker(50.0, window_ticks=100, clock=clock, sleep=clock.sleep, name="executor.tick"), clock, 5)
    stats = profiler.get_profiling_stats()
    assert stats["executor.tick"]["count"] == 5
    assert stats["executor.tick.lateness"]["count"] == 5
    assert stats["executor.tick.lateness"]["p50"] == pytest.approx(0.002)
