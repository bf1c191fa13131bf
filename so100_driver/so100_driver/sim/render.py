"""A top-down RGB camera view of the task, rendered from the arm state with numpy only.

The camera looks straight down at the table; image up is the arm's forward (+x), image left is +y.
Shapes are drawn from distance fields with one pixel of anti-aliasing, so the image changes smoothly
with the joint angles.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from so100_driver.sim.kinematics import forward_kinematics
from so100_driver.sim.scene import Scene

IMAGE_SIZE = 96
VIEW_X = (-0.04, 0.28)  # metres covered from the bottom to the top of the image
VIEW_Y = (-0.16, 0.16)  # from the right to the left of the image

TABLE = np.array([214, 204, 184], dtype=np.float64)
OBSTACLE = np.array([70, 70, 78], dtype=np.float64)
TARGET = np.array([220, 40, 40], dtype=np.float64)
ARM = np.array([40, 90, 200], dtype=np.float64)
TIP = np.array([250, 200, 30], dtype=np.float64)
LINK_WIDTH = 0.012
TARGET_RADIUS = 0.012
TIP_RADIUS = 0.008


@lru_cache(maxsize=4)
def _pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """World (x, y) of every pixel centre."""
    centres = (np.arange(size) + 0.5) / size
    x = VIEW_X[1] - centres * (VIEW_X[1] - VIEW_X[0])  # rows
    y = VIEW_Y[1] - centres * (VIEW_Y[1] - VIEW_Y[0])  # columns
    px, py = np.meshgrid(x, y, indexing="ij")
    px.flags.writeable = py.flags.writeable = False
    return px, py


def _coverage(distance: np.ndarray, pixel: float) -> np.ndarray:
    return np.clip(0.5 - distance / pixel, 0.0, 1.0)


def _disc_distance(px: np.ndarray, py: np.ndarray, centre: np.ndarray, radius: float) -> np.ndarray:
    return np.hypot(px - centre[0], py - centre[1]) - radius


def _segment_distance(px: np.ndarray, py: np.ndarray, a: np.ndarray, b: np.ndarray, half_width: float) -> np.ndarray:
    ab = b - a
    denom = float(ab @ ab)
    t = np.zeros_like(px) if denom == 0.0 else np.clip(((px - a[0]) * ab[0] + (py - a[1]) * ab[1]) / denom, 0, 1)
    return np.hypot(px - a[0] - t * ab[0], py - a[1] - t * ab[1]) - half_width


def _paint(image: np.ndarray, colour: np.ndarray, coverage: np.ndarray, alpha: float = 1.0) -> None:
    weight = (alpha * coverage)[..., None]
    image *= 1.0 - weight
    image += weight * colour


def render(joint_positions_rad: np.ndarray, scene: Scene, size: int = IMAGE_SIZE) -> np.ndarray:
    """The camera image (size, size, 3) uint8 for joint angles (6,) in radians."""
    px, py = _pixel_grid(size)
    pixel = (VIEW_X[1] - VIEW_X[0]) / size
    image = np.empty((size, size, 3))
    image[:] = TABLE
    _paint(image, OBSTACLE, _coverage(_disc_distance(px, py, np.array(scene.obstacle_center), scene.obstacle_radius), pixel))
    points = forward_kinematics(joint_positions_rad)[:, :2]
    links = np.min(
        [_segment_distance(px, py, points[i], points[i + 1], LINK_WIDTH / 2) for i in range(1, 4)], axis=0
    )
    _paint(image, ARM, _coverage(links, pixel), alpha=0.75)
    _paint(image, TARGET, _coverage(_disc_distance(px, py, np.array(scene.target), TARGET_RADIUS), pixel), alpha=0.85)
    _paint(image, TIP, _coverage(_disc_distance(px, py, points[4], TIP_RADIUS), pixel))
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)
