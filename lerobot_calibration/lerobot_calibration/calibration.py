"""The calibration file `lerobot-calibrate` writes for an arm of position servos (Feetech STS3215:
SO-100/SO-101; the same format and formulas serve Koch's Dynamixels), and the unit conversions it
defines. Robot-agnostic: the joints are whatever the file names; an arm's package checks its own
joint names and motor ids on top (so100_driver.arm).

Three unit systems meet here:

- ticks: what the servo reports in Present_Position (0..4095 per turn, homing offset already
  applied by the servo firmware);
- radians: the ROS side (REP-103). Zero is the midpoint of the calibrated range, one turn is
  4096 ticks;
- LeRobot feature units: what LeRobot policies see ("<joint>.pos"): degrees, or -100..100 for
  checkpoints recorded without ``use_degrees``; a gripper is always 0..100. The formulas are LeRobot
  0.4.4's ``MotorsBus._normalize`` / ``_unnormalize`` (including their clamping and integer
  truncation), so a policy sees exactly the numbers it was trained on.

No ROS import: the driver, the policy node and tools share it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Union
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["ArrayOrFloat", "Calibration", "CalibrationError", "GRIPPER_JOINT", "MotorCalibration", "NormMode",
           "RADIANS_PER_TICK", "TICKS_PER_TURN", "feature_name", "norm_modes"]

TICKS_PER_TURN = 4096
RADIANS_PER_TICK = 2.0 * math.pi / TICKS_PER_TURN
GRIPPER_JOINT = "gripper"  # LeRobot normalizes the joint of this name 0..100 on every arm
# LeRobot's DEGREES mode divides by (resolution - 1), not by the resolution.
_LEROBOT_MAX_RES = TICKS_PER_TURN - 1
_CALIBRATION_FIELDS = ("id", "drive_mode", "homing_offset", "range_min", "range_max")
ArrayOrFloat = Union[float, np.ndarray]  # conversions take one value or a numpy array of one joint


class NormMode(str, Enum):
    """LeRobot's MotorNormMode values, by the same names and strings."""

    DEGREES = "degrees"
    RANGE_M100_100 = "range_m100_100"
    RANGE_0_100 = "range_0_100"


def norm_modes(joints: Sequence[str], use_degrees: bool = True) -> dict[str, NormMode]:
    """Per-joint normalisation of LeRobot's follower arms (the gripper always 0..100)."""
    body = NormMode.DEGREES if use_degrees else NormMode.RANGE_M100_100
    return {name: (NormMode.RANGE_0_100 if name == GRIPPER_JOINT else body) for name in joints}


def feature_name(joint: str) -> str:
    """LeRobot's observation/action key for a joint position."""
    return f"{joint}.pos"


class CalibrationError(ValueError):
    """A calibration file is missing, unreadable, or has a bad field; the message names which."""

@dataclass(frozen=True)
class MotorCalibration:
    """One motor's entry in a ``lerobot-calibrate`` file."""

    id: int
    drive_mode: int
    homing_offset: int
    range_min: int
    range_max: int

    @property
    def midpoint(self) -> float:
        return (self.range_min + self.range_max) / 2


@dataclass(frozen=True)
class Calibration:
    """Calibration of every joint in the file plus the conversions that depend on it."""

    motors: Mapping[str, MotorCalibration]
    source: str = "<memory>"

    # ----- loading and saving -------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> Calibration:
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise CalibrationError(f"calibration file {path}: cannot be read ({exc.strerror})") from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CalibrationError(f"calibration file {path}: not valid JSON ({exc})") from exc
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: Any, source: str = "<memory>") -> Calibration:
        if not isinstance(data, dict):
            raise CalibrationError(f"calibration file {source}: top level must be an object of joints")
        if not data:
            raise CalibrationError(f"calibration file {source}: no joints")
        motors: dict[str, MotorCalibration] = {}
        for name in data:
            entry = data[name]
            if not isinstance(entry, dict):
                raise CalibrationError(f"calibration file {source}: '{name}' must be an object")
            values: dict[str, int] = {}
            for field in _CALIBRATION_FIELDS:
                where = f"calibration file {source}: field '{name}.{field}'"
                if field not in entry:
                    raise CalibrationError(f"{where} is missing")
                value = entry[field]
                if isinstance(value, bool) or not isinstance(value, int):
                    raise CalibrationError(f"{where} must be an integer, got {value!r}")
                values[field] = value
            motor = MotorCalibration(**values)
            _check_motor(name, motor, source)
            motors[name] = motor
        return cls(motors=motors, source=source)

    def to_dict(self) -> dict[str, dict[str, int]]:
        return {name: asdict(motor) for name, motor in self.motors.items()}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=4) + "\n")

    # ----- ticks <-> radians ---------------------------------------------------------------
    def ticks_to_radians(self, joint: str, ticks: ArrayOrFloat) -> ArrayOrFloat:
        return (ticks - self.motors[joint].midpoint) * RADIANS_PER_TICK

    def radians_to_ticks(self, joint: str, radians: ArrayOrFloat) -> ArrayOrFloat:
        """Exact (fractional) ticks; round when writing a register."""
        return radians / RADIANS_PER_TICK + self.motors[joint].midpoint

    def limits_radians(self, joint: str) -> tuple[float, float]:
        """Calibrated range of a joint in radians (lower, upper)."""
        motor = self.motors[joint]
        return self.ticks_to_radians(joint, motor.range_min), self.ticks_to_radians(joint, motor.range_max)

    def clamp_radians(self, joint: str, radians: float) -> float:
        lower, upper = self.limits_radians(joint)
        return min(upper, max(lower, radians))

    # ----- ticks <-> LeRobot feature units (LeRobot 0.4.4 MotorsBus semantics) -------------
    def ticks_to_feature(self, joint: str, ticks: ArrayOrFloat, mode: NormMode | str) -> ArrayOrFloat:
        """Scalar or numpy array of one joint's ticks -> LeRobot feature units."""
        mode = NormMode(mode)
        motor = self.motors[joint]
        lo, hi = motor.range_min, motor.range_max
        if mode is NormMode.DEGREES:
            return (ticks - motor.midpoint) * 360 / _LEROBOT_MAX_RES
        bounded = np.clip(ticks, lo, hi)
        if mode is NormMode.RANGE_M100_100:
            norm = ((bounded - lo) / (hi - lo)) * 200 - 100
            return -norm if motor.drive_mode else norm
        norm = ((bounded - lo) / (hi - lo)) * 100  # RANGE_0_100
        return 100 - norm if motor.drive_mode else norm

    def feature_to_ticks(self, joint: str, value: float, mode: NormMode | str) -> int:
        """Integer goal ticks as LeRobot computes them (clamped, truncated toward zero)."""
        mode = NormMode(mode)
        motor = self.motors[joint]
        lo, hi = motor.range_min, motor.range_max
        if mode is NormMode.DEGREES:
            return int(value * _LEROBOT_MAX_RES / 360 + motor.midpoint)
        if mode is NormMode.RANGE_M100_100:
            value = -value if motor.drive_mode else value
            bounded = min(100.0, max(-100.0, value))
            return int(((bounded + 100) / 200) * (hi - lo) + lo)
        value = 100 - value if motor.drive_mode else value  # RANGE_0_100
        bounded = min(100.0, max(0.0, value))
        return int((bounded / 100) * (hi - lo) + lo)

    # ----- radians <-> LeRobot feature units ------------------------------------------------
    def radians_to_feature(self, joint: str, radians: ArrayOrFloat, mode: NormMode | str) -> ArrayOrFloat:
        """Scalar or numpy array of one joint's radians -> LeRobot feature units."""
        return self.ticks_to_feature(joint, self.radians_to_ticks(joint, radians), mode)

    def feature_to_radians(self, joint: str, value: ArrayOrFloat, mode: NormMode | str) -> ArrayOrFloat:
        """Inverse of :meth:`radians_to_feature` without LeRobot's integer truncation; scalar or array."""
        mode = NormMode(mode)
        motor = self.motors[joint]
        lo, hi = motor.range_min, motor.range_max
        if mode is NormMode.DEGREES:
            ticks = value * _LEROBOT_MAX_RES / 360 + motor.midpoint
        elif mode is NormMode.RANGE_M100_100:
            value = -value if motor.drive_mode else value
            ticks = ((np.clip(value, -100.0, 100.0) + 100) / 200) * (hi - lo) + lo
        else:  # RANGE_0_100
            value = 100 - value if motor.drive_mode else value
            ticks = (np.clip(value, 0.0, 100.0) / 100) * (hi - lo) + lo
        return self.ticks_to_radians(joint, ticks)

    def radians_to_features(
        self, positions: Mapping[str, float], use_degrees: bool = True
    ) -> dict[str, float]:
        """ROS joint positions by name -> LeRobot ``{"<joint>.pos": value}`` (every calibrated joint)."""
        modes = norm_modes(list(self.motors), use_degrees)
        return {feature_name(j): self.radians_to_feature(j, positions[j], modes[j]) for j in self.motors}

    def features_to_radians(
        self, features: Mapping[str, float], use_degrees: bool = True
    ) -> dict[str, float]:
        """LeRobot ``{"<joint>.pos": value}`` -> ROS joint positions by name (every calibrated joint)."""
        modes = norm_modes(list(self.motors), use_degrees)
        return {j: self.feature_to_radians(j, features[feature_name(j)], modes[j]) for j in self.motors}


def _check_motor(name: str, motor: MotorCalibration, source: str) -> None:
    where = f"calibration file {source}: field '{name}"
    if not 0 <= motor.id <= 253:
        raise CalibrationError(f"{where}.id' {motor.id} is outside 0..253")
    if motor.drive_mode not in (0, 1):
        raise CalibrationError(f"{where}.drive_mode' must be 0 or 1, got {motor.drive_mode}")
    if not -2047 <= motor.homing_offset <= 2047:
        raise CalibrationError(f"{where}.homing_offset' {motor.homing_offset} is outside -2047..2047")
    for field in ("range_min", "range_max"):
        value = getattr(motor, field)
        if not 0 <= value < TICKS_PER_TURN:
            raise CalibrationError(f"{where}.{field}' {value} is outside 0..{TICKS_PER_TURN - 1}")
    if motor.range_min >= motor.range_max:
        raise CalibrationError(
            f"{where}.range_min' ({motor.range_min}) must be below range_max ({motor.range_max})"
        )
