"""The position the executor holds at start: measured, from the driver it follows, agreed over
several samples.

The guard starts from the hold position at rest and the driver moves the arm there, so a wrong one
(a spoofed /joint_states, a glitch of one read) would be a motion nobody planned. The node passes
only messages of the followed publisher (`rtc_contract.publisher_follower`); this agrees on
`samples` consecutive complete ones whose every joint stays within `tolerance` of the first of them.
One sample off (or incomplete, or not finite) starts the count again. No rclpy.
"""
from __future__ import annotations

import numpy as np


class HoldAgreement:
    def __init__(self, samples: int, tolerance: float) -> None:
        if samples < 1:
            raise ValueError(f"hold_samples must be >= 1, got {samples}")
        if not (np.isfinite(tolerance) and tolerance >= 0.0):
            raise ValueError(f"hold_tolerance must be finite and >= 0, got {tolerance}")
        self.samples = int(samples)
        self.tolerance = float(tolerance)
        self._first: np.ndarray | None = None
        self._count = 0
        self.restarts = 0  # samples that broke an agreement under way

    def offer(self, position: np.ndarray | None) -> np.ndarray | None:
        """One sample (None: incomplete); once `samples` consecutive ones agree, the first of them
        (every later one within tolerance of it), else None."""
        position = None if position is None else np.asarray(position, dtype=np.float64)
        if position is None or not np.isfinite(position).all():
            self._restart(None)
            return None
        if self._first is None or np.max(np.abs(position - self._first)) > self.tolerance:
            self._restart(position)
        else:
            self._count += 1
        if self._count >= self.samples:
            return self._first.copy()
        return None

    def _restart(self, position: np.ndarray | None) -> None:
        if self._count > 0:
            self.restarts += 1
        self._first = position
        self._count = 0 if position is None else 1

    @property
    def agreeing(self) -> int:
        """Consecutive samples agreeing so far."""
        return self._count
