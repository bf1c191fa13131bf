"""The command guard: every position the executor commands stays inside the arm's envelope.

The envelope, per joint, for a sequence of commands q_0, q_1, ... one control tick (dt) apart:

- position: ``lower <= q_k <= upper`` (radians);
- step: ``|q_k - q_{k-1}| <= max_step = max_velocity * dt`` (the velocity bound, per tick);
- acceleration: with ``s_k = q_k - q_{k-1}``, ``s_k`` lies between ``s_{k-1} - A`` and
  ``s_{k-1} + A`` (``A = max_acceleration * dt**2``), or between ``s_{k-1}`` and 0: speeding up and
  reversing are bounded, slowing down toward rest is not (holding is always allowed).

`CommandGuard.apply` turns any target (a queued row, or None to hold) into the nearest command
inside the envelope, so nothing beyond it can be emitted whatever the chunks, seams, underruns or
stalls before. 0 is inside every bound, so a command always exists once the reference position
is inside the limits (`reset` puts it there). `check_chunk` and `check_seam` judge a chunk at
merge time: rows beyond the limits or steps beyond max_step by more than `tolerance`, or a first
row farther than `max_seam` from the command before it, reject the chunk whole (reasons `limits`,
`step`); smaller excesses are clamped by `apply` and counted. With interpolated control the
commands are `interpolation` per chunk row: dt is the command period (the policy's divided by
`interpolation`), so the bounds per second stay the same, and a chunk's rows, one policy tick apart,
are checked against `interpolation` times max_step. With `speed_scale` s < 1 the executor plays the
rows over a time base stretched by 1/s (rows interpolation / s commands apart), and both the velocity
and the acceleration bounds are multiplied by s. Velocity: a chunk's motion slowed by s. Acceleration:
a smooth motion slowed by s needs only s**2 of it, but played row by row a change of velocity lands
at a row (in one command with linear interpolation): the change of step there is s times the
full-speed one. With s, a chunk inside the full-speed envelope is inside the slowed one in any
interpolation mode: slower, never clipped. numpy only, no rclpy.
"""
from __future__ import annotations

import math
import threading
from collections import Counter
from dataclasses import dataclass
from typing import NamedTuple
from collections.abc import Sequence

import numpy as np

from rtc_contract.rejections import RejectionCode

# what a refusal or a clamp names (rtc_contract.rejections): a position outside [lower, upper], a step
# beyond max_step (inside a chunk, or at the seam with the last command)
LIMITS, STEP = RejectionCode.LIMITS, RejectionCode.STEP
ACCELERATION = "acceleration"  # a change of step beyond the acceleration bound (clamped only)
# Float slack of the envelope check: clamped values sit exactly on a bound, up to rounding.
ENVELOPE_EPS = 1e-9


def per_joint(name: str, values: Sequence[float], joints: int, default: float) -> np.ndarray:
    """A per-joint parameter: empty = `default` for every joint, one value = for every joint, or
    one value per joint; anything else (or NaN) is a ValueError naming the parameter."""
    array = np.asarray(list(values) if len(values) else [default], dtype=np.float64)
    if array.size == 1:
        array = np.full(joints, array[0])
    if array.size != joints:
        raise ValueError(f"{name} needs one value or one per joint ({joints}), got {array.size}")
    if np.isnan(array).any():
        raise ValueError(f"{name} contains NaN: {array.tolist()}")
    return array


@dataclass(frozen=True)
class GuardLimits:
    """The envelope in the executor's joint order: radians, radians per tick, per tick squared."""

    lower: np.ndarray
    upper: np.ndarray
    max_step: np.ndarray  # rad per tick (max_velocity * dt)
    max_step_change: np.ndarray  # rad per tick per tick (max_acceleration * dt**2)
    tolerance: float  # rad: excess over a bound that a chunk may have and still be clamped
    max_seam: float  # rad: farthest a chunk's first row may be from the command before it
    interpolation: float = 1  # commands per chunk row (dt above is the command period), / speed_scale

    @classmethod
    def from_parameters(cls, joints: int, rate_hz: float, lower: Sequence[float] = (),
                        upper: Sequence[float] = (), max_velocity: Sequence[float] = (),
                        max_acceleration: Sequence[float] = (), tolerance: float = 0.05,
                        max_seam: float = 0.3, interpolation: int = 1, speed_scale: float = 1.0) -> GuardLimits:
        """From the executor's parameters (units as in docs/safety.md); empty limits = unbounded.
        `rate_hz` is the command rate: the policy rate times `interpolation`; `speed_scale` in (0, 1]
        scales the velocity and acceleration bounds (see the module docstring)."""
        dt = 1.0 / rate_hz
        low = per_joint("position_lower_limits", lower, joints, -math.inf)
        high = per_joint("position_upper_limits", upper, joints, math.inf)
        velocity = per_joint("max_velocity", max_velocity, joints, math.inf)
        acceleration = per_joint("max_acceleration", max_acceleration, joints, math.inf)
        if (low > high).any():
            bad = np.flatnonzero(low > high).tolist()
            raise ValueError(f"position_lower_limits above position_upper_limits for joints {bad}")
        if (velocity <= 0).any() or (acceleration <= 0).any():
            raise ValueError("max_velocity and max_acceleration must be positive")
        if not (tolerance >= 0 and max_seam >= 0):
            raise ValueError(f"guard_tolerance and guard_max_seam must be >= 0, got {tolerance}, {max_seam}")
        if isinstance(interpolation, bool) or int(interpolation) != interpolation or interpolation < 1:
            raise ValueError(f"interpolation must be an integer >= 1, got {interpolation!r}")
        if isinstance(speed_scale, bool) or not 0.0 < speed_scale <= 1.0:
            raise ValueError(f"speed_scale must be in (0, 1], got {speed_scale!r}")
        s = float(speed_scale)
        return cls(low, high, velocity * s * dt, acceleration * s * dt * dt, float(tolerance), float(max_seam),
                   int(interpolation) / s)

    def violations(self, commands: np.ndarray, previous: np.ndarray | None = None,
                   previous_step: np.ndarray | None = None) -> np.ndarray:
        """Per row of `commands` (T, joints): True where it leaves the envelope. `previous` and
        `previous_step` are the command and step before row 0, when known; the acceleration bound
        is checked only where the step before is known."""
        q = np.atleast_2d(np.asarray(commands, dtype=np.float64))
        bad = ((q < self.lower - ENVELOPE_EPS) | (q > self.upper + ENVELOPE_EPS)).any(axis=1)
        before = q[:-1] if previous is None else np.vstack([previous, q[:-1]])
        steps = q[1:] - before if previous is None else q - before
        offset = 1 if previous is None else 0
        bad[offset:] |= (np.abs(steps) > self.max_step + ENVELOPE_EPS).any(axis=1)
        if previous_step is not None:
            steps = np.vstack([previous_step, steps])
            offset -= 1
        if len(steps) >= 2:
            bad[offset + 1:] |= (~_within_step_change(steps[:-1], steps[1:], self.max_step_change)).any(axis=1)
        return bad


def _within_step_change(step_before: np.ndarray, step: np.ndarray, change: np.ndarray) -> np.ndarray:
    low = np.minimum(step_before - change, np.minimum(step_before, 0.0))
    high = np.maximum(step_before + change, np.maximum(step_before, 0.0))
    return (step >= low - ENVELOPE_EPS) & (step <= high + ENVELOPE_EPS)


class GuardedCommand(NamedTuple):
    command: np.ndarray
    clamped_by: tuple[str, ...]  # bounds that moved the target (empty: commanded as is)


class CommandGuard:
    """Keeps the last command and step; thread-safe (merges check, the control thread applies)."""

    def __init__(self, limits: GuardLimits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._last: np.ndarray | None = None
        self._last_step = np.zeros_like(limits.lower)
        self.clamped: Counter[str] = Counter()  # ticks clamped, by bound
        self.clamped_ticks = 0

    @property
    def ready(self) -> bool:
        with self._lock:
            return self._last is not None

    @property
    def last_command(self) -> np.ndarray | None:
        with self._lock:
            return None if self._last is None else self._last.copy()

    def reset(self, position: np.ndarray) -> np.ndarray:
        """Start from a measured position (brought inside the limits), at rest; returns it."""
        with self._lock:
            self._last = np.clip(np.asarray(position, dtype=np.float64), self.limits.lower, self.limits.upper)
            self._last_step = np.zeros_like(self._last)
            return self._last.copy()

    def apply(self, target: np.ndarray | None) -> GuardedCommand:
        """The command for this tick: `target` (None: hold the last command) moved into the envelope."""
        lim = self.limits
        with self._lock:
            if self._last is None:
                raise RuntimeError("CommandGuard.apply before reset: no position to start from")
            last, step_before = self._last, self._last_step
            wanted = last if target is None else np.asarray(target, dtype=np.float64)
            inside = np.clip(wanted, lim.lower, lim.upper)
            step = inside - last
            low = np.maximum(-lim.max_step, np.minimum(step_before - lim.max_step_change,
                                                       np.minimum(step_before, 0.0)))
            high = np.minimum(lim.max_step, np.maximum(step_before + lim.max_step_change,
                                                       np.maximum(step_before, 0.0)))
            bounded = np.clip(step, low, high)
            command = last + bounded
            # Rounding of last + step must not leave the limits.
            command = np.clip(command, lim.lower, lim.upper)
            clamped_by = []
            if (inside != wanted).any():
                clamped_by.append(LIMITS)
            if (bounded != step).any():
                at_step = np.isclose(np.abs(bounded), lim.max_step) & (bounded != step)
                clamped_by.append(STEP if at_step.any() else ACCELERATION)
            self._last_step = command - last
            self._last = command
            if clamped_by:
                self.clamped_ticks += 1
                self.clamped.update(clamped_by)
            return GuardedCommand(command.copy(), tuple(clamped_by))

    def check_chunk(self, rows: np.ndarray) -> tuple[str, str] | None:
        """(reason, detail) if the chunk's own rows break the envelope by more than the tolerance."""
        lim = self.limits
        rows = np.asarray(rows, dtype=np.float64)
        excess = np.maximum(lim.lower - rows, rows - lim.upper)
        if (excess > lim.tolerance).any():
            row, joint = np.argwhere(excess > lim.tolerance)[0]
            return LIMITS, (f"row {row} joint {joint}: {rows[row, joint]:.4g} rad is outside "
                            f"[{lim.lower[joint]:.4g}, {lim.upper[joint]:.4g}] by {excess[row, joint]:.4g} rad")
        steps = np.abs(np.diff(rows, axis=0))
        max_row_step = lim.max_step * lim.interpolation
        over = steps - max_row_step
        if (over > lim.tolerance).any():
            row, joint = np.argwhere(over > lim.tolerance)[0]
            return STEP, (f"rows {row}->{row + 1} joint {joint}: step {steps[row, joint]:.4g} rad > "
                          f"max {max_row_step[joint]:.4g} rad per policy tick")
        return None

    def check_seam(self, first_row: np.ndarray, previous_row: np.ndarray | None) -> str | None:
        """Detail if the first row a chunk will play is farther than `max_seam` from the row before
        it (`previous_row`, or the last command when None); None when acceptable."""
        with self._lock:
            before = self._last if previous_row is None else np.asarray(previous_row, dtype=np.float64)
        if before is None:
            return None
        gap = np.abs(np.asarray(first_row, dtype=np.float64) - before)
        if (gap > self.limits.max_seam).any():
            joint = int(np.argmax(gap))
            return (f"first row is {gap[joint]:.4g} rad from the command before it on joint {joint} "
                    f"(max seam {self.limits.max_seam:.4g} rad)")
        return None

    def counters(self) -> tuple[int, dict[str, int]]:
        with self._lock:
            return self.clamped_ticks, dict(self.clamped)
