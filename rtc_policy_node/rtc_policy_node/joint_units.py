"""Joint positions in radians (ROS side) <-> a policy's joint feature units, for arrays of rows.

The policy's columns are `joints` in its own order; each column converts with the arm's calibration
exactly as LeRobot normalizes the SO-100 (so100_driver.arm), one numpy call per joint.
"""
from __future__ import annotations

import numpy as np
from so100_driver.arm import JOINT_NAMES, Calibration, feature_norm_modes


class JointUnits:
    def __init__(self, calibration: Calibration, joints: list[str] | tuple[str, ...] = JOINT_NAMES,
                 use_degrees: bool = True) -> None:
        unknown = [j for j in joints if j not in JOINT_NAMES]
        if unknown:
            raise ValueError(f"joints {unknown} are not SO-100 joints {list(JOINT_NAMES)}")
        self.calibration = calibration
        self.joints = list(joints)
        self.modes = feature_norm_modes(use_degrees)

    def to_features(self, radians: np.ndarray) -> np.ndarray:
        """(..., len(joints)) radians -> the same shape in feature units."""
        return self._convert(radians, self.calibration.radians_to_feature)

    def to_radians(self, features: np.ndarray) -> np.ndarray:
        """(..., len(joints)) feature units -> radians."""
        return self._convert(features, self.calibration.feature_to_radians)

    def _convert(self, values: np.ndarray, convert) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        if values.shape[-1:] != (len(self.joints),):
            raise ValueError(f"expected {len(self.joints)} joint values on the last axis, got shape {values.shape}")
        out = np.empty_like(values)
        for column, joint in enumerate(self.joints):
            out[..., column] = convert(joint, values[..., column], self.modes[joint])
        return out
