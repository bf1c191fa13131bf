"""Interpolated control: the commands between two policy rows when the executor ticks N times faster.

A policy's chunk has one row per policy tick (its training rate); with `interpolation` N the
executor ticks N times per policy tick and sub-tick k in [0, N) of the segment from row i to row i+1
commands a point between them, at fraction u = k / N. k = 0 is row i itself, so N = 1 is plain
row-by-row playback.

- `linear`: (1 - u) * p_i + u * p_{i+1}, as LeRobot's ActionInterpolator does. Its velocity jumps
  at every row.
- `hermite`: a cubic Hermite segment with Catmull-Rom tangents m_i = (p_{i+1} - p_{i-1}) / 2 (per
  row). The tangent at a row depends only on its two neighbours, so the segment ending at row i+1
  and the one starting there share it: velocity is continuous across rows. The rows are what the
  executor actually played (p_{i-1}, p_i) and what is queued now (p_{i+1}, p_{i+2}), so across a
  seam where a new chunk was merged the tangent uses the new chunk's rows on both sides of the row.
  A missing neighbour (start, underrun, end of the queue) stands in as the row itself (a one-sided
  tangent); with no row to go to, the command stays on the segment's first row.

Pure numpy, no rclpy; the executor core calls `command` once per sub-tick.
"""
from __future__ import annotations

from enum import Enum

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


class Interpolator:
    """`command(before, start, end, after, k)`: the command of sub-tick k between rows `start` and
    `end`; `before` / `after` are the rows around them, None where there is none."""

    def __init__(self, factor: int, mode: InterpolationMode | str = InterpolationMode.HERMITE) -> None:
        self.factor = check_interpolation(factor)
        self.mode = interpolation_mode(mode)

    def command(self, before: np.ndarray | None, start: np.ndarray, end: np.ndarray | None,
                after: np.ndarray | None, k: int) -> np.ndarray:
        if not 0 <= k < self.factor:
            raise ValueError(f"sub-tick k must be in [0, {self.factor}), got {k}")
        start = np.asarray(start, dtype=np.float64)
        if k == 0 or end is None:
            return start.copy()
        end = np.asarray(end, dtype=np.float64)
        u = k / self.factor
        if self.mode is InterpolationMode.LINEAR:
            return start + u * (end - start)
        before = start if before is None else np.asarray(before, dtype=np.float64)
        after = end if after is None else np.asarray(after, dtype=np.float64)
        m0 = (end - before) / 2.0
        m1 = (after - start) / 2.0
        u2, u3 = u * u, u * u * u
        return ((2 * u3 - 3 * u2 + 1) * start + (u3 - 2 * u2 + u) * m0
                + (-2 * u3 + 3 * u2) * end + (u3 - u2) * m1)
