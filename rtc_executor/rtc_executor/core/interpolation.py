"""Interpolated control: the commands between two policy rows when the executor ticks N times faster.

A policy's chunk has one row per policy tick (its training rate); with `interpolation` N the
executor ticks N times per policy tick. At each policy tick it pops a row and starts a segment
toward the next queued row; sub-tick k in [0, N) commands the segment's point at u = k / N. The
segment is fixed when it starts, so a chunk merged in the middle of it changes the next segment,
not this one (the trajectory never jumps mid-segment).

- `linear`: from the popped row to the next queued one, (1 - u) * p0 + u * p1, as LeRobot's
  ActionInterpolator does: rows are hit at k = 0, and velocity jumps at every row.
- `hermite`: a cubic Hermite segment, ending at the next queued row with the Catmull-Rom tangent
  (p_{i+2} - p_i) / 2 (per row, p_i the popped row), and starting where and how the previous segment ended (its end
  point and tangent). Velocity is therefore continuous across rows and across seams: when a merge
  changed the rows, the segment after it bends from the old path onto the new chunk's rows instead
  of jumping. Without merges it passes through every row at k = 0 (Catmull-Rom). After a hold
  (nothing queued) or missed ticks it starts from the popped row at rest.

Rows and tangents are in radians and radians per policy tick; pure numpy, no rclpy. The executor
core calls `start` once per policy tick and `command` once per sub-tick.
"""
from __future__ import annotations

from enum import Enum
from typing import NamedTuple

import numpy as np


class InterpolationMode(str, Enum):
    LINEAR = "linear"
    HERMITE = "hermite"


def interpolation_mode(mode: InterpolationMode | str) -> InterpolationMode:
    """The mode for a parameter value; a ValueError lists the valid ones."""
    try:
        return InterpolationMode(mode)
    except ValueError:
        valid = ", ".join(m.value for m in InterpolationMode)
        raise ValueError(f"unknown interpolation_mode {mode!r}; expected one of {valid}") from None


def check_interpolation(factor: int) -> int:
    """The sub-ticks per policy tick for a parameter value; a ValueError says what is allowed."""
    if isinstance(factor, bool) or int(factor) != factor or factor < 1:
        raise ValueError(f"interpolation must be an integer >= 1 (1 = off: one command per policy row), "
                         f"got {factor!r}")
    return int(factor)


class Segment(NamedTuple):
    """A cubic Hermite segment over one policy tick: end points and tangents (rad per policy tick)."""

    p0: np.ndarray
    m0: np.ndarray
    p1: np.ndarray
    m1: np.ndarray

    def at(self, u: float) -> np.ndarray:
        u2, u3 = u * u, u * u * u
        return ((2 * u3 - 3 * u2 + 1) * self.p0 + (u3 - 2 * u2 + u) * self.m0
                + (-2 * u3 + 3 * u2) * self.p1 + (u3 - u2) * self.m1)


class Interpolator:
    """`start(row, ahead, continuous)` at each policy tick, then `command(k)` for its sub-ticks."""

    def __init__(self, factor: int, mode: InterpolationMode | str = InterpolationMode.HERMITE) -> None:
        self.factor = check_interpolation(factor)
        self.mode = interpolation_mode(mode)
        self._segment: Segment | None = None

    def start(self, row: np.ndarray | None, ahead: np.ndarray, continuous: bool) -> None:
        """A policy tick popped `row` (None: underrun, hold) with `ahead` (the next queued rows, up to
        two) behind it; `continuous`: the tick right after a tick that also played a row."""
        if row is None:
            self._segment = None
            return
        row = np.asarray(row, dtype=np.float64)
        ahead = np.asarray(ahead, dtype=np.float64)
        rest = np.zeros_like(row)
        previous = self._segment if continuous else None
        if self.mode is InterpolationMode.LINEAR:
            p1 = ahead[0] if len(ahead) else row
            self._segment = Segment(row, p1 - row, p1, p1 - row)  # a straight line at constant speed
            return
        p0, m0 = (previous.p1, previous.m1) if previous is not None else (row, rest)
        if not len(ahead):
            self._segment = Segment(p0, m0, row, rest)  # nothing queued after: come to rest on the row
            return
        after = ahead[1] if len(ahead) > 1 else ahead[0]
        self._segment = Segment(p0, m0, ahead[0], (after - row) / 2.0)

    def command(self, k: int) -> np.ndarray | None:
        """The command of sub-tick k of the current segment; None while holding (no row popped)."""
        if not 0 <= k < self.factor:
            raise ValueError(f"sub-tick k must be in [0, {self.factor}), got {k}")
        return self.at(k / self.factor)

    def at(self, u: float) -> np.ndarray | None:
        """The current segment's point at u in [0, 1) of its row (a stretched time base, speed_scale,
        puts the sub-ticks at fractions other than k / factor); None while holding."""
        if self._segment is None:
            return None
        return self._segment.at(u)
