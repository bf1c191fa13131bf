"""Our unit conversions against LeRobot 0.4.4's own normalisation, with the same calibration file.

Also LeRobot's FeetechMotorsBus as a client of the emulator: it connects (handshake), reads the
same normalised values we compute, and its goal writes land on the ticks we predict.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

lerobot_motors = pytest.importorskip("lerobot.motors")
from lerobot.motors import Motor, MotorCalibration, MotorNormMode  # noqa: E402
from lerobot.motors.feetech import FeetechMotorsBus  # noqa: E402

from so100_driver.arm import JOINT_NAMES, MOTOR_IDS, Calibration, NormMode, feature_norm_modes, load_calibration  # noqa: E402
from so100_driver.bus import FeetechBus  # noqa: E402
from so100_driver.emulator import ServoBusEmulator  # noqa: E402
from so100_driver.registers import REGISTERS  # noqa: E402
from so100_driver.worlds import WORLD_NAMES, make_world  # noqa: E402


def _lerobot_bus(port: str, calibration_file: Path, use_degrees: bool) -> FeetechMotorsBus:
    """The bus exactly as LeRobot's SO-100 follower builds it, calibrated from the file."""
    modes = feature_norm_modes(use_degrees)
    motors = {j: Motor(MOTOR_IDS[j], "sts3215", MotorNormMode(modes[j].value)) for j in JOINT_NAMES}
    data = json.loads(calibration_file.read_text())
    return FeetechMotorsBus(port, motors, {j: MotorCalibration(**data[j]) for j in JOINT_NAMES})


@pytest.fixture(params=[0, 1], ids=["drive_mode0", "drive_mode1"])
def calibration_file(request, calibration: Calibration, tmp_path: Path) -> Path:
    data = calibration.to_dict()
    for joint in JOINT_NAMES:
        data[joint]["drive_mode"] = request.param
    path = tmp_path / "so100_follower.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("use_degrees", [True, False])
def test_conversions_match_lerobot(calibration_file: Path, use_degrees: bool) -> None:
    ours = load_calibration(calibration_file)
    theirs = _lerobot_bus("/dev/null", calibration_file, use_degrees)
    modes = feature_norm_modes(use_degrees)
    for joint in JOINT_NAMES:
        motor_id = MOTOR_IDS[joint]
        motor = ours.motors[joint]
        ticks_samples = sorted({0, motor.range_min - 7, motor.range_min, motor.range_max, motor.range_max + 9,
                                int(motor.midpoint), 1234, 2048, 3000, 4095})
        for ticks in ticks_samples:
            expected = theirs._normalize({motor_id: ticks})[motor_id]
            assert ours.ticks_to_feature(joint, ticks, modes[joint]) == expected, (joint, ticks)
        values = [-150.0, -100.0, -33.3, -0.5, 0.0, 0.49, 12.25, 50.0, 99.99, 100.0, 170.0]
        for value in values:
            expected = theirs._unnormalize({motor_id: value})[motor_id]
            assert ours.feature_to_ticks(joint, value, modes[joint]) == expected, (joint, value)


def test_radians_through_ticks_agree_with_lerobot(calibration_file: Path) -> None:
    ours = load_calibration(calibration_file)
    theirs = _lerobot_bus("/dev/null", calibration_file, use_degrees=True)
    modes = feature_norm_modes(True)
    for joint, ticks in itertools.product(JOINT_NAMES, (900, 2000, 3100)):
        radians = ours.ticks_to_radians(joint, ticks)
        expected = theirs._normalize({MOTOR_IDS[joint]: ticks})[MOTOR_IDS[joint]]
        assert ours.radians_to_feature(joint, radians, modes[joint]) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("world_name", WORLD_NAMES)
def test_lerobot_bus_talks_to_the_emulator(calibration: Calibration, tmp_path: Path, world_name: str) -> None:
    calibration_file = tmp_path / "so100_follower.json"
    calibration.save(calibration_file)
    positions = {"shoulder_pan": 1500, "elbow_flex": 2600, "gripper": 2200}
    world = make_world(world_name, calibration)
    with ServoBusEmulator.for_arm(calibration, link=tmp_path / "bus", positions=positions, world=world) as emulator:
        theirs = _lerobot_bus(emulator.port, calibration_file, use_degrees=True)
        theirs.connect()  # LeRobot's handshake: ping, model number, firmware versions
        try:
            assert theirs.is_calibrated
            read = theirs.sync_read("Present_Position")
            with FeetechBus(emulator.port) as ours:
                ticks = ours.sync_read(REGISTERS["Present_Position"], [MOTOR_IDS[j] for j in JOINT_NAMES])
            modes = feature_norm_modes(True)
            for joint in JOINT_NAMES:
                radians = calibration.ticks_to_radians(joint, ticks[MOTOR_IDS[joint]])
                assert calibration.radians_to_feature(joint, radians, modes[joint]) == pytest.approx(read[joint])
            goal = {"elbow_flex": 12.5, "gripper": 80.0}
            theirs.sync_write("Goal_Position", goal)
            theirs.ping(1)  # a round trip after the reply-less SYNC_WRITE
            for joint, value in goal.items():
                expected = calibration.feature_to_ticks(joint, value, modes[joint])
                assert emulator.register(MOTOR_IDS[joint], "Goal_Position") == expected
            assert modes["gripper"] is NormMode.RANGE_0_100
        finally:
            theirs.disconnect(disable_torque=False)
