"""Command gate rules: first goal = present, a far first command rejected, stale commands hold, clamp to
limits, the driver's own velocity and acceleration bounds, max step from the present position."""

from __future__ import annotations

import math

import pytest

from so100_driver.arm import JOINT_NAMES, Calibration
from so100_driver.safety import CommandError, CommandGate, MotionLimits

HERE = {j: 0.1 for j in JOINT_NAMES}


@pytest.fixture
def gate(calibration: Calibration) -> CommandGate:
    return CommandGate(calibration, max_relative_target=0.2, command_timeout_s=0.5)


def test_first_goal_is_present_position_even_with_a_command(gate: CommandGate) -> None:
    gate.set_targets(["elbow_flex"], [1.0], received_at=0.0)
    assert gate.goal(HERE, now=0.01) == HERE


def test_command_by_name_is_stepped_toward(gate: CommandGate) -> None:
    gate.goal(HERE, now=0.0)
    gate.set_targets(["elbow_flex", "gripper"], [0.15, 0.2], received_at=0.0)  # the stream's first command
    gate.goal(HERE, now=0.01)
    gate.set_targets(["elbow_flex", "gripper"], [0.15, 0.9], received_at=0.01)
    goal = gate.goal(HERE, now=0.02)
    assert goal["elbow_flex"] == pytest.approx(0.15)
    assert goal["gripper"] == pytest.approx(0.1 + 0.2)  # clipped to max_relative_target
    assert goal["shoulder_pan"] == 0.1  # not commanded: holds
    assert gate.stats.clipped_goals == 1


def test_a_streams_first_command_far_from_the_present_position_is_rejected_not_clamped(gate: CommandGate) -> None:
    gate.goal(HERE, now=0.0)
    gate.set_targets(["elbow_flex", "gripper"], [0.15, 0.9], received_at=0.0)
    assert gate.goal(HERE, now=0.01) == HERE  # nothing of it moves, not even the near joint
    assert gate.stats.first_commands_rejected == 1
    assert "gripper +0.800 rad" in gate.stats.last_rejection
    gate.set_targets(["gripper"], [0.25], received_at=0.02)  # near: the stream starts
    assert gate.goal(HERE, now=0.03)["gripper"] == pytest.approx(0.25)
    gate.goal(HERE, now=0.6)  # the command went stale: a silence; the next command starts a new stream
    assert gate.stats.command_silences == 1
    gate.set_targets(["gripper"], [1.0], received_at=0.7)
    assert gate.goal(HERE, now=0.71)["gripper"] == pytest.approx(0.25)
    assert gate.stats.first_commands_rejected == 2


def test_motion_limits_bound_speed_and_acceleration_but_not_stopping() -> None:
    limits = MotionLimits(period_s=0.01, max_velocity=2.0, max_acceleration=100.0)
    assert limits.step(1.0, 0.0) == pytest.approx(0.01)  # from rest: 100 rad/s^2 * 0.01 s * 0.01 s
    assert limits.step(1.0, 0.015) == pytest.approx(0.02)  # at most 2 rad/s
    assert limits.step(-1.0, 0.02) == pytest.approx(0.0)  # a reversal: stop first (0 is always allowed)
    assert limits.step(-1.0, 0.0) == pytest.approx(-0.01)
    assert limits.step(0.0, 0.02) == 0.0  # arriving: stop at once
    with pytest.raises(ValueError, match="max_velocity must be positive"):
        MotionLimits(period_s=0.01, max_velocity=math.nan)


def test_gate_with_motion_limits_follows_a_far_target_within_them(calibration: Calibration) -> None:
    limits = MotionLimits(period_s=0.01, max_velocity=4.6, max_acceleration=39.0)
    gate = CommandGate(calibration, max_relative_target=0.25, command_timeout_s=0.5, motion=limits)
    present = dict(HERE)
    goals = [gate.goal(present, now=0.0)["wrist_roll"]]
    for k in range(1, 200):  # a rogue target 2 rad away, after a first command near the arm
        target = 0.2 if k == 1 else 2.0 if k % 2 else -1.5  # and reversing every cycle
        gate.set_targets(["wrist_roll"], [target], received_at=k * 0.01)
        goals.append(gate.goal(present, now=k * 0.01)["wrist_roll"])
        present["wrist_roll"] = goals[-1]  # the servo follows
    steps = [b - a for a, b in zip(goals, goals[1:])]
    assert max(abs(s) for s in steps) <= 4.6 * 0.01 + 1e-12
    for before, after in zip(steps, steps[1:]):
        assert abs(after - before) <= 39.0 * 0.01 ** 2 + 1e-12 or min(before, 0) <= after <= max(before, 0)
    assert gate.stats.motion_limited_goals > 0


def test_clamped_to_calibrated_limits(gate: CommandGate, calibration: Calibration) -> None:
    lower, upper = calibration.limits_radians("wrist_flex")
    near_upper = dict(HERE, wrist_flex=upper - 0.05)
    gate.goal(near_upper, now=0.0)
    gate.set_targets(["wrist_flex"], [upper + 0.1], received_at=0.0)
    assert gate.goal(near_upper, now=0.01)["wrist_flex"] == pytest.approx(upper)
    gate.set_targets(["wrist_flex"], [upper + 1.0], received_at=0.01)
    assert gate.goal(near_upper, now=0.02)["wrist_flex"] == pytest.approx(upper)


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
