"""Forward and inverse kinematics of a simplified SO-100 (pan + three pitch joints).

The simulated arm is a vertical three-link chain on a rotating base: shoulder_pan turns the chain about
the vertical axis; shoulder_lift, elbow_flex and wrist_flex are pitch joints in the chain's plane;
wrist_roll and the gripper do not move the tool tip. Joint angles are the ROS-side radians of
so100_driver.arm (zero at the calibrated range midpoint), mapped to geometry as:

- shoulder_lift 0 = upper arm vertical, positive leans it forward;
- elbow_flex 0 = forearm at a right angle to the upper arm, positive folds it further;
- wrist_flex 0 = gripper in line with the forearm, positive tilts it up.

Lengths are close to the real arm's (metres). Points are returned in the base frame: x forward,
y to the left, z up, table at z = 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from so100_driver.arm import JOINT_NAMES

PAN, LIFT, ELBOW, WRIST_FLEX, WRIST_ROLL, GRIPPER = range(len(JOINT_NAMES))


@dataclass(frozen=True)
class ArmGeometry:
    shoulder_height: float = 0.10
    upper_arm: float = 0.116
    forearm: float = 0.135
    gripper: float = 0.10


GEOMETRY = ArmGeometry()


def forward_kinematics(joint_positions_rad: np.ndarray, geometry: ArmGeometry = GEOMETRY) -> np.ndarray:
    """Joint angles (..., 6) -> points (..., 5, 3): base, shoulder, elbow, wrist, tool tip."""
    q = np.asarray(joint_positions_rad, dtype=np.float64)
    if q.shape[-1] != len(JOINT_NAMES):
        raise ValueError(f"joint positions need {len(JOINT_NAMES)} values (last axis), got shape {q.shape}")
    pan = q[..., PAN]
    a1 = math.pi / 2 - q[..., LIFT]  # upper arm elevation above the horizontal
    a2 = a1 - (q[..., ELBOW] + math.pi / 2)
    a3 = a2 + q[..., WRIST_FLEX]
    radial = np.stack([np.cos(pan), np.sin(pan)], axis=-1)

    def link(angle: np.ndarray, length: float) -> np.ndarray:
        horizontal = (length * np.cos(angle))[..., None] * radial
        return np.concatenate([horizontal, (length * np.sin(angle))[..., None]], axis=-1)

    base = np.zeros(q.shape[:-1] + (3,))
    shoulder = base.copy()
    shoulder[..., 2] = geometry.shoulder_height
    elbow = shoulder + link(a1, geometry.upper_arm)
    wrist = elbow + link(a2, geometry.forearm)
    tip = wrist + link(a3, geometry.gripper)
    return np.stack([base, shoulder, elbow, wrist, tip], axis=-2)


def tool_tip(joint_positions_rad: np.ndarray, geometry: ArmGeometry = GEOMETRY) -> np.ndarray:
    """Tool-tip position (..., 3) in metres."""
    return forward_kinematics(joint_positions_rad, geometry)[..., 4, :]


def inverse_kinematics_tip_down(
    tip_xyz: np.ndarray, wrist_roll: float = 0.0, gripper: float = 0.0, geometry: ArmGeometry = GEOMETRY
) -> np.ndarray:
    """Joint angles (..., 6) that put the tool tip at tip_xyz (..., 3) with the gripper pointing down.

    Elbow-up solution; raises ValueError for points out of reach.
    """
    tip = np.asarray(tip_xyz, dtype=np.float64)
    pan = np.arctan2(tip[..., 1], tip[..., 0])
    radius = np.hypot(tip[..., 0], tip[..., 1])
    wr = radius  # the wrist is straight above the tip
    wz = tip[..., 2] + geometry.gripper - geometry.shoulder_height
    l1, l2 = geometry.upper_arm, geometry.forearm
    cos_bend = (wr**2 + wz**2 - l1**2 - l2**2) / (2 * l1 * l2)
    if np.any(np.abs(cos_bend) > 1.0):
        raise ValueError(f"tool tip {tip.tolist()} is out of the arm's reach")
    bend = np.arccos(cos_bend)  # interior elbow angle between the link directions
    a1 = np.arctan2(wz, wr) + np.arctan2(l2 * np.sin(bend), l1 + l2 * np.cos(bend))
    a2 = a1 - bend
    a3 = -math.pi / 2
    q = np.zeros(tip.shape[:-1] + (len(JOINT_NAMES),))
    q[..., PAN] = pan
    q[..., LIFT] = math.pi / 2 - a1
    q[..., ELBOW] = bend - math.pi / 2
    q[..., WRIST_FLEX] = a3 - a2
    q[..., WRIST_ROLL] = wrist_roll
    q[..., GRIPPER] = gripper
    return q
