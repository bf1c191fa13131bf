"""Sleeping to absolute deadlines, the way a fixed-rate control loop must (no drift, no bunching)."""

from __future__ import annotations

import time


class DeadlineClock:
    """Ticks every ``period_s`` on the monotonic clock.

    :meth:`wait` sleeps until the next deadline and returns how late it woke up. When a cycle
    overran past one or more later deadlines, those are skipped (and counted in ``missed``)
    instead of being run back to back.
    """

    def __init__(self, period_s: float, start: float | None = None):
        if period_s <= 0:
            raise ValueError(f"period must be positive, got {period_s}")
        self.period_s = period_s
        self.next_deadline = (time.monotonic() if start is None else start) + period_s
        self.ticks = 0
        self.missed = 0

    def wait(self) -> float:
        now = time.monotonic()
        if now > self.next_deadline + self.period_s:
            skipped = int((now - self.next_deadline) // self.period_s)
            self.missed += skipped
            self.next_deadline += skipped * self.period_s
        remaining = self.next_deadline - now
        if remaining > 0:
            time.sleep(remaining)
        lateness = time.monotonic() - self.next_deadline
        self.next_deadline += self.period_s
        self.ticks += 1
        return lateness
