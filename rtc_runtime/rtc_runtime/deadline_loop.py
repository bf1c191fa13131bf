"""A control loop that ticks at a fixed rate by sleeping to absolute monotonic deadlines.

Deadlines sit on a fixed grid (start + k * period), so lateness never accumulates into drift. A tick
that wakes a whole period or more late does not run the passed deadlines in a burst (that would send
the arm a burst of commands); they are counted as missed, the next tick is told how many it follows
(so a caller that counts wall ticks, like the executor's step, stays on the wall clock after a stall),
and the loop rejoins the grid. Lateness (wake
time minus deadline) is kept for the last `window_ticks` ticks for percentiles, and over the whole run
for the maximum. No rclpy import: the executor and the driver run this in their control threads.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from collections.abc import Callable

import numpy as np


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


class Ticker:
    """Calls `on_tick(tick, missed)` once per period at absolute deadlines until `stop` is set.

    `tick` is the deadline's number on the grid, from 0, missed deadlines included (wall ticks);
    `missed` is how many deadlines were skipped just before this one (0 when on time), so
    `tick - missed` is the tick after the last one that ran.
    """

    def __init__(self, rate_hz: float, window_ticks: int,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not (math.isfinite(rate_hz) and rate_hz > 0):
            raise ValueError(f"rate_hz must be a positive finite number, got {rate_hz}")
        if window_ticks < 1:
            raise ValueError(f"window_ticks must be >= 1, got {window_ticks}")
        self.period = 1.0 / rate_hz
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._window = np.zeros(window_ticks)
        self._ticks = 0  # executed
        self._missed = 0
        self._max = 0.0

    def run(self, on_tick: Callable[[int, int], None], stop: threading.Event) -> None:
        deadline = self._clock() + self.period
        while not stop.is_set():
            remaining = deadline - self._clock()
            if remaining > 0:
                self._sleep(remaining)
            lateness = self._clock() - deadline
            skipped = int(lateness // self.period) if lateness >= self.period else 0
            tick = self._record(lateness, skipped)
            on_tick(tick, skipped)
            deadline += (skipped + 1) * self.period

    def _record(self, lateness: float, skipped: int) -> int:
        with self._lock:
            self._window[self._ticks % len(self._window)] = lateness
            self._ticks += 1
            self._missed += skipped
            self._max = max(self._max, lateness)
            return self._ticks + self._missed - 1

    def stats(self) -> TickStats:
        """A consistent snapshot; safe to call from any thread."""
        with self._lock:
            count = min(self._ticks, len(self._window))
            recent = self._window[:count].copy()
            ticks, missed, run_max = self._ticks, self._missed, self._max
        if count == 0:
            return TickStats(0, 0, 0, 0.0, 0.0, 0.0, 0.0)
        p50, p99 = np.percentile(recent, [50.0, 99.0]) * 1e3
        return TickStats(ticks, missed, count, float(p50), float(p99),
                         float(recent.max()) * 1e3, run_max * 1e3)
