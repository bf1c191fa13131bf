"""LeRobot's motor calibration files and the unit conversions they define (ticks, radians, features)."""

from lerobot_calibration.calibration import (
    RADIANS_PER_TICK,
    TICKS_PER_TURN,
    ArrayOrFloat,
    Calibration,
    CalibrationError,
    GRIPPER_JOINT,
    MotorCalibration,
    NormMode,
    feature_name,
    norm_modes,
)
from lerobot_calibration.calibration_dir import find_robot_calibration, lerobot_calibration_dir

__all__ = ["ArrayOrFloat", "Calibration", "CalibrationError", "GRIPPER_JOINT", "MotorCalibration", "NormMode",
           "RADIANS_PER_TICK", "TICKS_PER_TURN", "feature_name", "find_robot_calibration",
           "lerobot_calibration_dir", "norm_modes"]
