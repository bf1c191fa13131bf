"""The built-in loader (no LeRobot) against LeRobot's path as the numerical oracle: same checkpoint,
observation and noise -> the same chunk, in every guidance mode; and its import pulls in no LeRobot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rtc_policy_node.builtin_policy import CAMERA_KEY
from rtc_policy_node.builtin_policy.flow_model import SmallFlowModel
from rtc_policy_node.builtin_policy.modeling_small_flow import SmallFlowPolicy
from rtc_policy_node.builtin_policy.untrained import tiny_config, write_untrained_checkpoint
from rtc_policy_node.lerobot_policy import GuidanceSettings, LeRobotPolicy
from rtc_policy_node.shipped_checkpoints import SHIPPED_CHECKPOINT, TWIN_CHECKPOINT, shipped_checkpoint_path

MODES = ("off", "identity", "vjp", "prefix")


def _both(path: Path, guidance: GuidanceSettings) -> tuple[LeRobotPolicy, LeRobotPolicy]:
    lean = LeRobotPolicy(str(path), "cpu", guidance)
    oracle = LeRobotPolicy(str(path), "cpu", guidance, via_lerobot=True)
    assert isinstance(lean.policy, SmallFlowModel) and isinstance(oracle.policy, SmallFlowPolicy)
    return lean, oracle


def _observation(path: Path, seed: int) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    config = json.loads((path / "config.json").read_text())
    (key,) = [k for k, f in config["input_features"].items() if f["type"] == "VISUAL"]
    _, height, width = config["input_features"][key]["shape"]
    joints = config["output_features"]["action"]["shape"][0]
    rng = np.random.default_rng(seed)
    state = rng.normal(size=joints) * 20.0
    images = {key: rng.integers(0, 256, (height, width, 3), dtype=np.uint8)}
    return state, images, rng.normal(size=(config["chunk_size"], joints)).astype(np.float32)


def _same(a, b) -> None:
    np.testing.assert_allclose(a.actions, b.actions, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(a.model_output, b.model_output, rtol=1e-5, atol=1e-5)
    assert a.mode_choice == b.mode_choice


@pytest.mark.slow
@pytest.mark.parametrize("name", [SHIPPED_CHECKPOINT, TWIN_CHECKPOINT])
def test_shipped_checkpoints_sample_the_same_chunk_as_through_lerobot(name: str) -> None:
    path = shipped_checkpoint_path(name)
    lean, oracle = _both(path, GuidanceSettings("off", execution_horizon=20))
    state, images, noise = _observation(path, seed=1)
    for mode in MODES:
        for policy in (lean, oracle):
            policy.configure(GuidanceSettings(mode, execution_horizon=20))
        first = [policy.sample(state, images, None, 0, noise=noise) for policy in (lean, oracle)]
        _same(*first)
        leftover = first[0].model_output[25:]
        moved = state + 1.5
        _same(*[policy.sample(moved, images, leftover, 6, noise=noise[::-1].copy()) for policy in (lean, oracle)])
        if mode != "off":  # the chunk after a first one (keep_or_follow), both ways it can go
            for bound in (1e-9, 1e9):
                _same(*[policy.sample(moved, images, leftover[:8], 4, noise=noise, max_disagreement=bound)
                        for policy in (lean, oracle)])


def test_mode_choice_chooses_the_same_candidate() -> None:
    path = shipped_checkpoint_path(SHIPPED_CHECKPOINT)
    lean, oracle = _both(path, GuidanceSettings("identity", mode_candidates=4, max_mode_disagreement=0.5))
    state, images, noise = _observation(path, seed=2)
    leftover = lean.sample(state, images, None, 0, noise=noise).model_output[25:]
    _same(*[policy.sample(state, images, leftover, 5, noise=noise) for policy in (lean, oracle)])


@pytest.mark.parametrize("relative", [False, True])
def test_untrained_checkpoints_of_another_size_agree_too(tmp_path: Path, relative: bool) -> None:
    """Seven joints, a 64 px camera, relative actions (re-anchored leftover) or not."""
    names = [f"j{i}" for i in range(6)] + ["gripper"]
    path = write_untrained_checkpoint(tmp_path / "tiny", tiny_config(7, names, image_size=64,
                                                                      use_relative_actions=relative))
    lean, oracle = _both(path, GuidanceSettings("prefix", execution_horizon=8))
    assert lean.relative_mask is None if not relative else (lean.relative_mask == oracle.relative_mask).all()
    state, images, noise = _observation(path, seed=3)
    leftover = lean.sample(state, images, None, 0, noise=noise).model_output[4:]
    _same(*[policy.sample(state + 0.7, images, leftover, 3, noise=noise) for policy in (lean, oracle)])


@pytest.mark.slow
def test_loading_and_sampling_the_built_in_policy_imports_no_lerobot() -> None:
    """A fresh interpreter does what the policy node does before its first chunk."""
    script = f"""
import sys
import numpy as np
import rtc_policy_node.policy_node
from rtc_policy_node.builtin_policy import default_checkpoint_path
from rtc_policy_node.lerobot_policy import GuidanceSettings, LeRobotPolicy
policy = LeRobotPolicy(default_checkpoint_path(), "cpu", GuidanceSettings("vjp"))
first = policy.sample(np.zeros(6), {{{CAMERA_KEY!r}: np.zeros((96, 96, 3), np.uint8)}}, None, 0)
policy.sample(np.zeros(6), {{{CAMERA_KEY!r}: np.zeros((96, 96, 3), np.uint8)}}, first.model_output[25:], 5)
heavy = ("lerobot", "torchvision", "transformers", "datasets", "draccus")
print(sorted(name for name in sys.modules if name.split(".")[0] in heavy))
"""
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
