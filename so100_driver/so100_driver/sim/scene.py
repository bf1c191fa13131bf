"""The reaching task: a target on the table behind a low obstacle, seeded and reproducible.

The tool tip starts in front of the base and must reach the target without its path crossing the
obstacle's footprint, so it has to go around on the left or on the right: two equally good ways.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from so100_driver.arm import JOINT_NAMES, Calibration, default_calibration_path, load_calibration

TIP_HEIGHT = 0.02  # the expert keeps the tool tip this far above the table (m)
# Where targets are placed (m): x = TARGET_X +/- TARGET_X_JITTER, |y| <= TARGET_Y_JITTER. The built-in
# policy was trained on these targets only, so a new target of a longer run stays inside this area.
TARGET_X = 0.22
TARGET_X_JITTER = 0.012
TARGET_Y_JITTER = 0.025
MIN_RETARGET_Y = 0.6 * TARGET_Y_JITTER  # a new target is at least this far beside the centre line y = 0


@dataclass(frozen=True)
class Scene:
    """Where things are on the table (metres, base frame, x forward, y left)."""

    start_tip: tuple[float, float]
    obstacle_center: tuple[float, float]
    obstacle_radius: float
    target: tuple[float, float]
    target_tolerance: float = 0.02

    def to_dict(self) -> dict[str, object]:
        return {
            "start_tip": list(self.start_tip),
            "obstacle_center": list(self.obstacle_center),
            "obstacle_radius": self.obstacle_radius,
            "target": list(self.target),
            "target_tolerance": self.target_tolerance,
        }


def sample_scene(rng: np.random.Generator) -> Scene:
    """A random scene; the same generator state gives the same scene."""
    start = (0.10 + rng.uniform(-0.005, 0.005), rng.uniform(-0.005, 0.005))
    obstacle = (0.16 + rng.uniform(-0.005, 0.005), rng.uniform(-0.005, 0.005))
    target = (TARGET_X + rng.uniform(-TARGET_X_JITTER, TARGET_X_JITTER), rng.uniform(-TARGET_Y_JITTER, TARGET_Y_JITTER))
    return Scene(start_tip=start, obstacle_center=obstacle, obstacle_radius=0.025, target=target)


def scene_for_seed(seed: int, target_index: int = 0) -> Scene:
    """The scene of a simulated run with this seed: the camera renders it and the emulated arm
    starts at its start pose, so both show the same task.

    `target_index` k > 0: the same table with its k-th new target, for a run that keeps the arm
    moving (sim_camera's `retarget_after_s`). It lies in the target area, seeded by (seed, k), on the
    other side of the task's centre line (y = 0) than target k - 1, so every new target moves the
    arm across; never outside the area, where the built-in policy was not trained to go."""
    scene = sample_scene(np.random.default_rng(seed))
    if target_index < 0:
        raise ValueError(f"target_index must be >= 0, got {target_index}")
    if target_index == 0:
        return scene
    rng = np.random.default_rng([seed, target_index])
    side = (1.0 if scene.target[1] >= 0.0 else -1.0) * (-1.0) ** target_index
    x = TARGET_X + rng.uniform(-TARGET_X_JITTER, TARGET_X_JITTER)
    y = side * rng.uniform(MIN_RETARGET_Y, TARGET_Y_JITTER)
    return Scene(scene.start_tip, scene.obstacle_center, scene.obstacle_radius, (x, y), scene.target_tolerance)


def segment_hits_obstacle(p0: np.ndarray, p1: np.ndarray, scene: Scene) -> bool:
    """True if the tool tip moving from p0 to p1 (xy, metres) passes over the obstacle's footprint."""
    a = np.asarray(p0, dtype=np.float64)[:2]
    b = np.asarray(p1, dtype=np.float64)[:2]
    c = np.asarray(scene.obstacle_center)
    ab = b - a
    denom = float(ab @ ab)
    t = 0.0 if denom == 0.0 else float(np.clip((c - a) @ ab / denom, 0.0, 1.0))
    return float(np.linalg.norm(a + t * ab - c)) < scene.obstacle_radius


def at_target(tip: np.ndarray, scene: Scene) -> bool:
    return float(np.linalg.norm(np.asarray(tip)[:2] - np.asarray(scene.target))) <= scene.target_tolerance


def lateral_side(tip_xy: np.ndarray, scene: Scene) -> int:
    """+1 if a tip position is beside the obstacle on its left, -1 on its right, 0 if not beside it.

    Beside means within the obstacle's extent along x (the direction from start to target).
    """
    x, y = float(tip_xy[0]), float(tip_xy[1])
    cx, cy = scene.obstacle_center
    if abs(x - cx) > scene.obstacle_radius or y == cy:
        return 0
    return 1 if y > cy else -1


def joint_limits(calibration: Calibration | None = None) -> np.ndarray:
    """(6, 2) lower/upper joint limits in radians, from the simulated arm's calibration file."""
    calibration = calibration or load_calibration(default_calibration_path())
    return np.array([calibration.limits_radians(name) for name in JOINT_NAMES])
