"""Arm model: calibration loading, errors naming file and field, and unit conversions."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from so100_driver.arm import (
    JOINT_NAMES,
    MOTOR_IDS,
    Calibration,
    CalibrationError,
    load_calibration,
    NormMode,
    feature_norm_modes,
)


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "calib.json"
    path.write_text(json.dumps(data))
    return path


def test_default_calibration_covers_every_joint(calibration: Calibration) -> None:
    assert tuple(calibration.motors) == JOINT_NAMES
    assert [calibration.motors[j].id for j in JOINT_NAMES] == [MOTOR_IDS[j] for j in JOINT_NAMES] == [1, 2, 3, 4, 5, 6]


def test_save_load_round_trip(calibration: Calibration, tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    calibration.save(path)
    assert load_calibration(path).to_dict() == calibration.to_dict()


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(CalibrationError, match="nope.json"):
        load_calibration(missing)


def test_invalid_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(CalibrationError, match="bad.json.*not valid JSON"):
        load_calibration(path)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("elbow_flex"), "missing joint.*elbow_flex"),
        (lambda d: d["gripper"].pop("range_max"), "'gripper.range_max' is missing"),
        (lambda d: d["wrist_flex"].update(homing_offset="12"), "'wrist_flex.homing_offset' must be an integer"),
        (lambda d: d["shoulder_pan"].update(id=7), "'shoulder_pan.id' is 7"),
        (lambda d: d["wrist_roll"].update(range_min=4095), "'wrist_roll.range_min' .* must be below"),
        (lambda d: d["gripper"].update(range_max=5000), "'gripper.range_max' 5000 is outside"),
        (lambda d: d["elbow_flex"].update(drive_mode=2), "'elbow_flex.drive_mode' must be 0 or 1"),
    ],
)
def test_malformed_field_is_named(calibration: Calibration, tmp_path: Path, mutate, message: str) -> None:
    data = calibration.to_dict()
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(CalibrationError, match=message) as info:
        load_calibration(path)
    assert str(path) in str(info.value)


def test_radians_zero_at_range_midpoint(calibration: Calibration) -> None:
    for joint in JOINT_NAMES:
        motor = calibration.motors[joint]
        assert calibration.ticks_to_radians(joint, (motor.range_min + motor.range_max) / 2) == 0.0
        assert calibration.ticks_to_radians(joint, motor.range_min + 4096) - calibration.ticks_to_radians(
            joint, motor.range_min
        ) == pytest.approx(2 * math.pi)


def test_limits_and_clamp(calibration: Calibration) -> None:
    lower, upper = calibration.limits_radians("gripper")
    assert lower < 0 < upper
    assert calibration.clamp_radians("gripper", 10.0) == upper
    assert calibration.clamp_radians("gripper", -10.0) == lower


@pytest.mark.parametrize("use_degrees", [True, False])
def test_radians_feature_round_trip(calibration: Calibration, use_degrees: bool) -> None:
    positions = {}
    for joint in JOINT_NAMES:
        lower, upper = calibration.limits_radians(joint)
        positions[joint] = lower + 0.37 * (upper - lower)
    features = calibration.radians_to_features(positions, use_degrees)
    back = calibration.features_to_radians(features, use_degrees)
    for joint in JOINT_NAMES:
        assert back[joint] == pytest.approx(positions[joint], abs=1e-12)


def test_norm_modes_match_lerobot_so100() -> None:
    assert feature_norm_modes(True)["gripper"] is NormMode.RANGE_0_100
    assert feature_norm_modes(True)["elbow_flex"] is NormMode.DEGREES
    assert feature_norm_modes(False)["elbow_flex"] is NormMode.RANGE_M100_100
