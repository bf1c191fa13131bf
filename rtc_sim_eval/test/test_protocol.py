"""The protocol's sweep: delay and horizon lists, the chunk sliced to H, rollforward's state, and the
JSON of a tiny sweep of every mode on the twin's task."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from rtc_policy_node.builtin_policy import default_checkpoint_path
from so100_driver.sim import sample_scene

from rtc_sim_eval.cli import MODES, evaluate, parse_args
from rtc_sim_eval.latency_profiles import Fixed
from rtc_sim_eval.protocol import SlicedPolicy, parse_ticks, settings_for_horizon, trigger_for_horizon
from rtc_sim_eval.rollforward import rolled_forward_state
from rtc_sim_eval.rollout import LoopSettings, MergedChunk, run_episode
from rtc_sim_eval.sim_policy import SimPolicy


@pytest.fixture(scope="module")
def policy() -> SimPolicy:
    return SimPolicy(default_checkpoint_path())


@pytest.mark.parametrize(("text", "ticks"), [
    ("0..20", list(range(21))), ("0..20:2", list(range(0, 21, 2))), ("0,2,4", [0, 2, 4]),
    ("0..4,10", [0, 1, 2, 3, 4, 10]), ("3,3,1..3", [3, 1, 2]), ("30, 50", [30, 50])])
def test_ticks_are_ranges_steps_and_lists(text: str, ticks: list[int]) -> None:
    assert parse_ticks(text) == ticks


@pytest.mark.parametrize("text", ["", "-1", "4..2", "0..20:0", "1.5", "a..b", "0..20:x"])
def test_bad_ticks_are_refused_with_the_token(text: str) -> None:
    with pytest.raises(ValueError):
        parse_ticks(text)
    with pytest.raises(SystemExit):
        parse_args(["--delays", text or ","])


def test_a_horizon_beyond_the_policy_chunk_is_refused(policy: SimPolicy) -> None:
    with pytest.raises(ValueError, match="policy's own chunk"):
        SlicedPolicy(policy, policy.chunk_size + 1)
    with pytest.raises(SystemExit):
        parse_args(["--horizons", "0"])


def test_the_trigger_keeps_its_share_of_the_chunk() -> None:
    assert trigger_for_horizon(25, 50, 50) == 25 and trigger_for_horizon(25, 30, 50) == 15
    assert trigger_for_horizon(0, 30, 50) == 0


def test_a_horizon_cell_scales_only_the_trigger() -> None:
    settings = LoopSettings(max_ticks=99)
    cell = settings_for_horizon(settings, 30, 50)
    assert cell.scheduler.trigger_remaining == 15 and cell.max_ticks == 99
    assert cell.scheduler.delay_margin_ticks == settings.scheduler.delay_margin_ticks
    assert settings_for_horizon(settings, None, 50) is settings  # the policy's own chunk


def test_the_chunk_is_the_policy_chunk_sliced_to_h(policy: SimPolicy) -> None:
    sliced = SlicedPolicy(policy, 30)
    scene = sample_scene(np.random.default_rng([0, 0]))
    settings = LoopSettings(max_ticks=1)  # sync: the first chunk, merged at once
    full = run_episode(policy, scene, "sync", Fixed(0), settings, 0, 0)
    cut = run_episode(sliced, scene, "sync", Fixed(0), settings, 0, 0)
    assert all(len(c.actions) == len(c.model_output) == 30 for c in cut.merged)
    np.testing.assert_array_equal(cut.merged[0].actions, full.merged[0].actions[:30])  # same sample, cut short
    np.testing.assert_array_equal(cut.merged[0].model_output, full.merged[0].model_output[:30])


def test_rollforward_state_is_the_leftover_row_at_the_assumed_delay() -> None:
    actions = np.arange(50 * 6, dtype=float).reshape(50, 6)
    merged = [MergedChunk(1, 0, 0, actions - 1000, actions), MergedChunk(2, 20, 26, actions, actions)]
    plan = SimpleNamespace(leftover=actions[20:], prev_chunk_id=2, prev_chunk_row=20, delay=7)
    np.testing.assert_array_equal(rolled_forward_state(merged, plan), actions[27])
    np.testing.assert_array_equal(rolled_forward_state(merged, SimpleNamespace(**{**vars(plan), "delay": 40})),
                                  actions[49])  # past the leftover's end: its last row
    assert rolled_forward_state(merged, SimpleNamespace(leftover=None, prev_chunk_id=0, prev_chunk_row=0,
                                                        delay=0)) is None  # first chunk: measured state
    with pytest.raises(ValueError, match="never merged"):
        rolled_forward_state(merged, SimpleNamespace(**{**vars(plan), "prev_chunk_id": 9}))


def test_in_an_episode_rollforward_gives_the_policy_that_row(policy: SimPolicy) -> None:
    seen = []
    original = policy.infer

    def spy(guidance, joint_positions, scene, noise, leftover, delay, max_disagreement=0.0, state_positions=None):
        seen.append((joint_positions, state_positions, leftover, delay))
        return original(guidance, joint_positions, scene, noise, leftover, delay, max_disagreement,
                        state_positions=state_positions)

    policy.infer = spy
    try:
        scene = sample_scene(np.random.default_rng([0, 1]))
        record = run_episode(policy, scene, "rollforward", Fixed(4), LoopSettings(max_ticks=80), 0, 0)
    finally:
        del policy.infer
    assert seen[0][1] is None  # the first chunk: no leftover, the measured state
    later = [s for s in seen[1:] if s[2] is not None]
    assert later
    for _, state, leftover, delay in later:
        chunk = next(c for c in record.merged if any(np.array_equal(leftover[0], row) for row in c.model_output))
        row = int(np.flatnonzero([np.array_equal(leftover[0], r) for r in chunk.model_output])[0])
        np.testing.assert_array_equal(state, chunk.actions[min(row + delay, len(chunk.actions) - 1)])


@pytest.mark.slow
def test_a_tiny_protocol_sweep_has_every_mode_horizon_and_delay(tmp_path: Path) -> None:
    out, plots = tmp_path / "protocol.json", tmp_path / "plots"
    evaluate(parse_args(["--world", "mujoco", "--task", "pick_place", "--modes", ",".join(MODES), "--delays", "0..4:4",
                         "--horizons", "30,50", "--episodes", "1", "--max-ticks", "24", "--carry-estimate",
                         "--json", str(out), "--plots", str(plots)]))
    report = json.loads(out.read_text())
    settings = report["settings"]
    assert settings["levels"] == ["horizon", "latency_profile"] and settings["horizons"] == [30, 50]
    assert settings["carry_estimate"] is True and "sliced" in settings["horizon_source"]
    assert settings["trigger_remaining_by_horizon"] == {"30": 15, "50": 25}
    assert set(report["results"]) == set(MODES)
    for mode, by_horizon in report["results"].items():
        assert set(by_horizon) == {"30", "50"}, mode
        for by_delay in by_horizon.values():
            assert set(by_delay) == {"fixed:0", "fixed:4"}
            for summary in by_delay.values():
                for key in ("success_rate", "drop_rate", "peak_contact_force_n", "time_to_target_s",
                            "measured_seam_jerk_ratio", "measured_seam_jerk_max_rad_s3",
                            "measured_inner_jerk_p99_rad_s3", "late_chunk_rate", "underruns_per_episode"):
                    assert key in summary, (mode, key)
                assert summary["episodes"] == 1 and 0 <= summary["drop_rate"] <= 1
                assert summary["peak_contact_force_n"] >= 0
    assert (plots / "protocol.png").stat().st_size > 0
