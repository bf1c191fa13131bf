"""Whether a world stepped by the wall clock keeps pace with it.

A started bus emulator brings its world up to the wall clock on every transaction. A world slower
than real time would need ever longer calls to catch up; instead one call simulates at most
`max_catch_up_s`, and the rest of the wall time is dropped (the world falls behind). Over each report
period this counts the real-time factor (simulated s per wall s: 1 when keeping pace), the physics
speed (simulated s per second of computing: the headroom), and the lag: how far the world's state was
behind the wall clock when a call returned (its computing time plus any time dropped), worst of the
period. No rclpy: the twin node puts these on /diagnostics.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class PacingReport:
    real_time_factor: float
    physics_speed: float
    max_lag_s: float
    dropped_s: float


class WallClockPacing:
    def __init__(self, max_catch_up_s: float = 0.1) -> None:
        self.max_catch_up_s = max_catch_up_s
        self._lock = threading.Lock()
        self._start_period(time.monotonic())
        self._pending_drop = 0.0

    def _start_period(self, now: float) -> None:
        self._period_start = now
        self._simulated = self._computing = self._dropped = self._max_lag = 0.0

    def due(self, wall_dt: float) -> float:
        """The simulated time to advance for `wall_dt` of wall clock (capped: the rest is dropped)."""
        dt = min(max(wall_dt, 0.0), self.max_catch_up_s)
        self._pending_drop = max(wall_dt - dt, 0.0)
        return dt

    def advanced(self, simulated_s: float, computing_s: float) -> None:
        with self._lock:
            self._simulated += simulated_s
            self._computing += computing_s
            self._dropped += self._pending_drop
            self._max_lag = max(self._max_lag, computing_s + self._pending_drop)

    def report(self) -> PacingReport:
        """The figures since the last report, and a new period."""
        now = time.monotonic()
        with self._lock:
            wall = max(now - self._period_start, 1e-9)
            report = PacingReport(real_time_factor=self._simulated / wall,
                                  physics_speed=self._simulated / self._computing if self._computing else float("inf"),
                                  max_lag_s=self._max_lag, dropped_s=self._dropped)
            self._start_period(now)
        return report
