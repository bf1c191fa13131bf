"""ArmDriver against the emulator: LeRobot-style bring-up, cycles, safety under faults, torque off."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from so100_driver.arm import JOINT_NAMES, MOTOR_IDS, Calibration
from so100_driver.arm_driver import ArmDriver, FatalBusError, HandshakeError
from so100_driver.bus import FeetechBus
from so100_driver.emulator import ServoBusEmulator
from so100_driver.safety import CommandGate


def _driver(port: str, calibration: Calibration, max_failed_cycles: int = 5) -> ArmDriver:
    gate = CommandGate(calibration, max_relative_target=0.2, command_timeout_s=0.5)
    return ArmDriver(FeetechBus(port, timeout_s=0.02, retries=1), calibration, gate, max_failed_cycles)


@pytest.fixture
def driver(bus_emulator: ServoBusEmulator, calibration: Calibration) -> Iterator[ArmDriver]:
    arm = _driver(bus_emulator.port, calibration)
    arm.connect()
    yield arm
    arm.bus.close()


def test_bring_up_configures_like_lerobot(driver: ArmDriver, bus_emulator: ServoBusEmulator) -> None:
    for motor_id in range(1, 7):
        assert bus_emulator.register(motor_id, "Return_Delay_Time") == 0
        assert bus_emulator.register(motor_id, "Acceleration") == 254
        assert bus_emulator.register(motor_id, "P_Coefficient") == 16
        assert bus_emulator.register(motor_id, "D_Coefficient") == 32
        assert bus_emulator.register(motor_id, "Torque_Enable") == 1
    assert bus_emulator.register(MOTOR_IDS["gripper"], "Max_Torque_Limit") == 500
    assert driver.torque_on


def test_calibration_is_written_when_servos_differ(calibration: Calibration, tmp_path) -> None:
    with ServoBusEmulator.for_arm(None, link=tmp_path / "raw") as emulator:
        arm = _driver(emulator.port, calibration)
        arm.connect()
        arm.bus.close()
        for name in JOINT_NAMES:
            assert emulator.register(MOTOR_IDS[name], "Homing_Offset") == calibration.motors[name].homing_offset
            assert emulator.register(MOTOR_IDS[name], "Max_Position_Limit") == calibration.motors[name].range_max


def test_mismatched_calibration_refused_when_writing_is_off(calibration: Calibration, tmp_path) -> None:
    with ServoBusEmulator.for_arm(None, link=tmp_path / "raw") as emulator:
        arm = _driver(emulator.port, calibration)
        with pytest.raises(HandshakeError, match="Homing_Offset is 0 but .*so100_sim_calibration.json says"):
            arm.connect(write_calibration=False)
        arm.bus.close()


def test_late_replies_during_bring_up_are_not_read_as_another_registers_value(calibration: Calibration,
                                                                              tmp_path) -> None:
    """A status packet does not name its register: under load a late reply used to be taken as the
    next small read's value ('servos run different firmware versions')."""
    with ServoBusEmulator.for_arm(calibration, link=tmp_path / "bus") as emulator:
        emulator.delay_replies(0.05, count=2, motor_id=1)  # the ping and its retry are late
        arm = _driver(emulator.port, calibration)
        arm.connect(write_calibration=False)
        arm.bus.close()
    assert arm.torque_on


def test_missing_servo_is_named(calibration: Calibration, tmp_path) -> None:
    with ServoBusEmulator.for_arm(calibration, link=tmp_path / "bus") as emulator:
        emulator.vanish(60.0, motor_ids=[4])
        arm = _driver(emulator.port, calibration)
        with pytest.raises(HandshakeError, match=r"joint wrist_flex \(motor id 4\) does not answer"):
            arm.connect()
        arm.bus.close()


def test_first_cycle_holds_then_commands_move(driver: ArmDriver, bus_emulator: ServoBusEmulator) -> None:
    before = bus_emulator.positions()
    driver.gate.set_targets(["elbow_flex"], [0.15], received_at=time.monotonic())
    first = driver.cycle()
    assert first is not None and first.goal == first.positions
    assert bus_emulator.positions() == before
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        driver.gate.set_targets(["elbow_flex"], [0.15], received_at=time.monotonic())
        reading = driver.cycle()
        if reading is not None and abs(reading.positions["elbow_flex"] - 0.15) < 0.01:
            break
        time.sleep(0.01)
    assert reading.positions["elbow_flex"] == pytest.approx(0.15, abs=0.01)
    assert reading.positions["shoulder_pan"] == pytest.approx(0.0, abs=0.002)


def test_a_dry_run_only_reads_and_a_normal_bring_up_writes_goals(bus_emulator: ServoBusEmulator,
                                                                    calibration: Calibration) -> None:
    arm = _driver(bus_emulator.port, calibration)
    arm.connect(torque=False)
    try:
        before = bus_emulator.positions()
        for _ in range(20):
            arm.gate.set_targets(["elbow_flex"], [0.3], received_at=time.monotonic())
            reading = arm.cycle()
            assert reading is not None and reading.goal == reading.positions  # measured, nothing commanded
        assert bus_emulator.positions() == before
        assert not any(bus_emulator.torque_was_enabled().values())
        assert set(bus_emulator.writes("Goal_Position").values()) == {0}
        arm.connect()  # the same emulator counts what a normal bring-up writes
        for _ in range(10):  # a cycle whose sync write timed out (a loaded machine) writes nothing
            arm.cycle()
            if all(count >= 2 for count in bus_emulator.writes("Goal_Position").values()):
                break
        assert all(bus_emulator.torque_was_enabled().values())
        assert all(count >= 2 for count in bus_emulator.writes("Goal_Position").values())
    finally:
        arm.bus.close()


@pytest.mark.parametrize(
    "inject",
    [
        lambda emu: emu.drop_replies(1, motor_id=3),
        lambda emu: emu.corrupt_replies(1, motor_id=3),
        lambda emu: emu.delay_replies(0.03, motor_id=3),
        lambda emu: emu.inject_garbage(b"\xff\xff\x03\x20junk"),
        lambda emu: emu.vanish(0.1),
    ],
    ids=["drop", "corrupt", "late", "garbage", "vanish"],
)
def test_faults_never_cause_wrong_or_sudden_motion(driver: ArmDriver, bus_emulator: ServoBusEmulator, inject) -> None:
    driver.cycle()
    hold = dict(bus_emulator.positions())
    inject(bus_emulator)
    readings = []
    for _ in range(20):
        reading = driver.cycle()
        if reading is not None:
            readings.append(reading)
        time.sleep(0.01)
    assert readings, "the driver never recovered"
    assert driver.bus.stats.retries > 0
    assert bus_emulator.positions() == hold  # no command: nothing moved
    for reading in readings:
        assert reading.goal == pytest.approx(readings[0].goal)


def test_persistent_failure_is_fatal_and_torque_off_is_best_effort(driver: ArmDriver, bus_emulator: ServoBusEmulator) -> None:
    bus_emulator.vanish(60.0, motor_ids=[2])
    with pytest.raises(FatalBusError, match="5 failed cycles in a row"):
        for _ in range(10):
            driver.cycle()
    assert driver.torque_off() is False  # motor 2 is off the bus and cannot confirm
    enabled = bus_emulator.torque_enabled()
    assert enabled[2] and not any(v for m, v in enabled.items() if m != 2)


def test_health_read(driver: ArmDriver) -> None:
    assert driver.cycle(read_health=True) is not None
    assert driver.stats.voltages["gripper"] == pytest.approx(7.4)
    assert driver.stats.temperatures["elbow_flex"] == 32.0


def test_a_cycle_is_timed_as_the_guides_robot_components_while_profiling(driver: ArmDriver, profiler) -> None:
    for _ in range(3):
        assert driver.cycle() is not None
    stats = profiler.get_profiling_stats()
    assert stats["robot.get_observation"]["count"] == 3
    assert stats["robot.send_action"]["count"] == 3
