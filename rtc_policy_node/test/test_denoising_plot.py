"""LeRobotPolicy.record_denoising: LeRobot's debug tracking through our guidance, one plot and npz per chunk."""
from __future__ import annotations

import numpy as np
import pytest

from rtc_policy_node.builtin_policy import CAMERA_KEY, default_checkpoint_path
from rtc_policy_node.lerobot_policy import GuidanceSettings, LeRobotPolicy

DELAY = 3


@pytest.mark.parametrize("mode", ["vjp", "prefix"])
def test_each_chunk_gets_a_plot_and_its_tracked_steps(tmp_path, mode):
    policy = LeRobotPolicy(default_checkpoint_path(), "cpu", GuidanceSettings(mode))
    policy.record_denoising(tmp_path / "denoising")
    assert policy.guidance.is_debug_enabled()
    rng = np.random.default_rng(0)
    state, images = rng.normal(size=6), {CAMERA_KEY: rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)}
    first = policy.sample(state, images, None, 0)
    leftover = first.model_output[10:]
    second = policy.sample(state, images, leftover, DELAY)
    names = sorted(p.name for p in (tmp_path / "denoising").iterdir())
    assert names == ["chunk_0001.npz", "chunk_0001.png", "chunk_0002.npz", "chunk_0002.png"]
    record = np.load(tmp_path / "denoising" / "chunk_0002.npz")
    steps = len(record["time"])
    assert steps == policy.config.num_inference_steps
    assert record["x1_t"].shape == (steps, len(second.model_output), policy.action_dim)
    np.testing.assert_array_equal(record["leftover"], leftover.astype(np.float32))
    assert ("correction" in record) == (mode == "vjp")  # prefix overwrites rows: no correction term
    if mode == "prefix":  # the last prediction starts on the leftover
        np.testing.assert_allclose(record["x1_t"][-1, :DELAY], leftover[:DELAY], atol=1e-4)


def test_empty_directory_records_nothing(tmp_path):
    policy = LeRobotPolicy(default_checkpoint_path(), "cpu", GuidanceSettings("identity"))
    policy.record_denoising("")
    assert not policy.guidance.is_debug_enabled()
