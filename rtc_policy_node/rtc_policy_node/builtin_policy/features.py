"""Joint positions in radians (ROS side) <-> LeRobot SO-100 feature units, for arrays of states."""

from __future__ import annotations

import numpy as np
from so100_driver.arm import JOINT_NAMES, Calibration, default_calibration_path, feature_norm_modes


def sim_calibration() -> Calibration:
    """The calibration of the simulated arm, which the built-in policy's features were recorded with."""
    return Calibration.load(default_calibration_path())


def radians_to_features(calibration: Calibration, positions: np.ndarray) -> np.ndarray:
    """(..., 6) radians in JOINT_NAMES order -> (..., 6) LeRobot units (degrees; gripper 0..100)."""
    return _convert(positions, lambda joint, mode, value: calibration.radians_to_feature(joint, value, mode))


def features_to_radians(calibration: Calibration, features: np.ndarray) -> np.ndarray:
    """Inverse of radians_to_features."""
    return _convert(features, lambda joint, mode, value: calibration.feature_to_radians(joint, value, mode))


def _convert(values: np.ndarray, convert) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.shape[-1] != len(JOINT_NAMES):
        raise ValueError(f"expected {len(JOINT_NAMES)} joint values on the last axis, got shape {values.shape}")
    modes = feature_norm_modes(use_degrees=True)
    out = np.empty_like(values)
    for index, joint in enumerate(JOINT_NAMES):
        column = values[..., index]
        out[..., index] = np.fromiter(
            (convert(joint, modes[joint], float(v)) for v in column.ravel()), dtype=np.float64, count=column.size
        ).reshape(column.shape)
    return out
