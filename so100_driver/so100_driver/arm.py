"""The SO-100/SO-101 arm model: joint names, motor ids and its calibration.

The calibration file format and the unit conversions (ticks, radians, LeRobot features) are
`lerobot_calibration`'s; this module adds what is SO-100 about them: six joints of these names on
these bus ids, and the calibration shipped for the simulated arm.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from lerobot_calibration import (
    RADIANS_PER_TICK,
    TICKS_PER_TURN,
    Calibration,
    CalibrationError,
    NormMode,
    feature_name,
    norm_modes,
)

__all__ = ["JOINT_NAMES", "MOTOR_IDS", "MOTOR_MODEL", "RADIANS_PER_TICK", "TICKS_PER_TURN", "Calibration",
           "CalibrationError", "LEROBOT_ROBOT_NAMES", "NormMode", "check_so100", "default_calibration_path", "feature_name",
           "feature_norm_modes", "load_calibration"]

JOINT_NAMES: tuple[str, ...] = (
    "shoulder_pan",
    "shoulder_lift",
    "elbow_flex",
    "wrist_flex",
    "wrist_roll",
    "gripper",
)
MOTOR_IDS: dict[str, int] = {name: index + 1 for index, name in enumerate(JOINT_NAMES)}
MOTOR_MODEL = "sts3215"
# The robot names lerobot-calibrate files an SO-100/SO-101 follower under: 0.4.4's, then older releases'.
LEROBOT_ROBOT_NAMES = ("so_follower", "so100_follower", "so101_follower")


def feature_norm_modes(use_degrees: bool = True) -> dict[str, NormMode]:
    """Per-joint normalisation of LeRobot's SO-100 follower (gripper always 0..100)."""
    return norm_modes(JOINT_NAMES, use_degrees)


def default_calibration_path() -> Path:
    """The calibration shipped for the simulated arm (shared by the simulation and the tests)."""
    return Path(str(resources.files("so100_driver") / "data" / "so100_sim_calibration.json"))


def check_so100(calibration: Calibration) -> Calibration:
    """`calibration` if it calibrates the six SO-100 joints on their bus ids, else CalibrationError."""
    source = calibration.source
    missing = [name for name in JOINT_NAMES if name not in calibration.motors]
    if missing:
        raise CalibrationError(f"calibration file {source}: missing joint(s) {', '.join(missing)}")
    extra = [name for name in calibration.motors if name not in JOINT_NAMES]
    if extra:
        raise CalibrationError(f"calibration file {source}: joint(s) {', '.join(extra)} are not SO-100 joints")
    for name in JOINT_NAMES:
        motor_id = calibration.motors[name].id
        if motor_id != MOTOR_IDS[name]:
            raise CalibrationError(f"calibration file {source}: field '{name}.id' is {motor_id}, the SO-100 uses "
                                   f"id {MOTOR_IDS[name]}")
    return Calibration(motors={name: calibration.motors[name] for name in JOINT_NAMES}, source=source)


def load_calibration(path: str | Path) -> Calibration:
    """An SO-100 calibration file (lerobot-calibrate JSON), checked joint by joint."""
    return check_so100(Calibration.load(path))
