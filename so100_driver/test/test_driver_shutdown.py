"""The driver's shutdown policy and watchdog: pose parsing, the ramp, and hold-then-park against the
emulated bus (real protocol on a pty)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from so100_driver.arm import JOINT_NAMES, Calibration
from so100_driver.arm_driver import ArmDriver
from so100_driver.bus import FeetechBus
from so100_driver.emulator import ServoBusEmulator
from so100_driver.safety import CommandGate, ShutdownPolicy, parse_pose, rest_pose_notes

RATE_HZ = 100.0


@pytest.fixture
def driver(bus_emulator: ServoBusEmulator, calibration: Calibration) -> Iterator[ArmDriver]:
    gate = CommandGate(calibration, max_relative_target=0.2, command_timeout_s=0.5)
    arm = ArmDriver(FeetechBus(bus_emulator.port, timeout_s=0.02, retries=1), calibration, gate)
    arm.connect()
    yield arm
    arm.bus.close()


def test_pose_is_hold_or_named_joints_inside_their_limits(calibration: Calibration) -> None:
    assert parse_pose(" hold ", calibration) is None
    assert parse_pose("shoulder_lift=-1.0, elbow_flex=0.5", calibration) == {"shoulder_lift": -1.0, "elbow_flex": 0.5}
    with pytest.raises(ValueError, match="'elbow=1' is not joint=radians"):
        parse_pose("elbow=1", calibration)
    with pytest.raises(ValueError, match="'x' for gripper is not a number"):
        parse_pose("gripper=x", calibration)
    with pytest.raises(ValueError, match="wrist_flex=9.0 is not an angle in radians"):
        parse_pose("wrist_flex=9", calibration)
    lower, upper = calibration.limits_radians("elbow_flex")
    assert parse_pose(f"elbow_flex={upper + 0.1}, wrist_flex=0.2", calibration) == {"elbow_flex": upper,
                                                                                  "wrist_flex": 0.2}
    assert parse_pose(f"elbow_flex={lower - 0.1}", calibration) == {"elbow_flex": lower}
    assert rest_pose_notes(f"elbow_flex={upper + 0.1}, wrist_flex=0.2", calibration) == [
        f"rest_pose: elbow_flex={upper + 0.1} is outside its calibrated limits; using {upper:.4f} rad"]
    with pytest.raises(ValueError, match="is empty"):
        parse_pose("", calibration)
    with pytest.raises(ValueError, match="rest_velocity must be positive"):
        ShutdownPolicy.from_parameters(1.0, "hold", 0.0, True, calibration)


def test_ramp_reaches_the_pose_at_the_ramp_velocity_all_joints_together() -> None:
    start = {j: 0.0 for j in JOINT_NAMES}
    policy = ShutdownPolicy(pose={"shoulder_lift": -1.0, "gripper": 0.25}, ramp_velocity=0.5)
    goals = policy.ramp(start, RATE_HZ)
    assert len(goals) == 200  # 1 rad at 0.5 rad/s, 100 goals per second
    assert goals[-1] == {**start, "shoulder_lift": -1.0, "gripper": 0.25}
    steps = [abs(b["shoulder_lift"] - a["shoulder_lift"]) for a, b in zip([start] + goals, goals)]
    assert max(steps) == pytest.approx(0.005)
    assert ShutdownPolicy().ramp(start, RATE_HZ) == []  # hold


def test_hold_then_park_keeps_torque_on_and_ignores_commands(driver: ArmDriver, bus_emulator: ServoBusEmulator,
                                                            calibration: Calibration) -> None:
    driver.cycle()
    driver.gate.set_targets(["elbow_flex"], [0.3], time.monotonic())  # a command just before exit
    policy = ShutdownPolicy(hold_s=0.2, pose={"elbow_flex": -0.2}, ramp_velocity=2.0)
    started = time.monotonic()
    driver.hold_and_park(policy, RATE_HZ, abort=lambda: False)
    assert time.monotonic() - started >= 0.2 + 0.1 + 0.5  # hold, ramp (0.2 rad at 2 rad/s), settle
    assert all(bus_emulator.torque_enabled().values())  # torque off is the caller's, per policy
    reading = driver.cycle()
    assert reading.positions["elbow_flex"] == pytest.approx(-0.2, abs=0.01)
    assert reading.positions["shoulder_lift"] == pytest.approx(0.0, abs=0.01)  # the others stayed


def test_an_explicit_request_cuts_the_sequence_short(driver: ArmDriver) -> None:
    driver.cycle()
    requests = iter([False, False, True])
    started = time.monotonic()
    driver.hold_and_park(ShutdownPolicy(hold_s=5.0), RATE_HZ, abort=lambda: next(requests))
    assert time.monotonic() - started < 1.0


def test_watchdog_counts_a_silence_once_and_holds(calibration: Calibration) -> None:
    gate = CommandGate(calibration, max_relative_target=0.2, command_timeout_s=0.5)
    here = {j: 0.1 for j in JOINT_NAMES}
    gate.goal(here, now=0.0)
    gate.set_targets(list(JOINT_NAMES), [0.15] * 6, received_at=0.0)
    assert gate.goal(here, now=0.1)["gripper"] == pytest.approx(0.15)
    assert gate.goal(here, now=0.7) == {j: pytest.approx(0.15) for j in JOINT_NAMES}  # held
    gate.goal(here, now=0.8)
    assert gate.stats.command_silences == 1 and gate.stats.stale_commands == 6
    assert gate.seconds_since_command(now=0.8) == pytest.approx(0.8)
