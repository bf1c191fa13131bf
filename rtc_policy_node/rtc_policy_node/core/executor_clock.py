"""The executor's tick now, estimated by the policy node from when its statuses arrived.

An ExecutorStatus says which tick comes next (`step`), but it can arrive late: delivery stalls of
100-200 ms were measured at start-up (DDS discovery, a full GC before spinning), after which the
queued statuses arrive in one burst. A chunk whose `source_step` is taken from such a stale status
promises a delay it cannot keep (d_real = step_now - source_step counts the staleness too).

Only the local monotonic clock is used (the executor may run on another host). A status for tick k
arrives at k * T + offset + delivery delay, with delay >= 0, so the smallest `arrival - k * T` over a
recent window is the offset plus the smallest delay seen; late or bunched statuses do not move it.
The window is short so that the estimate follows when the executor misses a deadline (its tick
numbers then fall one period behind the time grid) or restarts.
"""

from __future__ import annotations

import math
from collections import deque


class ExecutorClock:
    """`observe(step, period_s, arrival_s)` per status; `step_at(now_s)` is the executor's tick now."""

    def __init__(self, window_s: float = 1.0) -> None:
        if not (math.isfinite(window_s) and window_s > 0):
            raise ValueError(f"window_s must be positive, got {window_s!r}")
        self.window_s = float(window_s)
        self._period_s: float | None = None
        self._last_step = -1
        # (arrival_s, offset_s) with increasing offsets: the front is the window's minimum.
        self._offsets: deque[tuple[float, float]] = deque()

    def observe(self, step: int, period_s: float, arrival_s: float) -> None:
        """One status: its `step`, the executor's control period and its local arrival time."""
        if not (math.isfinite(period_s) and period_s > 0):
            raise ValueError(f"period_s must be positive, got {period_s!r}")
        if period_s != self._period_s or step < self._last_step:  # new rate, or a restarted executor
            self._offsets.clear()
            self._period_s = float(period_s)
        self._last_step = int(step)
        offset = arrival_s - step * period_s
        while self._offsets and self._offsets[-1][1] >= offset:
            self._offsets.pop()
        self._offsets.append((arrival_s, offset))
        while self._offsets[0][0] < arrival_s - self.window_s:
            self._offsets.popleft()

    def step_at(self, now_s: float) -> int | None:
        """The tick the executor serves next at local time `now_s`; never before the last status's
        step. None before any status."""
        if not self._offsets:
            return None
        offset = self._offsets[0][1]
        # The status for tick k is sent after tick k - 1 ran, so tick k is next until (k + 1) * T.
        estimate = math.floor((now_s - offset) / self._period_s + 1e-9)
        return max(self._last_step, estimate)

    def time_of(self, step: int) -> float | None:
        """Local time at which the executor moves on to tick `step` (its status for `step` arrives
        then at the earliest). None before any status."""
        if not self._offsets:
            return None
        return self._offsets[0][1] + step * self._period_s
