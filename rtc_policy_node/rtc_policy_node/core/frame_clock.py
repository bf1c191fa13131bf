"""When to start an inference so that its camera image is fresh: at a frame's arrival, not between frames.

The executor asks for a chunk when `remaining` falls to `trigger_remaining`, on its own tick grid.
Camera frames arrive on another grid (30 fps, say), so an inference started at the trigger finds the
newest frame half a frame period old on average, and that age is part of every chunk's
observation -> chunk latency (measured on the simulated graph: ~17 ms of it, docs/profiling.md).
Starting instead at the arrival of the last frame before the trigger removes that wait: the chunk
is sampled from an image that is only as old as the camera's own latency, and the inference starts
at most one frame period early (the executor then has a tick or two more of leftover, never fewer).

`FrameClock` learns the frame period from arrivals (the median of recent intervals, so one late
frame does not move it); `starts_at_this_frame` is the decision. If frames stop, the trigger still
fires on the executor's ticks as before.
"""

from __future__ import annotations

import math
import statistics
from collections import deque


class FrameClock:
    """`observe(arrival_s)` per frame of one camera; `next_arrival()` is when the next is expected."""

    def __init__(self, intervals: int = 15) -> None:
        if intervals < 1:
            raise ValueError(f"intervals must be >= 1, got {intervals}")
        self._intervals: deque[float] = deque(maxlen=intervals)
        self.last_arrival_s: float | None = None

    def observe(self, arrival_s: float) -> None:
        if self.last_arrival_s is not None and arrival_s > self.last_arrival_s:
            self._intervals.append(arrival_s - self.last_arrival_s)
        self.last_arrival_s = arrival_s

    @property
    def period_s(self) -> float | None:
        return statistics.median(self._intervals) if self._intervals else None

    def next_arrival(self) -> float | None:
        """Expected arrival of the frame after the last one, None until two frames were seen."""
        period = self.period_s
        return None if period is None or self.last_arrival_s is None else self.last_arrival_s + period


def starts_at_this_frame(remaining_ticks: int, trigger_remaining: int, trigger_at_s: float | None,
                         next_frame_s: float | None) -> bool:
    """Whether an inference should start now, at a frame that just arrived: the executor is at the
    trigger (`remaining_ticks` down to `trigger_remaining`), or reaches it at `trigger_at_s` (its
    tick grid: the status of the triggering tick, not now plus whole ticks, which overshoots by up to a
    tick) before the next frame arrives at `next_frame_s`. Unknown timing (None): no early start."""
    if remaining_ticks <= trigger_remaining:
        return True
    if trigger_at_s is None or next_frame_s is None or not math.isfinite(next_frame_s):
        return False
    return trigger_at_s < next_frame_s
