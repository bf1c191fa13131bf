"""A control loop that ticks at a fixed rate by sleeping to absolute monotonic deadlines.

Deadlines sit on a fixed grid (start + k * period), so lateness never accumulates into drift. A tick
that wakes a whole period or more late does not run the passed deadlines in a burst (that would send
the arm a burst of commands); they are counted as missed, the next tick is told how many it follows
(so a caller that counts wall ticks, like the executor's step, stays on the wall clock after a stall),
and the loop rejoins the grid. Lateness (wake
time minus deadline) is kept for the last `window_ticks` ticks for percentiles, and over the whole run
for the maximum. No rclpy import: the executor and the driver run this in their control threads.
With a `name`, every tick's lateness and its work are also recorded with rtc_runtime.profiling (as
`<name>.lateness` and `<name>`; nothing while profiling is disabled). Over the same window the
stats give the loop's cadence as LeRobot's CycleTimer reports it (`cadence_line`): the effective
rate against the target, the ticks whose work overran the period (its budget), and the headroom,
the share of the period left after the mean tick's work.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from collections.abc import Callable

import numpy as np

from rtc_runtime.profiling import profile_section, record_timing


@dataclass(frozen=True)
class TickStats:
    """Lateness figures in milliseconds: percentiles over the recent window, max over the run."""

    ticks: int
    missed: int
    window_ticks: int
    p50_ms: float
    p99_ms: float
    window_max_ms: float
    max_ms: float
    effective_hz: float = math.nan  # ticks run per second over the window (nan below two ticks)
    over_budget: int = 0  # ticks of the window whose work took longer than the period
    headroom_pct: float = math.nan  # 100 * (1 - mean work / period) over the window


def cadence_line(stats: TickStats, target_hz: float) -> str:
    """One line like LeRobot's CycleTimer summary: rate against target, ticks over budget, headroom."""
    if stats.window_ticks < 2:
        return f"{stats.ticks} ticks, too few to measure a rate"
    return (f"{stats.effective_hz:.2f} Hz vs {target_hz:g} Hz target, {stats.over_budget}/{stats.window_ticks} ticks "
            f"over the {1e3 / target_hz:.1f} ms budget, headroom {stats.headroom_pct:.0f} %")


class Ticker:
    """Calls `on_tick(tick, missed)` once per period at absolute deadlines until `stop` is set.

    `tick` is the deadline's number on the grid, from 0, missed deadlines included (wall ticks);
    `missed` is how many deadlines were skipped just before this one (0 when on time), so
    `tick - missed` is the tick after the last one that ran.
    """

    def __init__(self, rate_hz: float, window_ticks: int,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, name: str | None = None) -> None:
        if not (math.isfinite(rate_hz) and rate_hz > 0):
            raise ValueError(f"rate_hz must be a positive finite number, got {rate_hz}")
        if window_ticks < 1:
            raise ValueError(f"window_ticks must be >= 1, got {window_ticks}")
        self.period = 1.0 / rate_hz
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._window = np.zeros(window_ticks)
        self._woke = np.zeros(window_ticks)  # clock at each tick's wake-up
        self._work = np.zeros(window_ticks)  # seconds each tick's on_tick took
        self._ticks = 0  # executed
        self._missed = 0
        self._max = 0.0
        self._name = name
        self._lateness_name = f"{name}.lateness" if name else None

    def run(self, on_tick: Callable[[int, int], None], stop: threading.Event) -> None:
        deadline = self._clock() + self.period
        while not stop.is_set():
            remaining = deadline - self._clock()
            if remaining > 0:
                self._sleep(remaining)
            woke = self._clock()
            lateness = woke - deadline
            skipped = int(lateness // self.period) if lateness >= self.period else 0
            tick = self._record(lateness, skipped, woke)
            if self._name:
                record_timing(self._lateness_name, lateness)
                with profile_section(self._name):
                    on_tick(tick, skipped)
            else:
                on_tick(tick, skipped)
            self._record_work(self._clock() - woke)
            deadline += (skipped + 1) * self.period

    def _record(self, lateness: float, skipped: int, woke: float) -> int:
        with self._lock:
            slot = self._ticks % len(self._window)
            self._window[slot] = lateness
            self._woke[slot] = woke
            self._work[slot] = 0.0
            self._ticks += 1
            self._missed += skipped
            self._max = max(self._max, lateness)
            return self._ticks + self._missed - 1

    def _record_work(self, seconds: float) -> None:
        with self._lock:
            self._work[(self._ticks - 1) % len(self._window)] = seconds

    def stats(self) -> TickStats:
        """A consistent snapshot; safe to call from any thread."""
        with self._lock:
            count = min(self._ticks, len(self._window))
            recent = self._window[:count].copy()
            woke, work = self._woke[:count].copy(), self._work[:count].copy()
            ticks, missed, run_max = self._ticks, self._missed, self._max
        if count == 0:
            return TickStats(0, 0, 0, 0.0, 0.0, 0.0, 0.0)
        p50, p99 = np.percentile(recent, [50.0, 99.0]) * 1e3
        span = woke.max() - woke.min()
        return TickStats(ticks, missed, count, float(p50), float(p99), float(recent.max()) * 1e3, run_max * 1e3,
                         effective_hz=(count - 1) / span if span > 0 else math.nan,
                         over_budget=int(np.count_nonzero(work > self.period)),
                         headroom_pct=100.0 * (1.0 - float(work.mean()) / self.period))
