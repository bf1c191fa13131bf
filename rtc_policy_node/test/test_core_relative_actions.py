"""Relative actions: offsets from the state on masked dims, the leftover re-anchored (LeRobot's rule)."""

from __future__ import annotations

import numpy as np
import pytest

from rtc_policy_node.core.relative_actions import relative_mask, to_absolute, to_relative

SO100 = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]


def test_known_answer_with_the_gripper_absolute():
    leftover = np.array([[1.0, 2.0, 3.0], [1.5, 2.5, 40.0]])  # absolute, last column the gripper
    state = np.array([0.5, -1.0, 30.0])
    mask = relative_mask(["shoulder", "elbow", "gripper"], ["gripper"], 3)
    np.testing.assert_array_equal(mask, [True, True, False])
    np.testing.assert_allclose(to_relative(leftover, state, mask), [[0.5, 3.0, 3.0], [1.0, 3.5, 40.0]])
    np.testing.assert_allclose(to_absolute(np.array([[0.5, 3.0, 3.0]]), state, mask), [[1.0, 2.0, 3.0]])


def test_round_trip_and_reanchoring_moves_by_the_state_change():
    rng = np.random.default_rng(0)
    chunk, old, new = rng.normal(size=(10, 6)), rng.normal(size=6), rng.normal(size=6)
    mask = relative_mask(SO100, ["gripper"], 6)
    np.testing.assert_allclose(to_absolute(to_relative(chunk, new, mask), new, mask), chunk)
    # the same absolute leftover, anchored to the old state instead of the new: off by the state change
    stale = to_relative(chunk, old, mask) - to_relative(chunk, new, mask)
    np.testing.assert_allclose(stale, np.broadcast_to(np.where(mask, new - old, 0.0), chunk.shape))


def test_masks_follow_lerobot_names():
    assert relative_mask(None, ["gripper"], 4).all()          # unnamed actions: all relative
    assert relative_mask(SO100, [], 6).all()                  # nothing excluded
    np.testing.assert_array_equal(relative_mask([n.upper() for n in SO100], ["Gripper"], 6), [1, 1, 1, 1, 1, 0])
    with pytest.raises(ValueError, match="5 action names"):
        relative_mask(SO100[:5], ["gripper"], 6)


def test_bad_inputs_are_refused():
    mask = np.ones(3, dtype=bool)
    with pytest.raises(ValueError, match="disagree"):
        to_relative(np.zeros((4, 3)), np.zeros(2), mask)
    with pytest.raises(ValueError, match="not finite"):
        to_absolute(np.zeros((4, 3)), np.array([0.0, np.nan, 0.0]), mask)
