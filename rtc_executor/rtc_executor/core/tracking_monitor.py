"""Tracking error: does the arm go where the executor sends it?

Like joint_trajectory_controller's path tolerance (`constraints.<joint>.trajectory`), per joint:
the measured position (the followed driver's /joint_states) against the executor's latest command.
An error above `tolerance` on any joint for longer than `violation_s` (a blocked or stuck joint, a
driver that stopped following, a servo off the bus) is a fault: the executor holds (stops
consuming rows and commands the position it last sent; the driver's gate bounds the rest) and
reports ERROR until it restarts. Shorter excursions (the servo's lag behind a fast command) only
count. A joint whose tolerance is inf is not monitored (a gripper closed on an object never
reaches its command). No rclpy.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np


class TrackingFault(NamedTuple):
    joint: str
    error: float  # rad, measured minus commanded
    tolerance: float  # rad
    duration_s: float  # how long the tolerance had been exceeded


class TrackingMonitor:
    def __init__(self, joints: Sequence[str], tolerance: Sequence[float], violation_s: float) -> None:
        self.joints = tuple(joints)
        tol = np.asarray(tolerance, dtype=np.float64).ravel()
        if tol.size == 1:
            tol = np.full(len(self.joints), tol[0])
        if tol.size != len(self.joints) or np.isnan(tol).any() or (tol <= 0).any():
            raise ValueError(f"tracking_tolerance must be one positive value or one per joint "
                             f"({len(self.joints)}), got {list(tolerance)}")
        if not (np.isfinite(violation_s) and violation_s >= 0.0):
            raise ValueError(f"tracking_violation_s must be finite and >= 0, got {violation_s}")
        self.tolerance = tol
        self.violation_s = float(violation_s)
        self.enabled = bool(np.isfinite(tol).any())
        self._since: float | None = None  # when the tolerance was first exceeded, while it is
        self.fault: TrackingFault | None = None  # latched: the first sustained violation
        self.max_error = np.zeros(len(self.joints))  # largest |error| per joint since start
        self.violations = 0  # samples over the tolerance

    def check(self, commanded: np.ndarray | None, measured: np.ndarray, now_s: float) -> TrackingFault | None:
        """One measurement (`now_s`: a monotonic clock, s) against the latest command (None: nothing
        commanded yet). The fault, once the violation has lasted violation_s (then latched)."""
        if self.fault is not None or commanded is None or not self.enabled:
            return self.fault
        error = np.asarray(measured, dtype=np.float64) - np.asarray(commanded, dtype=np.float64)
        if not np.isfinite(error).all():
            raise ValueError("tracking: measured or commanded position is not finite")
        size = np.abs(error)
        self.max_error = np.maximum(self.max_error, size)
        over = size > self.tolerance
        if not over.any():
            self._since = None
            return None
        self.violations += 1
        if self._since is None:
            self._since = now_s
        duration = now_s - self._since
        if duration >= self.violation_s:
            worst = int(np.argmax(np.where(over, size - self.tolerance, -np.inf)))
            self.fault = TrackingFault(self.joints[worst], float(error[worst]), float(self.tolerance[worst]), duration)
        return self.fault
