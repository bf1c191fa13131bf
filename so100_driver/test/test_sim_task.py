"""The simulated reaching task: kinematics, scene, scripted expert and camera image."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from so100_driver.sim import (
    at_target,
    demonstrate,
    forward_kinematics,
    inverse_kinematics_tip_down,
    joint_limits,
    lateral_side,
    render,
    sample_scene,
    scene_for_seed,
    segment_hits_obstacle,
    start_joint_positions,
    start_position_ticks,
    tool_tip,
)
from so100_driver.arm import JOINT_NAMES, Calibration
from so100_driver.sim.render import VIEW_X, VIEW_Y


def test_inverse_kinematics_puts_the_tip_where_asked() -> None:
    tips = np.array([[0.10, 0.0, 0.02], [0.2, 0.08, 0.02], [0.22, -0.05, 0.05]])
    q = inverse_kinematics_tip_down(tips)
    np.testing.assert_allclose(tool_tip(q), tips, atol=1e-12)
    points = forward_kinematics(q)
    np.testing.assert_allclose(points[:, 3, :2], points[:, 4, :2], atol=1e-12)  # gripper points down


def test_out_of_reach_and_wrong_shape_are_errors() -> None:
    with pytest.raises(ValueError, match="out of the arm's reach"):
        inverse_kinematics_tip_down(np.array([0.6, 0.0, 0.02]))
    with pytest.raises(ValueError, match="6 values"):
        forward_kinematics(np.zeros(5))


def test_expert_reaches_the_target_around_the_obstacle_within_limits() -> None:
    rng = np.random.default_rng(3)
    limits = joint_limits()
    sides = set()
    for _ in range(12):
        scene = sample_scene(rng)
        demo = demonstrate(scene, rng)
        q = demo.joint_positions
        np.testing.assert_allclose(q[0], start_joint_positions(scene), atol=1e-12)
        assert np.all(q >= limits[:, 0]) and np.all(q <= limits[:, 1])
        tips = tool_tip(q)
        assert not any(segment_hits_obstacle(a, b, scene) for a, b in zip(tips, tips[1:]))
        assert at_target(tips[-1], scene)
        passing = {lateral_side(tip, scene) for tip in tips} - {0}
        assert passing == {demo.side}
        sides.add(demo.side)
    assert sides == {-1, 1}  # demonstrations are bimodal


def test_episodes_are_reproducible_from_the_seed() -> None:
    first = [demonstrate(sample_scene(rng), rng).joint_positions for rng in [np.random.default_rng(7)]]
    second = [demonstrate(sample_scene(rng), rng).joint_positions for rng in [np.random.default_rng(7)]]
    np.testing.assert_array_equal(first[0], second[0])


def test_segment_through_the_obstacle_hits_it() -> None:
    scene = sample_scene(np.random.default_rng(0))
    cx, cy = scene.obstacle_center
    assert segment_hits_obstacle((cx, cy + 0.06), (cx, cy - 0.06), scene)  # jumps across
    assert not segment_hits_obstacle((cx, cy + 0.06), (cx + 0.01, cy + 0.05), scene)


def test_render_shows_the_target_and_follows_the_arm() -> None:
    scene = sample_scene(np.random.default_rng(1))
    q = start_joint_positions(scene)
    image = render(q, scene)
    assert image.shape == (96, 96, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image, render(q, scene))
    x, y = scene.target
    row = int((VIEW_X[1] - x) / (VIEW_X[1] - VIEW_X[0]) * 96)
    col = int((VIEW_Y[1] - y) / (VIEW_Y[1] - VIEW_Y[0]) * 96)
    r, g, b = image[row, col].astype(int)
    assert r > 180 and g < 90 and b < 90  # red target
    moved = q.copy()
    moved[0] += 0.3
    assert np.abs(render(moved, scene).astype(int) - image).sum() > 0


def test_scene_for_seed_is_the_seeded_scene() -> None:
    assert scene_for_seed(5) == sample_scene(np.random.default_rng(5)) == scene_for_seed(5)
    assert scene_for_seed(5) != scene_for_seed(6)


def test_start_position_ticks_are_the_start_pose_by_joint_name(calibration: Calibration) -> None:
    for seed in range(20):
        scene = scene_for_seed(seed)
        ticks = start_position_ticks(scene, calibration)
        assert set(ticks) == set(JOINT_NAMES)
        q = start_joint_positions(scene)
        for i, joint in enumerate(JOINT_NAMES):
            motor = calibration.motors[joint]
            assert motor.range_min <= ticks[joint] <= motor.range_max, (seed, joint)
            assert calibration.ticks_to_radians(joint, ticks[joint]) == pytest.approx(q[i], abs=1e-12)


def test_drawing_each_shape_over_its_window_gives_the_image_drawn_over_every_pixel() -> None:
    """render() paints moving shapes only where they can reach; the image must be the one painted
    over the whole grid (the policy was trained on those pixels)."""
    module = importlib.import_module("so100_driver.sim.render")  # the package's `render` is the function

    def everywhere(q: np.ndarray, scene) -> np.ndarray:
        px, py = module._pixel_grid(module.IMAGE_SIZE)
        pixel = (VIEW_X[1] - VIEW_X[0]) / module.IMAGE_SIZE
        image = np.empty((module.IMAGE_SIZE, module.IMAGE_SIZE, 3))
        image[:] = module.TABLE
        coverage = lambda d: module._coverage(d, pixel)  # noqa: E731
        module._paint(image, module.OBSTACLE, coverage(module._disc_distance(
            px, py, np.array(scene.obstacle_center), scene.obstacle_radius)))
        points = forward_kinematics(q)[:, :2]
        links = np.min([module._segment_distance(px, py, points[i], points[i + 1], module.LINK_WIDTH / 2)
                        for i in range(1, 4)], axis=0)
        module._paint(image, module.ARM, coverage(links), alpha=0.75)
        module._paint(image, module.TARGET, coverage(module._disc_distance(
            px, py, np.array(scene.target), module.TARGET_RADIUS)), alpha=0.85)
        module._paint(image, module.TIP, coverage(module._disc_distance(px, py, points[4], module.TIP_RADIUS)))
        return np.clip(np.rint(image), 0, 255).astype(np.uint8)

    rng = np.random.default_rng(3)
    for seed in range(5):
        scene = scene_for_seed(seed)
        for q in [start_joint_positions(scene), *rng.uniform(-2.5, 2.5, (20, 6))]:  # shapes partly off the image too
            np.testing.assert_array_equal(render(q, scene), everywhere(q, scene))
