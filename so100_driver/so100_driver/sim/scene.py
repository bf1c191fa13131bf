"""The reaching task: a target on the table behind a low obstacle, seeded and reproducible.

The tool tip starts in front of the base and must reach the target without its path crossing the
obstacle's footprint, so it has to go around on the left or on the right: two equally good ways.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from so100_driver.arm import JOINT_NAMES, Calibration, default_calibration_path, load_calibration

TIP_HEIGHT = 0.02  # the expert keeps the tool tip this far above the table (m)


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
    target = (0.22 + rng.uniform(-0.012, 0.012), rng.uniform(-0.025, 0.025))
    return Scene(start_tip=start, obstacle_center=obstacle, obstacle_radius=0.025, target=target)


def scene_for_seed(seed: int) -> Scene:
    """The scene of a simulated run with this seed: the camera renders it and the emulated arm
    starts at its start pose, so both show the same task."""
    return sample_scene(np.random.default_rng(seed))


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
