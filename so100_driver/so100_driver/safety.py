"""Command gate: turns the latest commanded joint targets into a safe goal for one cycle.

Rules, applied every cycle in this order:

1. The first goal after (re)arming is the present position, whatever was commanded: no jump
   at torque-on.
2. Per joint, a target older than ``command_timeout_s`` is ignored and the joint holds its last
   goal.
3. A fresh target is clamped to the calibrated joint limits, then to
   ``present +/- max_relative_target`` (LeRobot's ``max_relative_target`` rule, in radians).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from collections.abc import Mapping

from .arm import JOINT_NAMES, Calibration


class CommandError(ValueError):
    """A command message was rejected; the message says why (unknown joint, NaN, sizes)."""


@dataclass
class GateStats:
    commands_accepted: int = 0
    commands_rejected: int = 0
    clipped_goals: int = 0
    stale_commands: int = 0
    last_rejection: str = ""


class CommandGate:
    """Thread-safe: commands arrive on the ROS executor thread, goals are taken on the control thread."""

    def __init__(self, calibration: Calibration, max_relative_target: float, command_timeout_s: float):
        if command_timeout_s <= 0:
            raise ValueError(f"command_timeout_s must be positive, got {command_timeout_s}")
        self._limits = {j: calibration.limits_radians(j) for j in JOINT_NAMES}
        self.max_relative_target = max_relative_target
        self.command_timeout_s = command_timeout_s
        self.stats = GateStats()
        self._lock = threading.Lock()
        self._targets: dict[str, tuple[float, float]] = {}
        self._last_goal: dict[str, float] | None = None

    def set_targets(self, names: list[str] | tuple[str, ...], positions: list[float], received_at: float) -> None:
        """Accept targets by joint name (radians); a bad message is rejected whole."""
        try:
            if len(names) != len(positions):
                raise CommandError(f"{len(names)} joint names but {len(positions)} positions")
            unknown = [n for n in names if n not in self._limits]
            if unknown:
                raise CommandError(f"unknown joint name(s) {unknown}; expected names from {list(JOINT_NAMES)}")
            if len(set(names)) != len(names):
                raise CommandError(f"duplicate joint names in {list(names)}")
            bad = [n for n, p in zip(names, positions) if not math.isfinite(p)]
            if bad:
                raise CommandError(f"non-finite position for joint(s) {bad}")
        except CommandError as exc:
            with self._lock:
                self.stats.commands_rejected += 1
                self.stats.last_rejection = str(exc)
            raise
        with self._lock:
            self.stats.commands_accepted += 1
            for name, position in zip(names, positions):
                self._targets[name] = (float(position), received_at)

    def set_array(self, values: list[float], received_at: float) -> None:
        """Targets as an array in ``JOINT_NAMES`` order (ros2_control forward-controller style)."""
        if len(values) != len(JOINT_NAMES):
            with self._lock:
                self.stats.commands_rejected += 1
                self.stats.last_rejection = f"array has {len(values)} values, expected {len(JOINT_NAMES)}"
            raise CommandError(self.stats.last_rejection + f" in the order {list(JOINT_NAMES)}")
        self.set_targets(JOINT_NAMES, list(values), received_at)

    def rearm(self) -> None:
        """Forget targets and goals: the next goal is the present position (call at torque-on)."""
        with self._lock:
            self._targets.clear()
            self._last_goal = None

    def goal(self, present: Mapping[str, float], now: float) -> dict[str, float]:
        with self._lock:
            if self._last_goal is None:
                self._last_goal = {j: present[j] for j in JOINT_NAMES}
                return dict(self._last_goal)
            goal: dict[str, float] = {}
            for joint in JOINT_NAMES:
                target = self._targets.get(joint)
                if target is None:
                    goal[joint] = self._last_goal[joint]
                    continue
                value, received_at = target
                if now - received_at > self.command_timeout_s:
                    self.stats.stale_commands += 1
                    del self._targets[joint]
                    goal[joint] = self._last_goal[joint]
                    continue
                lower, upper = self._limits[joint]
                safe = min(upper, max(lower, value))
                if self.max_relative_target > 0:
                    step = self.max_relative_target
                    safe = min(present[joint] + step, max(present[joint] - step, safe))
                if safe != value:
                    self.stats.clipped_goals += 1
                goal[joint] = safe
            self._last_goal = goal
            return dict(goal)
