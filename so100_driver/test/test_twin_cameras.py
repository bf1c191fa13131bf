"""The twin's cameras and task layout: renders are a function of the seed and the physics state (the
same seed and the same commands give the same pixels), the layout follows the seed, the arm starts
at the ready pose the kinematics describe. No ROS."""

from __future__ import annotations

import numpy as np
import pytest

from so100_driver.arm import JOINT_NAMES, MOTOR_IDS, Calibration
from so100_driver.emulator import ServoBusEmulator
from so100_driver.twin.cameras import CAMERA_NAMES, TwinCameras
from so100_driver.twin.kinematics import TwinKinematics, UnreachablePose
from so100_driver.twin.task import READY_POSE, layout_for_seed, ready_position_ticks
from so100_driver.worlds import make_world


def _frames(calibration: Calibration, seed: int, size: int = 64) -> list[np.ndarray]:
    world = make_world("mujoco", calibration, seed=seed)
    emulator = ServoBusEmulator.for_arm(calibration, positions=ready_position_ticks(calibration), world=world)
    for servo in emulator.servos.values():
        servo.set("Torque_Enable", 1)
    emulator.servos[MOTOR_IDS["shoulder_pan"]].set(
        "Goal_Position", round(calibration.radians_to_ticks("shoulder_pan", 0.5)))
    cameras = TwinCameras(world.model, size, size)
    frames = []
    try:
        for _ in range(3):
            emulator.advance(0.1)
            cameras.snapshot(world.data)
            frames += [cameras.render(name) for name in CAMERA_NAMES]
    finally:
        cameras.close()
    return frames


def test_renders_are_deterministic_per_seed(calibration: Calibration) -> None:
    first, again, other = _frames(calibration, 5), _frames(calibration, 5), _frames(calibration, 6)
    assert all(a.shape == (64, 64, 3) and a.dtype == np.uint8 for a in first)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], other[0])  # another seed, another layout on the table
    assert not np.array_equal(first[0], first[2])  # the arm moved between frames


def test_unknown_cameras_are_refused(calibration: Calibration) -> None:
    world = make_world("mujoco", calibration)
    with pytest.raises(ValueError, match="unknown twin camera"):
        TwinCameras(world.model, 32, 32, names=("top",))


def test_the_layout_follows_the_seed_and_puts_the_wall_between_cube_and_zone() -> None:
    layouts = [layout_for_seed(seed) for seed in range(40)]
    assert layout_for_seed(3) == layouts[3] and len({lay.cube_xy for lay in layouts}) == 40
    for layout in layouts:
        assert np.sign(layout.cube_xy[1]) == -np.sign(layout.zone_xy[1])  # on either side of the wall
        assert abs(layout.obstacle_xy[1]) < 0.02
    assert {np.sign(lay.cube_xy[1]) for lay in layouts} == {-1.0, 1.0}


def test_the_ready_pose_has_the_tool_above_the_table_pointing_down(calibration: Calibration) -> None:
    world = make_world("mujoco", calibration)
    kinematics = TwinKinematics(world.model)
    position, rotation = kinematics.tool_pose(np.array(READY_POSE))
    assert position[2] == pytest.approx(0.11, abs=0.01) and rotation[2, 1] > 0.99  # jaw tips (-y) down
    solved = kinematics.solve(position, 0.0, np.zeros(len(JOINT_NAMES)))
    np.testing.assert_allclose(kinematics.tool_pose(solved)[0], position, atol=0.003)
    with pytest.raises(UnreachablePose):
        kinematics.solve(np.array([0.5, 0.0, 0.1]), 0.0, np.array(READY_POSE))
