"""LeRobot's own RTC pipeline (ActionQueue, LatencyTracker, RTCProcessor) beside ours on the simulated
task: the guidance really is LeRobot's, its delay is the largest latency ever seen, ours recovers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from lerobot.policies.rtc.modeling_rtc import RTCProcessor
from rtc_policy_node.builtin_policy import default_checkpoint_path
from so100_driver.sim import sample_scene, start_joint_positions

from rtc_sim_eval.cli import evaluate, parse_args
from rtc_sim_eval.rollout import LoopSettings, chunk_noise
from rtc_sim_eval.sim_policy import LeRobotRTCGuidance, SimPolicy


@pytest.fixture(scope="module")
def cold(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("lerobot") / "out.json"
    evaluate(parse_args(["--modes", "lerobot,identity", "--latency", "cold:20,4,jitter:6,2", "--episodes", "2",
                         "--max-ticks", "150", "--json", str(out)]))
    return json.loads(out.read_text())


def test_results_are_keyed_by_mode_then_profile(cold: dict) -> None:
    assert cold["settings"]["latency_profiles"] == ["cold:20,4", "jitter:6,2"]
    for mode in ("lerobot", "identity"):
        assert set(cold["results"][mode]) == {"cold:20,4", "jitter:6,2"}
        for summary in cold["results"][mode].values():
            for key in ("success_rate", "seam_ratio", "max_jerk_rad_s3", "late_chunk_rate", "underruns_per_episode",
                        "assumed_delay_by_chunk"):
                assert key in summary


def test_lerobot_keeps_the_cold_start_delay_and_ours_recovers(cold: dict) -> None:
    lerobot, ours = cold["results"]["lerobot"]["cold:20,4"], cold["results"]["identity"]["cold:20,4"]
    assert lerobot["assumed_delay_by_chunk"][0] == 0  # nothing measured yet: ceil(0 / period)
    assert all(d == 20 for d in lerobot["assumed_delay_by_chunk"][1:])
    assert len(ours["assumed_delay_by_chunk"]) >= 3
    assert all(d <= 4 + LoopSettings().scheduler.delay_margin_ticks for d in ours["assumed_delay_by_chunk"][2:])
    assert lerobot["late_chunk_rate"] == 0 and ours["late_chunk_rate"] == 0  # both err high, never late
    assert lerobot["true_delay_mean"] > 4 and ours["true_delay_mean"] > 4


def test_lerobot_guidance_is_its_rtc_processor_and_equals_identity() -> None:
    policy = SimPolicy(default_checkpoint_path())
    settings = LoopSettings()
    lerobot = policy.lerobot_guidance(settings.guidance("identity"))
    assert isinstance(lerobot, LeRobotRTCGuidance) and isinstance(lerobot.processor, RTCProcessor)
    scene = sample_scene(np.random.default_rng([0, 0]))
    q = start_joint_positions(scene)
    noise = chunk_noise(0, 0, 0, (policy.chunk_size, policy.action_dim))
    _, first = policy.infer(settings.guidance("off"), q, scene, noise, None, 0)
    leftover = first.model_output[20:]
    noise = chunk_noise(0, 0, 1, (policy.chunk_size, policy.action_dim))
    _, theirs = policy.infer(settings.guidance("identity"), q, scene, noise, leftover, 6, lerobot_rtc=True)
    _, ours = policy.infer(settings.guidance("identity"), q, scene, noise, leftover, 6)
    _, unguided = policy.infer(settings.guidance("off"), q, scene, noise, leftover, 6)
    np.testing.assert_allclose(theirs.model_output, ours.model_output, atol=1e-4)
    assert np.abs(theirs.model_output - unguided.model_output).max() > 1e-2  # the guidance did something


def test_a_bad_latency_profile_is_refused() -> None:
    with pytest.raises(SystemExit):
        parse_args(["--latency", "jitter:6"])


def test_delays_stay_the_shorthand_for_fixed(tmp_path: Path) -> None:
    args = parse_args(["--delays", "2,4", "--latency", "cold:8,2"])
    assert [p.spec for p in args.profiles] == ["fixed:2", "fixed:4", "cold:8,2"]
    assert [p.spec for p in parse_args([]).profiles] == ["fixed:0", "fixed:2", "fixed:4", "fixed:6", "fixed:8"]
