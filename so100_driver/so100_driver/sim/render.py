"""A top-down RGB camera view of the task, rendered from the arm state with numpy only.

The camera looks straight down at the table; image up is the arm's forward (+x), image left is +y.
Shapes are drawn from distance fields with one pixel of anti-aliasing, so the image changes smoothly
with the joint angles.
"""

from __future__ import annotations

import math
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


def _pixel_size(size: int) -> float:
    """Metres per pixel."""
    return (VIEW_X[1] - VIEW_X[0]) / size


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


def _window(size: int, x: tuple[float, float], y: tuple[float, float]) -> tuple[slice, slice]:
    """The rows and columns whose pixel centres can lie within world x and y ranges (one pixel of
    margin): outside them a shape's coverage is 0, so painting there changes nothing."""
    rows = sorted((VIEW_X[1] - v) / (VIEW_X[1] - VIEW_X[0]) * size - 0.5 for v in x)
    cols = sorted((VIEW_Y[1] - v) / (VIEW_Y[1] - VIEW_Y[0]) * size - 0.5 for v in y)
    clamp = lambda v: min(max(v, 0), size)  # noqa: E731
    return (slice(clamp(math.floor(rows[0]) - 1), clamp(math.ceil(rows[1]) + 2)),
            slice(clamp(math.floor(cols[0]) - 1), clamp(math.ceil(cols[1]) + 2)))


def _disc_window(size: int, centre: np.ndarray, radius: float, pixel: float) -> tuple[slice, slice]:
    reach = radius + pixel
    return _window(size, (centre[0] - reach, centre[0] + reach), (centre[1] - reach, centre[1] + reach))


@lru_cache(maxsize=8)
def _background(scene: Scene, size: int) -> np.ndarray:
    """Table and obstacle: they do not move, so they are drawn once per scene."""
    px, py = _pixel_grid(size)
    pixel = _pixel_size(size)
    image = np.empty((size, size, 3))
    image[:] = TABLE
    _paint(image, OBSTACLE, _coverage(_disc_distance(px, py, np.array(scene.obstacle_center), scene.obstacle_radius), pixel))
    image.flags.writeable = False
    return image


def _paint_disc(image: np.ndarray, colour: np.ndarray, centre: np.ndarray, radius: float, alpha: float = 1.0) -> None:
    size = image.shape[0]
    px, py = _pixel_grid(size)
    pixel = _pixel_size(size)
    w = _disc_window(size, centre, radius, pixel)
    _paint(image[w], colour, _coverage(_disc_distance(px[w], py[w], centre, radius), pixel), alpha)


def render(joint_positions_rad: np.ndarray, scene: Scene, size: int = IMAGE_SIZE) -> np.ndarray:
    """The camera image (size, size, 3) uint8 for joint angles (6,) in radians. Each moving shape is
    drawn only over the pixels it can cover (the same values as over the whole image, for less work)."""
    px, py = _pixel_grid(size)
    pixel = _pixel_size(size)
    image = _background(scene, size).copy()
    points = forward_kinematics(joint_positions_rad)[:, :2]
    arm = points[1:5]
    reach = LINK_WIDTH / 2 + pixel
    w = _window(size, (arm[:, 0].min() - reach, arm[:, 0].max() + reach), (arm[:, 1].min() - reach, arm[:, 1].max() + reach))
    links = np.min(
        [_segment_distance(px[w], py[w], points[i], points[i + 1], LINK_WIDTH / 2) for i in range(1, 4)], axis=0
    )
    _paint(image[w], ARM, _coverage(links, pixel), alpha=0.75)
    _paint_disc(image, TARGET, np.array(scene.target), TARGET_RADIUS, alpha=0.85)
    _paint_disc(image, TIP, points[4], TIP_RADIUS)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)
