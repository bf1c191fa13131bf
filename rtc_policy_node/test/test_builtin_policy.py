"""The built-in small_flow policy, loaded and sampled through LeRobotPolicy: format, modes, refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from lerobot.utils.constants import ACTION, OBS_STATE

from rtc_policy_node import lerobot_policy
from rtc_policy_node.builtin_policy import CAMERA_KEY, CheckpointError, default_checkpoint_path
from rtc_policy_node.builtin_policy.configuration_small_flow import SmallFlowConfig
from rtc_policy_node.builtin_policy.flow_model import SmallFlowModel
from rtc_policy_node.builtin_policy.modeling_small_flow import SmallFlowPolicy
from rtc_policy_node.builtin_policy.network import ChunkDenoiser, cosine_basis
from rtc_policy_node.builtin_policy.untrained import tiny_config, write_untrained_checkpoint
from rtc_policy_node.core.mode_choice import candidate_noises, leftover_disagreement
from rtc_policy_node.lerobot_policy import GuidanceSettings, LeRobotPolicy, chunk_extra_latency_ms, emulate_latency

MODES = ("off", "identity", "vjp", "prefix")


def _tiny_config(joints: int = 6, **overrides) -> SmallFlowConfig:
    return tiny_config(joints, **overrides)


def _write_checkpoint(path: Path, joints: int = 6) -> Path:
    return write_untrained_checkpoint(path, _tiny_config(joints))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_checkpoint(tmp_path_factory.mktemp("small_flow"))


def _observation(seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=6), {CAMERA_KEY: rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)}


def _load(path: Path, mode: str, horizon: int = 8) -> LeRobotPolicy:
    return LeRobotPolicy(str(path), "cpu", GuidanceSettings(mode, execution_horizon=horizon))


@pytest.mark.parametrize("mode", MODES)
def test_loads_through_lerobot_factory_and_samples(checkpoint: Path, mode: str) -> None:
    via_lerobot = LeRobotPolicy(str(checkpoint), "cpu", GuidanceSettings(mode, execution_horizon=8), via_lerobot=True)
    assert isinstance(via_lerobot.policy, SmallFlowPolicy) and via_lerobot.type == "small_flow"
    policy = _load(checkpoint, mode)
    assert isinstance(policy.policy, SmallFlowModel) and policy.type == "small_flow"  # the built-in loader
    assert (policy.image_keys, policy.state_dim, policy.action_dim) == ((CAMERA_KEY,), 6, 6)
    state, images = _observation()
    first = policy.sample(state, images, None, 0)
    chunk = policy.sample(state, images, first.model_output[5:], 3)
    assert chunk.model_output.shape == chunk.actions.shape == (12, 6)
    assert np.isfinite(chunk.actions).all() and chunk.guidance_s >= 0
    np.testing.assert_allclose(chunk.actions, chunk.model_output * 2.0 + 10.0, rtol=1e-5)  # unnormalised


def test_prefix_mode_starts_the_chunk_with_the_leftover(checkpoint: Path) -> None:
    leftover = np.random.default_rng(1).normal(size=(7, 6)).astype(np.float32)
    chunk = _load(checkpoint, "prefix").sample(*_observation(), leftover, 4)
    np.testing.assert_allclose(chunk.model_output[:4], leftover[:4], atol=1e-5)


def test_guidance_pulls_toward_the_leftover_and_noise_fixes_the_sample(checkpoint: Path) -> None:
    rng = np.random.default_rng(2)
    leftover, noise = rng.normal(size=(8, 6)), rng.normal(size=(12, 6))
    gaps, outputs = {}, {}
    for mode in ("off", "vjp"):
        outputs[mode] = _load(checkpoint, mode).sample(*_observation(), leftover, 3, noise=noise).model_output
        gaps[mode] = np.abs(outputs[mode][:3] - leftover[:3]).mean()
    # vjp pulls through the Jacobian of the predicted clean chunk, which an untrained network keeps
    # small: the pull is weaker here than on the shipped checkpoint, but it must be there.
    assert gaps["vjp"] < 0.8 * gaps["off"]
    again = _load(checkpoint, "off").sample(*_observation(), None, 0, noise=noise).model_output
    np.testing.assert_array_equal(again, outputs["off"])


@pytest.mark.parametrize("max_disagreement", [1e-6, 1e6])
def test_mode_choice_samples_candidates_and_guides_or_follows_the_chosen_one(
    checkpoint: Path, max_disagreement: float
) -> None:
    """core.mode_choice wired into sampling: the candidates are the unguided samples of the given
    noise and the noises derived from it; the chosen one comes back guided (commit) or as it is."""
    rng = np.random.default_rng(3)
    leftover, noise = rng.normal(size=(8, 6)), rng.normal(size=(12, 6)).astype(np.float32)
    settings = GuidanceSettings("identity", execution_horizon=8, mode_candidates=4,
                                max_mode_disagreement=max_disagreement)
    chunk = LeRobotPolicy(str(checkpoint), "cpu", settings).sample(*_observation(), leftover, 3, noise=noise)
    choice = chunk.mode_choice
    chosen = candidate_noises(noise, 4)[choice.candidate]
    plain = _load(checkpoint, "identity")
    unguided = plain.sample(*_observation(), None, 3, noise=chosen).model_output
    assert choice.disagreement == pytest.approx(leftover_disagreement(unguided[None], leftover, 3, 8)[0], rel=1e-4)
    if max_disagreement > 1:
        assert choice.guided
        expected = plain.sample(*_observation(), leftover, 3, noise=chosen).model_output
    else:
        assert not choice.guided and choice.candidate == 0
        expected = unguided
    np.testing.assert_allclose(chunk.model_output, expected, atol=1e-5)
    assert plain.sample(*_observation(), leftover, 3, noise=noise).mode_choice is None  # off by default


@pytest.mark.parametrize("mode", ["identity", "vjp", "prefix"])
@pytest.mark.parametrize("max_disagreement", [1e-6, 1e6])
def test_a_chunk_after_a_first_one_is_kept_guided_or_replaced_by_its_unguided_sample(
    checkpoint: Path, mode: str, max_disagreement: float
) -> None:
    """max_disagreement > 0 (the scheduler's Plan): the guided sample, or the unguided one from the
    same noise when the two differ more than that from the delay's row on (core.mode_choice.keep_or_follow),
    reached from the executed rows through the transition (core.mode_choice.smooth_switch)."""
    from rtc_policy_node.core.mode_choice import smooth_switch

    rng = np.random.default_rng(4)
    executed, noise = rng.normal(size=(3, 6)), rng.normal(size=(12, 6)).astype(np.float32)
    policy = _load(checkpoint, mode)
    chunk = policy.sample(*_observation(), executed, 3, noise=noise, max_disagreement=max_disagreement)
    guided = policy.sample(*_observation(), executed, 3, noise=noise).model_output
    unguided = policy.sample(*_observation(), None, 3, noise=noise).model_output
    gap = np.sqrt(np.mean((guided[3:] - unguided[3:]) ** 2, axis=-1)).max()
    assert chunk.mode_choice.disagreement == pytest.approx(gap, rel=1e-4)
    assert chunk.mode_choice.guided == (max_disagreement > 1)
    switched = smooth_switch(executed, unguided, 3, GuidanceSettings().switch_transition_rows)
    np.testing.assert_allclose(chunk.model_output, guided if max_disagreement > 1 else switched, atol=1e-5)
    assert gap > 1e-6  # the executed rows do move the rest of the chunk


def test_guidance_settings_refuse_bad_mode_choice_values() -> None:
    with pytest.raises(ValueError, match="mode_candidates"):
        GuidanceSettings(mode_candidates=-1)
    with pytest.raises(ValueError, match="max_mode_disagreement"):
        GuidanceSettings(max_mode_disagreement=0.0)
    with pytest.raises(ValueError, match="switch_transition_rows"):
        GuidanceSettings(switch_transition_rows=0)


def test_refuses_an_action_dim_it_was_not_trained_for(checkpoint: Path, tmp_path: Path) -> None:
    policy = _load(checkpoint, "vjp")
    state, images = _observation()
    with pytest.raises(ValueError, match=r"leftover has shape \(5, 7\), expected \(rows, 6\)"):
        policy.sample(state, images, np.zeros((5, 7)), 2)
    with pytest.raises(ValueError, match=r"state has shape \(5,\), the policy expects \(6,\)"):
        policy.sample(state[:5], images, None, 0)
    with pytest.raises(ValueError, match="trained for action dim 6, asked for 7"):
        policy.policy.require_action_dim(7)


def test_extra_latency_sleeps_the_rest_of_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(lerobot_policy.time, "sleep", slept.append)
    monkeypatch.setattr(lerobot_policy.time, "monotonic", lambda: 10.05)
    emulate_latency(120.0, started=10.0)
    emulate_latency(20.0, started=10.0)
    assert slept == [pytest.approx(0.07)]


def test_a_latency_sequence_is_added_chunk_by_chunk_cyclically() -> None:
    sequence = [0.0, 300.0, 50.0]
    assert [chunk_extra_latency_ms(10.0, sequence, chunk_id) for chunk_id in range(1, 6)] == [10.0, 310.0, 60.0,
                                                                                                10.0, 310.0]
    with pytest.raises(ValueError, match="empty"):
        chunk_extra_latency_ms(10.0, [], 1)


def _edit_config(path: Path, **fields) -> None:
    config = json.loads((path / "config.json").read_text())
    config.update(fields)
    (path / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda p: (p / "model.safetensors").unlink(), "missing model.safetensors"),
        (lambda p: (p / "config.json").unlink(), "missing config.json"),
        (lambda p: (p / "policy_postprocessor.json").unlink(), "missing policy_postprocessor.json"),
        (lambda p: (p / "policy_preprocessor_step_2_normalizer_processor.safetensors").unlink(),
         "missing policy_preprocessor_step_2_normalizer_processor.safetensors"),
        (lambda p: _edit_config(p, hidden_dim=48), "model.safetensors does not match"),
        (lambda p: _edit_config(p, hidden_dim="wide"), "is not a valid small_flow config"),
        (lambda p: _edit_config(p, type="nonsense"), "unknown policy type 'nonsense'"),
        (lambda p: (p / "config.json").write_text("{not json"), "cannot be read as JSON"),
    ],
)
@pytest.mark.parametrize("via_lerobot", [False, True])
def test_broken_checkpoint_is_a_clear_error(checkpoint: Path, tmp_path: Path, breakage, message: str,
                                            via_lerobot: bool) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(checkpoint, broken)
    breakage(broken)
    with pytest.raises(CheckpointError, match=message):
        LeRobotPolicy(str(broken), "cpu", GuidanceSettings("vjp"), via_lerobot=via_lerobot)


def test_the_built_in_loader_refuses_a_processor_step_it_does_not_apply(checkpoint: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(checkpoint, broken)
    processor = json.loads((broken / "policy_preprocessor.json").read_text())
    processor["steps"].insert(0, {"registry_name": "relative_actions_processor", "config": {}})
    (broken / "policy_preprocessor.json").write_text(json.dumps(processor))
    with pytest.raises(CheckpointError, match="relative_actions_processor.*the built-in loader applies"):
        _load(broken, "vjp")


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        _load(tmp_path / "nowhere", "off")


def test_training_loss_ignores_given_prefix_rows() -> None:
    torch.manual_seed(0)
    policy = SmallFlowPolicy(_tiny_config(train_delay_fraction=1.0, max_train_delay=11))
    batch = {CAMERA_KEY: torch.rand(4, 3, 96, 96), OBS_STATE: torch.randn(4, 6), ACTION: torch.randn(4, 12, 6)}
    loss, info = policy.forward(batch)
    loss.backward()
    assert torch.isfinite(loss) and info["flow_loss"] == pytest.approx(loss.item())


def test_shipped_checkpoint_is_small_and_samples_in_every_mode() -> None:
    path = default_checkpoint_path()
    assert sum(f.stat().st_size for f in path.iterdir()) < 8_000_000
    assert json.loads((path / "train_info.json").read_text())["command"].startswith("python -m ")
    leftover = None
    for mode in MODES:
        policy = LeRobotPolicy(str(path), "cpu", GuidanceSettings(mode))
        assert policy.chunk_size == 50 and (policy.state_dim, policy.action_dim) == (6, 6)
        assert sum(p.numel() for p in policy.policy.parameters()) < 3_000_000
        state, images = np.zeros(6), {CAMERA_KEY: np.zeros((96, 96, 3), np.uint8)}
        chunk = policy.sample(state, images, leftover, 6)
        assert chunk.actions.shape == (50, 6) and np.isfinite(chunk.actions).all()
        leftover = chunk.model_output[25:]


def test_predicted_chunks_are_slow_cosines_per_joint() -> None:
    basis = cosine_basis(50, 12)
    torch.testing.assert_close(basis.T @ basis, torch.eye(12), atol=1e-5, rtol=0)
    torch.manual_seed(0)
    denoiser = ChunkDenoiser(50, 6, cond_dim=8, hidden_dim=32, num_blocks=1, basis_size=12)
    chunk = denoiser(torch.randn(3, 50, 6), torch.rand(3, 50), torch.randn(3, 8))
    torch.testing.assert_close(basis @ (basis.T @ chunk), chunk, atol=1e-5, rtol=0)  # nothing outside the span
