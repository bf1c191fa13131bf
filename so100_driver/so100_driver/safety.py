"""Command gate: turns the latest commanded joint targets into a safe goal for one cycle.

Rules, applied every cycle in this order:

1. The first goal after (re)arming is the present position, whatever was commanded: no jump
   at torque-on.
2. Per joint, a target older than ``command_timeout_s`` is ignored and the joint holds its last
   goal.
3. The first command of a stream (after arming, or after a silence of every joint) is rejected
   whole, not clamped, when any of its targets is farther than ``max_relative_target`` from the
   present position: whoever sends it does not know where the arm is.
4. A fresh target is clamped to the calibrated joint limits; then the goal moves toward it from the
   previous goal within `MotionLimits` (velocity and acceleration, as ros2_control's joint_limits);
   then it is clamped to ``present +/- max_relative_target`` (LeRobot's rule, in radians).

The watchdog: once every commanded joint has gone stale (the command stream stopped: the executor
died, stalled or lost the link) the arm holds its last goals; `GateStats` counts such silences and
`seconds_since_command` says for how long (the node parks the arm after a longer silence).

`ShutdownPolicy` is the controlled stop: hold with torque on, ramp to the rest pose (or stay) through
the gate's motion limits, then torque off or not (docs/safety.md).

`executor_guard_parameters` gives the executor's command guard the SO-100's envelope (the executor
itself knows no robot); `python -m so100_driver.safety CALIBRATION.json` prints it as the
`rtc_executor` lines of a parameter file.
"""

from __future__ import annotations

import math
import sys
import threading
from dataclasses import dataclass
from collections.abc import Mapping

from .arm import JOINT_NAMES, RADIANS_PER_TICK, Calibration

# The STS3215 at 7.4 V: no-load speed about 3000 ticks/s; the acceleration LeRobot configures
# (register value 254, in units of 100 ticks/s^2).
SERVO_MAX_VELOCITY = round(3000 * RADIANS_PER_TICK, 2)  # rad/s
SERVO_MAX_ACCELERATION = round(254 * 100 * RADIANS_PER_TICK, 1)  # rad/s^2


class CommandError(ValueError):
    """A command message was rejected; the message says why (unknown joint, NaN, sizes)."""


HOLD = "hold"  # rest_pose: stay where the arm is


@dataclass
class GateStats:
    commands_accepted: int = 0
    commands_rejected: int = 0
    first_commands_rejected: int = 0  # first commands of a stream too far from the present position
    commands_while_stopping: int = 0  # commands ignored during and after a controlled stop
    clipped_goals: int = 0
    motion_limited_goals: int = 0  # goals slowed by MotionLimits (a fast command spread over cycles)
    stale_commands: int = 0
    command_silences: int = 0  # times every commanded joint went stale: the arm held (watchdog)
    last_rejection: str = ""


@dataclass(frozen=True)
class MotionLimits:
    """The driver's own velocity and acceleration bounds on its goals, against the previous goal
    (ros2_control joint_limits' rule, with the executor guard's acceleration rule): per cycle of
    `period_s`, a step s_k = goal_k - goal_{k-1} has |s_k| <= max_velocity * period_s and stays within
    s_{k-1} +/- max_acceleration * period_s^2, or between s_{k-1} and 0 (stopping is always allowed).
    The defaults are the arm model's: the servos' speed and configured acceleration."""

    period_s: float
    max_velocity: float = SERVO_MAX_VELOCITY  # rad/s
    max_acceleration: float = SERVO_MAX_ACCELERATION  # rad/s^2

    def __post_init__(self) -> None:
        for name in ("period_s", "max_velocity", "max_acceleration"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise ValueError(f"{name} must be positive and finite, got {getattr(self, name)}")

    def step(self, wanted: float, previous_step: float) -> float:
        """The step toward `wanted` (target - previous goal) allowed after `previous_step`."""
        speed = self.max_velocity * self.period_s
        change = self.max_acceleration * self.period_s ** 2
        lower = max(-speed, min(previous_step - change, 0.0))
        upper = min(speed, max(previous_step + change, 0.0))
        return min(upper, max(lower, wanted))


@dataclass(frozen=True)
class ShutdownPolicy:
    """The controlled stop: hold `hold_s` with torque on, ramp to `pose` (the rest pose; None: stay)
    at `ramp_velocity`, then switch torque off if `torque_off` (else the servos keep holding while
    powered)."""

    hold_s: float = 1.0
    pose: dict[str, float] | None = None
    ramp_velocity: float = 0.5  # rad/s, per joint
    torque_off: bool = True

    @classmethod
    def from_parameters(cls, hold_s: float, pose: str, ramp_velocity: float, torque_off: bool,
                        calibration: Calibration) -> ShutdownPolicy:
        if not hold_s >= 0:
            raise ValueError(f"parameter shutdown_hold_s must be >= 0, got {hold_s}")
        if not ramp_velocity > 0:
            raise ValueError(f"parameter rest_velocity must be positive, got {ramp_velocity}")
        return cls(float(hold_s), parse_pose(pose, calibration), float(ramp_velocity), bool(torque_off))

    def ramp(self, start: Mapping[str, float], rate_hz: float) -> list[dict[str, float]]:
        """Goals, one per cycle, from `start` to the pose at `ramp_velocity` (all joints arrive
        together); empty with the "hold" pose."""
        if self.pose is None:
            return []
        target = {j: self.pose.get(j, start[j]) for j in JOINT_NAMES}
        distance = max(abs(target[j] - start[j]) for j in JOINT_NAMES)
        cycles = max(1, math.ceil(distance / self.ramp_velocity * rate_hz))
        return [{j: start[j] + (target[j] - start[j]) * (k / cycles) for j in JOINT_NAMES}
                for k in range(1, cycles + 1)]


def parse_pose(text: str, calibration: Calibration) -> dict[str, float] | None:
    """"hold", or "joint=radians, ..." for any subset of the joints (the others stay). A value
    outside [-pi, pi] is not radians (degrees, most likely): a ValueError names it. A value outside
    the joint's calibrated limits is brought to the nearest limit (`rest_pose_notes` says which), so
    the shipped folded pose fits every arm's calibration: as folded as that arm allows."""
    text = text.strip()
    if text == HOLD:
        return None
    pose: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in JOINT_NAMES:
            raise ValueError(f"parameter rest_pose: {item!r} is not joint=radians with a joint of "
                             f"{list(JOINT_NAMES)} (or use {HOLD!r})")
        try:
            radians = float(value)
        except ValueError:
            raise ValueError(f"parameter rest_pose: {value.strip()!r} for {name} is not a number") from None
        if not -math.pi <= radians <= math.pi:
            raise ValueError(f"parameter rest_pose: {name}={radians} is not an angle in radians "
                             f"(-pi..pi); degrees?")
        lower, upper = calibration.limits_radians(name)
        pose[name] = min(upper, max(lower, radians))
    if not pose:
        raise ValueError(f"parameter rest_pose is empty: give {HOLD!r} or joint=radians pairs")
    return pose


def rest_pose_notes(text: str, calibration: Calibration) -> list[str]:
    """One line per joint whose rest-pose value `parse_pose` brought to a calibrated limit."""
    pose = parse_pose(text, calibration) or {}
    given = {name.strip(): float(value) for name, _, value in
             (item.partition("=") for item in text.split(",") if "=" in item)}
    return [f"rest_pose: {name}={given[name]} is outside its calibrated limits; using {pose[name]:.4f} rad"
            for name in pose if pose[name] != given[name]]


class CommandGate:
    """Thread-safe: commands arrive on the ROS executor thread, goals are taken on the control thread."""

    def __init__(self, calibration: Calibration, max_relative_target: float, command_timeout_s: float,
                 motion: MotionLimits | None = None):
        if command_timeout_s <= 0:
            raise ValueError(f"command_timeout_s must be positive, got {command_timeout_s}")
        self._limits = {j: calibration.limits_radians(j) for j in JOINT_NAMES}
        self.max_relative_target = max_relative_target
        self.command_timeout_s = command_timeout_s
        self.motion = motion  # None: no velocity/acceleration bound (the shutdown tests' bare gate)
        self._steps = {j: 0.0 for j in JOINT_NAMES}  # last step of each goal
        self._first_pending = True  # the next fresh command starts a stream
        self._frozen = False  # a controlled stop runs: only the driver's own targets count
        self.stats = GateStats()
        self._lock = threading.Lock()
        self._targets: dict[str, tuple[float, float]] = {}
        self._last_goal: dict[str, float] | None = None
        self._last_command_at: float | None = None

    def set_targets(self, names: list[str] | tuple[str, ...], positions: list[float], received_at: float,
                    own: bool = False) -> None:
        """Accept targets by joint name (radians); a bad message is rejected whole. After `freeze()`
        only the driver's `own` targets (the ramp to the rest pose) are taken; commands are ignored."""
        if self._frozen and not own:
            with self._lock:
                self.stats.commands_while_stopping += 1
            return
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
            self._last_command_at = received_at
            for name, position in zip(names, positions):
                self._targets[name] = (float(position), received_at)

    def seconds_since_command(self, now: float) -> float | None:
        """Time since the last accepted command (None before the first)."""
        with self._lock:
            return None if self._last_command_at is None else now - self._last_command_at

    def set_array(self, values: list[float], received_at: float) -> None:
        """Targets as an array in ``JOINT_NAMES`` order (ros2_control forward-controller style)."""
        if len(values) != len(JOINT_NAMES):
            with self._lock:
                self.stats.commands_rejected += 1
                self.stats.last_rejection = f"array has {len(values)} values, expected {len(JOINT_NAMES)}"
            raise CommandError(self.stats.last_rejection + f" in the order {list(JOINT_NAMES)}")
        self.set_targets(JOINT_NAMES, list(values), received_at)

    @property
    def last_goal(self) -> dict[str, float] | None:
        with self._lock:
            return None if self._last_goal is None else dict(self._last_goal)

    def freeze(self) -> None:
        """Forget the commanded targets but keep the last goal: the arm holds where it is going, and
        only the driver's own targets (the ramp to the rest pose) follow, through the motion limits."""
        with self._lock:
            self._targets.clear()
            self._first_pending = False
            self._frozen = True

    def rearm(self) -> None:
        """Forget targets and goals: the next goal is the present position (call at torque-on)."""
        with self._lock:
            self._targets.clear()
            self._last_goal = None
            self._steps = dict.fromkeys(JOINT_NAMES, 0.0)
            self._first_pending = True
            self._frozen = False

    def _reject_far_first(self, present: Mapping[str, float]) -> None:
        """Rule 3: drop a stream's first command if it is far from the present position."""
        if not self._targets or self.max_relative_target <= 0:
            return
        far = {j: value - present[j] for j, (value, _) in self._targets.items()
               if abs(value - present[j]) > self.max_relative_target}
        if not far:
            self._first_pending = False
            return
        self._targets.clear()
        self.stats.first_commands_rejected += 1
        self.stats.last_rejection = ("first command of a stream too far from the present position: " + ", ".join(
            f"{j} {d:+.3f} rad" for j, d in far.items()) + f" (max_relative_target {self.max_relative_target} rad)")

    def goal(self, present: Mapping[str, float], now: float) -> dict[str, float]:
        with self._lock:
            if self._last_goal is None:
                self._last_goal = {j: present[j] for j in JOINT_NAMES}
                return dict(self._last_goal)
            if self._first_pending:
                self._reject_far_first(present)
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
                    if not self._targets:
                        self.stats.command_silences += 1
                        self._first_pending = True
                    goal[joint] = self._last_goal[joint]
                    continue
                lower, upper = self._limits[joint]
                safe = min(upper, max(lower, value))
                clipped = safe != value
                if self.motion is not None:
                    wanted = safe - self._last_goal[joint]
                    moved = self.motion.step(wanted, self._steps[joint])
                    if moved != wanted:
                        self.stats.motion_limited_goals += 1
                    safe = self._last_goal[joint] + moved
                if self.max_relative_target > 0:
                    step = self.max_relative_target
                    relative = min(present[joint] + step, max(present[joint] - step, safe))
                    clipped |= relative != safe
                    safe = relative
                self.stats.clipped_goals += clipped
                goal[joint] = safe
            self._steps = {j: goal[j] - self._last_goal[j] for j in JOINT_NAMES}
            self._last_goal = goal
            return dict(goal)


def executor_guard_parameters(calibration: Calibration) -> dict[str, list[float]]:
    """The command guard's parameters for this arm, in JOINT_NAMES order: the calibrated limits,
    and the servos' speed and acceleration."""
    limits = [calibration.limits_radians(j) for j in JOINT_NAMES]
    return {
        "joint_names": list(JOINT_NAMES),
        # rounded inward to 0.1 mrad, so the printed limits never widen the calibrated ones
        "position_lower_limits": [math.ceil(low * 1e4) / 1e4 for low, _ in limits],
        "position_upper_limits": [math.floor(high * 1e4) / 1e4 for _, high in limits],
        "max_velocity": [SERVO_MAX_VELOCITY],
        "max_acceleration": [SERVO_MAX_ACCELERATION],
    }


def main(argv: list[str] | None = None) -> None:
    """Print the executor's guard parameters for a calibration file, as parameter-file lines."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m so100_driver.safety CALIBRATION.json", file=sys.stderr)
        sys.exit(2)
    for name, value in executor_guard_parameters(Calibration.load(args[0])).items():
        print(f"    {name}: {value}")


if __name__ == "__main__":
    main()
