"""Joint positions in radians (ROS side) <-> a policy's joint units, for arrays of rows.

`JointUnits` is the interface the policy node and the evaluation use; two implementations:
`RadianUnits` for policies that work in radians (nothing to convert), and `CalibratedUnits` for
LeRobot policies of Feetech arms (SO-100/SO-101, Koch), which see each joint in the units LeRobot's
motor normalization gives it, computed from the calibration file `lerobot-calibrate` wrote. The
policy's columns are `joints` in its own order; conversions are one numpy call per joint.
"""
from __future__ import annotations

from typing import Protocol
from collections.abc import Sequence

import numpy as np

__all__ = ["CalibratedUnits", "JointUnits", "RadianUnits", "units_from_parameters"]


class JointUnits(Protocol):
    joints: list[str]

    def to_features(self, radians: np.ndarray) -> np.ndarray:
        """(..., len(joints)) radians -> the same shape in the policy's units."""

    def to_radians(self, features: np.ndarray) -> np.ndarray:
        """(..., len(joints)) policy units -> radians."""


def _checked(values: np.ndarray, joints: Sequence[str]) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.shape[-1:] != (len(joints),):
        raise ValueError(f"expected {len(joints)} joint values on the last axis, got shape {values.shape}")
    return values


class RadianUnits:
    """The policy works in radians, like the ROS side."""

    def __init__(self, joints: Sequence[str]) -> None:
        self.joints = list(joints)

    def to_features(self, radians: np.ndarray) -> np.ndarray:
        return _checked(radians, self.joints).copy()

    def to_radians(self, features: np.ndarray) -> np.ndarray:
        return _checked(features, self.joints).copy()


class CalibratedUnits:
    """LeRobot feature units of a calibrated Feetech arm (degrees or -100..100; a gripper 0..100)."""

    def __init__(self, calibration, joints: Sequence[str], use_degrees: bool = True) -> None:
        from lerobot_calibration import norm_modes

        unknown = [j for j in joints if j not in calibration.motors]
        if unknown:
            raise ValueError(f"joints {unknown} are not in calibration {calibration.source} "
                             f"(it has {sorted(calibration.motors)})")
        self.calibration = calibration
        self.joints = list(joints)
        self.modes = norm_modes(self.joints, use_degrees)

    def to_features(self, radians: np.ndarray) -> np.ndarray:
        return self._convert(radians, self.calibration.radians_to_feature)

    def to_radians(self, features: np.ndarray) -> np.ndarray:
        return self._convert(features, self.calibration.feature_to_radians)

    def _convert(self, values: np.ndarray, convert) -> np.ndarray:
        values = _checked(values, self.joints)
        out = np.empty_like(values)
        for column, joint in enumerate(self.joints):
            out[..., column] = convert(joint, values[..., column], self.modes[joint])
        return out


def units_from_parameters(calibration_file: str, joints: Sequence[str], use_degrees: bool) -> JointUnits:
    """The policy node's choice: a calibration file means LeRobot units, none means radians."""
    if not calibration_file:
        return RadianUnits(joints)
    from lerobot_calibration import Calibration

    return CalibratedUnits(Calibration.load(calibration_file), joints, use_degrees)
