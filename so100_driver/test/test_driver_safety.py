"""Command gate rules: first goal = present, stale commands hold, clamp to limits, max step."""

from __future__ import annotations

import math

import pytest

from so100_driver.arm import JOINT_NAMES, Calibration
from so100_driver.safety import CommandError, CommandGate

HERE = {j: 0.1 for j in JOINT_NAMES}


@pytest.fixture
def gate(calibration: Calibration) -> CommandGate:
    return CommandGate(calibration, max_relative_target=0.2, command_timeout_s=0.5)


def test_first_goal_is_present_position_even_with_a_command(gate: CommandGate) -> None:
    gate.set_targets(["elbow_flex"], [1.0], received_at=0.0)
    assert gate.goal(HERE, now=0.01) == HERE


def test_command_by_name_is_stepped_toward(gate: CommandGate) -> None:
    gate.goal(HERE, now=0.0)
    gate.set_targets(["elbow_flex", "gripper"], [0.15, 0.9], received_at=0.0)
    goal = gate.goal(HERE, now=0.01)
    assert goal["elbow_flex"] == pytest.approx(0.15)
    assert goal["gripper"] == pytest.approx(0.1 + 0.2)  # clipped to max_relative_target
    assert goal["shoulder_pan"] == 0.1  # not commanded: holds
    assert gate.stats.clipped_goals == 1


def test_clamped_to_calibrated_limits(gate: CommandGate, calibration: Calibration) -> None:
    lower, upper = calibration.limits_radians("wrist_flex")
    near_upper = dict(HERE, wrist_flex=upper - 0.05)
    gate.goal(near_upper, now=0.0)
    gate.set_targets(["wrist_flex"], [upper + 1.0], received_at=0.0)
    assert gate.goal(near_upper, now=0.01)["wrist_flex"] == pytest.approx(upper)


def test_stale_command_is_ignored_and_joint_holds(gate: CommandGate) -> None:
    gate.goal(HERE, now=0.0)
    gate.set_targets(["shoulder_lift"], [0.2], received_at=0.0)
    assert gate.goal(HERE, now=0.1)["shoulder_lift"] == pytest.approx(0.2)
    moved = dict(HERE, shoulder_lift=0.18)
    gate.set_targets(["shoulder_lift"], [0.29], received_at=0.1)
    assert gate.goal(moved, now=0.7)["shoulder_lift"] == pytest.approx(0.2)  # stale: holds last goal
    assert gate.stats.stale_commands == 1


def test_rearm_forgets_targets(gate: CommandGate) -> None:
    gate.goal(HERE, now=0.0)
    gate.set_targets(["gripper"], [0.2], received_at=0.0)
    gate.rearm()
    assert gate.goal(HERE, now=0.01) == HERE


@pytest.mark.parametrize(
    ("names", "positions", "message"),
    [
        (["elbow"], [0.1], "unknown joint name"),
        (["gripper"], [math.nan], "non-finite position for joint\\(s\\) \\['gripper'\\]"),
        (["gripper", "gripper"], [0.1, 0.2], "duplicate"),
        (["gripper"], [], "1 joint names but 0 positions"),
    ],
)
def test_bad_commands_are_rejected_whole(gate: CommandGate, names, positions, message: str) -> None:
    gate.goal(HERE, now=0.0)
    with pytest.raises(CommandError, match=message):
        gate.set_targets(names, positions, received_at=0.0)
    assert gate.goal(HERE, now=0.01) == HERE
    assert gate.stats.commands_rejected == 1


def test_array_in_joint_order(gate: CommandGate) -> None:
    gate.goal(HERE, now=0.0)
    gate.set_array([0.0, 0.05, 0.1, 0.15, 0.2, 0.25], received_at=0.0)
    goal = gate.goal(HERE, now=0.01)
    assert [goal[j] for j in JOINT_NAMES] == pytest.approx([0.0, 0.05, 0.1, 0.15, 0.2, 0.25])
    with pytest.raises(CommandError, match="array has 5 values, expected 6"):
        gate.set_array([0.0] * 5, received_at=0.0)
