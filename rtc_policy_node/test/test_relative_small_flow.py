"""A relative-action small_flow through LeRobotPolicy: chunks leave absolute, the leftover is re-anchored."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rtc_policy_node.builtin_policy import CAMERA_KEY
from rtc_policy_node.builtin_policy.untrained import tiny_config, write_untrained_checkpoint
from rtc_policy_node.lerobot_policy import GuidanceSettings, LeRobotPolicy

SO100 = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]
JOINTS = np.array([True, True, True, True, True, False])  # LeRobot's default: the gripper stays absolute


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Path]:
    """The same untrained weights (same seed) as an absolute- and a relative-action policy."""
    return {relative: write_untrained_checkpoint(tmp_path_factory.mktemp(f"relative_{relative}"),
                                                 tiny_config(6, SO100, use_relative_actions=relative))
            for relative in (False, True)}


def _load(path: Path, mode: str = "prefix") -> LeRobotPolicy:
    return LeRobotPolicy(str(path), "cpu", GuidanceSettings(mode, execution_horizon=8))


def _observation() -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(3)
    images = {CAMERA_KEY: rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)}
    return rng.normal(size=6), images, rng.normal(size=(12, 6)).astype(np.float32)


def test_chunks_leave_absolute_offsets_added_to_the_state_on_the_joints(checkpoints):
    state, images, noise = _observation()
    offsets = _load(checkpoints[False]).sample(state, images, None, 0, noise=noise).actions
    chunk = _load(checkpoints[True]).sample(state, images, None, 0, noise=noise)
    np.testing.assert_allclose(chunk.actions, offsets + np.where(JOINTS, state, 0.0), atol=1e-5)
    np.testing.assert_allclose(chunk.model_output, chunk.actions, atol=1e-5)  # the future leftover: absolute


@pytest.mark.parametrize("mode, max_disagreement", [("prefix", 0.0), ("identity", 1e-9)])
def test_guided_chunk_continues_the_leftover_in_absolute_terms_after_the_state_moved(checkpoints, monkeypatch, mode,
                                                                                      max_disagreement):
    """prefix: the guided rows are the leftover's; identity with a switch forced (the chunk after a
    start, mode_choice.smooth_switch): the rows before the delay are the executed ones."""
    policy = _load(checkpoints[True], mode)
    old_state, images, noise = _observation()
    leftover = policy.sample(old_state, images, None, 0, noise=noise).model_output[5:]
    moved = np.array([0.3, -0.2, 0.5, 0.1, -0.4, 7.0])
    new_state = old_state + moved
    delay = 4
    chunk = policy.sample(new_state, images, leftover, delay, noise[::-1].copy(), max_disagreement)
    assert chunk.unguided_instead == (max_disagreement > 0)
    np.testing.assert_allclose(chunk.actions[:delay], leftover[:delay], atol=1e-4)

    # anchored to the old state instead (no re-anchoring): off by exactly the state change on the joints
    reanchor = policy.model_leftover
    monkeypatch.setattr(policy, "model_leftover", lambda rows, state: reanchor(rows, old_state))
    stale = policy.sample(new_state, images, leftover, delay, noise[::-1].copy(), max_disagreement)
    np.testing.assert_allclose(stale.actions[:delay] - leftover[:delay],
                               np.broadcast_to(np.where(JOINTS, moved, 0.0), (delay, 6)), atol=1e-4)


def test_a_broken_state_is_refused_not_sampled(checkpoints):
    policy = _load(checkpoints[True])
    state, images, noise = _observation()
    leftover = policy.sample(state, images, None, 0, noise=noise).model_output[5:]
    with pytest.raises(ValueError, match="not finite"):
        policy.sample(np.full(6, np.nan), images, leftover, 4)
    with pytest.raises(ValueError, match="disagree"):
        policy.sample(state, images, leftover[:, :5], 4)


def test_training_a_relative_small_flow_is_refused_not_silently_absolute(checkpoints):
    policy = _load(checkpoints[True]).policy
    with pytest.raises(NotImplementedError, match="relative-action"):
        policy.forward({})
