"""ChunkSampler: a radians observation (joints by name) in, a radians chunk with its guided flag and
horizon out; what it does with joints in another order, missing or NaN, and with guidance given per call."""
from __future__ import annotations

import numpy as np
import pytest

from rtc_contract.modes import GuidanceMode
from rtc_policy_node.builtin_policy import CAMERA_KEY
from rtc_policy_node.builtin_policy.untrained import tiny_config, write_untrained_checkpoint
from rtc_policy_node.chunk_sampler import ChunkSampler, RadianObservation
from rtc_policy_node.joint_units import RadianUnits
from rtc_policy_node.lerobot_policy import GuidanceSettings, LeRobotPolicy

JOINTS = ["j0", "j1", "j2", "j3", "j4", "j5"]


@pytest.fixture(scope="module")
def sampler(tmp_path_factory: pytest.TempPathFactory) -> ChunkSampler:
    path = write_untrained_checkpoint(tmp_path_factory.mktemp("small_flow"), tiny_config(6))
    policy = LeRobotPolicy(str(path), "cpu", GuidanceSettings(GuidanceMode.IDENTITY, execution_horizon=8))
    return ChunkSampler(policy, RadianUnits(JOINTS), JOINTS)


def _observation(order: list[str] = JOINTS, positions: list[float] | None = None) -> RadianObservation:
    by_name = dict(zip(JOINTS, positions or [0.1, -0.2, 0.3, 0.0, 0.5, -0.4]))
    image = np.random.default_rng(0).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    return RadianObservation(order, [by_name[name] for name in order], {CAMERA_KEY: image})


def test_joints_are_matched_by_name_not_position(sampler: ChunkSampler) -> None:
    noise = np.random.default_rng(1).standard_normal((12, 6)).astype(np.float32)
    ordered = sampler.sample(_observation(), None, 0, noise)
    shuffled = sampler.sample(_observation(JOINTS[::-1]), None, 0, noise)
    np.testing.assert_array_equal(ordered.actions, shuffled.actions)
    assert ordered.actions.shape == (12, 6) and not ordered.guided


def test_guided_flag_and_horizon_follow_the_leftover_and_the_mode(sampler: ChunkSampler) -> None:
    first = sampler.sample(_observation(), None, 0)
    assert not first.guided and first.execution_horizon == 8
    long_leftover = sampler.sample(_observation(), first.sampled.model_output[2:], 2)
    assert long_leftover.guided and long_leftover.execution_horizon == 8
    short = sampler.sample(_observation(), first.sampled.model_output[-5:], 2)
    assert short.guided and short.execution_horizon == 5  # the rows guidance could follow
    off = GuidanceSettings(GuidanceMode.OFF, execution_horizon=8)
    unguided = sampler.sample(_observation(), first.sampled.model_output[2:], 2, guidance=off)
    assert not unguided.guided and sampler.settings.mode is GuidanceMode.OFF
    sampler.sample(_observation(), None, 0, guidance=GuidanceSettings("identity", execution_horizon=8))
    assert sampler.settings.mode is GuidanceMode.IDENTITY  # a mode given by name becomes the enum


def test_a_missing_or_nan_joint_is_refused(sampler: ChunkSampler) -> None:
    with pytest.raises(ValueError, match="lacks"):
        sampler.sample(RadianObservation(JOINTS[:5], [0.0] * 5, _observation().images), None, 0)
    with pytest.raises(ValueError):
        sampler.sample(_observation(positions=[0.0, float("nan"), 0.0, 0.0, 0.0, 0.0]), None, 0)


def test_a_policy_of_other_joints_is_refused(sampler: ChunkSampler) -> None:
    with pytest.raises(ValueError, match="5 joints"):
        ChunkSampler(sampler.policy, RadianUnits(JOINTS[:5]), JOINTS[:5])


def test_guide_with_replaces_the_guidance_for_one_chunk_only(sampler: ChunkSampler) -> None:
    from rtc_policy_node.core.guidance import RTCGuidance
    from rtc_policy_node.denoise_trace import RecordingGuidance

    installed = sampler.policy.guidance
    first = sampler.sample(_observation(), None, 0)
    recorder = RecordingGuidance(RTCGuidance(sampler.policy.rtc_config, mode=GuidanceMode.IDENTITY))
    sampler.sample(_observation(), first.sampled.model_output[2:], 2, guide_with=recorder)
    assert recorder.steps and sampler.policy.guidance is installed
