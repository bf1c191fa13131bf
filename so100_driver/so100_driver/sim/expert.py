"""The scripted expert: goes around the obstacle on a randomly chosen side, so demonstrations are bimodal."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from so100_driver.arm import JOINT_NAMES, Calibration
from so100_driver.sim.kinematics import inverse_kinematics_tip_down
from so100_driver.sim.scene import TIP_HEIGHT, Scene

GRIPPER_OPEN = 0.6  # radians
GRIPPER_CLOSED = 0.0


@dataclass(frozen=True)
class Demonstration:
    side: int  # +1 left of the obstacle, -1 right
    joint_positions: np.ndarray  # (T, 6) radians, one row per control tick, row 0 = start state


def _expert_pose(tips: np.ndarray) -> np.ndarray:
    """Joint angles for tool-tip positions (..., 3): gripper down, wrist rolled against the pan
    so the jaws stay square to the table, gripper at 0."""
    q = inverse_kinematics_tip_down(tips)
    q[..., 4] = -q[..., 0]
    return q


def start_joint_positions(scene: Scene) -> np.ndarray:
    """The arm's joint angles at the start of an episode (tip above start_tip)."""
    x, y = scene.start_tip
    return _expert_pose(np.array([x, y, TIP_HEIGHT]))


def start_position_ticks(scene: Scene, calibration: Calibration) -> dict[str, float]:
    """The start pose as Present_Position ticks by joint name: where the emulated servos begin."""
    q = start_joint_positions(scene)
    return {name: calibration.radians_to_ticks(name, float(q[i])) for i, name in enumerate(JOINT_NAMES)}


def _min_jerk(s: np.ndarray) -> np.ndarray:
    return 10 * s**3 - 15 * s**4 + 6 * s**5


def demonstrate(scene: Scene, rng: np.random.Generator, length: int = 150) -> Demonstration:
    """One expert episode of `length` ticks: a cubic Bezier around the obstacle, min-jerk timed."""
    side = int(rng.choice([-1, 1]))
    move_ticks = int(rng.integers(80, 100))
    clearance = rng.uniform(0.035, 0.05)  # from the obstacle's edge to the path's widest point
    cx, cy = scene.obstacle_center
    width = cy + side * (scene.obstacle_radius + clearance) * 4 / 3  # a Bezier reaches 3/4 of its controls
    p0 = np.array(scene.start_tip)
    p3 = np.array(scene.target)
    controls = np.array([p0, [cx - 0.03, width], [cx + 0.03, width], p3])

    s = _min_jerk(np.clip(np.arange(length) / move_ticks, 0.0, 1.0))[:, None]
    bernstein = np.concatenate([(1 - s) ** 3, 3 * s * (1 - s) ** 2, 3 * s**2 * (1 - s), s**3], axis=1)
    xy = bernstein @ controls
    tips = np.concatenate([xy, np.full((length, 1), TIP_HEIGHT)], axis=1)
    q = _expert_pose(tips)
    # The gripper opens on the way and closes once the target is reached.
    open_phase = _min_jerk(np.clip(np.arange(length) / (0.5 * move_ticks), 0.0, 1.0))
    close_phase = _min_jerk(np.clip((np.arange(length) - move_ticks) / 40, 0.0, 1.0))
    q[:, 5] = open_phase * GRIPPER_OPEN + close_phase * (GRIPPER_CLOSED - GRIPPER_OPEN)
    return Demonstration(side=side, joint_positions=q)
