"""The policy node's pure helpers: chunk history (leftover by id), joint vectors by name, joint units."""
from __future__ import annotations

import numpy as np
import pytest

from rtc_policy_node.core.chunk_history import ChunkHistory
from rtc_policy_node.joint_units import CalibratedUnits, RadianUnits
from rtc_contract.joint_vector import joint_vector
from so100_driver.arm import default_calibration_path, feature_norm_modes, load_calibration


def test_leftover_is_the_active_chunk_from_the_reported_row():
    history = ChunkHistory(keep=2)
    first = np.arange(10.0).reshape(5, 2)
    assert history.last_id == 0
    first_id = history.add(first, in_motion=False)
    first[:] = -1  # the history keeps its own copy
    assert first_id == 1 and history.last_id == 1
    assert np.array_equal(history.leftover(1, 3), np.arange(6.0, 10.0).reshape(2, 2))
    assert history.leftover(1, 5) is None  # used up
    assert history.leftover(7, 0) is None  # not ours
    assert not history.in_motion(1) and not history.in_motion(7)


def test_old_chunks_are_forgotten():
    history = ChunkHistory(keep=2)
    ids = [history.add(np.zeros((3, 1)), in_motion=True) for _ in range(3)]
    assert ids == [1, 2, 3]
    assert history.leftover(1, 0) is None
    assert history.leftover(2, 0) is not None and history.leftover(3, 0) is not None
    assert history.in_motion(3) and not history.in_motion(1)  # forgotten: unknown


def test_joint_vector_matches_by_name_not_position():
    vector = joint_vector(["b", "c", "a"], [2.0, 3.0, 1.0], ["a", "b"])
    assert vector.tolist() == [1.0, 2.0]


@pytest.mark.parametrize("names, positions, message", [
    (["a"], [1.0], r"lacks \['b'\]"),
    (["a", "b"], [1.0], "2 names but 1 positions"),
    (["a", "b"], [1.0, float("nan")], r"\['b'\] is not finite"),
])
def test_joint_vector_errors_name_the_joint(names, positions, message):
    with pytest.raises(ValueError, match=message):
        joint_vector(names, positions, ["a", "b"])


@pytest.mark.parametrize("use_degrees", [True, False])
def test_joint_units_convert_rows_like_the_calibration_does_one_value_at_a_time(use_degrees):
    calibration = load_calibration(default_calibration_path())
    joints = ["gripper", "elbow_flex", "shoulder_pan"]  # the policy's order, not the arm's
    units = CalibratedUnits(calibration, joints, use_degrees)
    modes = feature_norm_modes(use_degrees)
    radians = np.random.default_rng(0).uniform(-1.5, 1.5, size=(50, 3))
    features = units.to_features(radians)
    for row, feature_row in zip(radians, features):
        for joint, value, feature in zip(joints, row, feature_row):
            assert feature == pytest.approx(calibration.radians_to_feature(joint, float(value), modes[joint]))
    inside = units.to_features(units.to_radians(features))  # round trip, within the calibrated range
    np.testing.assert_allclose(inside, features, atol=1e-9)
    with pytest.raises(ValueError, match="3 joint values"):
        units.to_features(np.zeros((2, 6)))
    with pytest.raises(ValueError, match="not in calibration"):
        CalibratedUnits(calibration, ["elbow"])


def test_radian_units_pass_values_through_and_check_the_width():
    units = RadianUnits(["j1", "j2", "j3", "j4", "j5", "j6", "j7"])
    rows = np.random.default_rng(1).normal(size=(4, 7))
    np.testing.assert_array_equal(units.to_radians(units.to_features(rows)), rows)
    with pytest.raises(ValueError, match="7 joint values"):
        units.to_features(np.zeros(6))
