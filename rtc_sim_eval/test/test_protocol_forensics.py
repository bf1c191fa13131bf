"""bench/protocol_forensics.py: the per-episode facts it reads from a record, the estimate its --only
warm-up carries, and one short twin episode through it (slow)."""

from __future__ import annotations

import dataclasses
import importlib
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from rtc_policy_node.builtin_policy import default_checkpoint_path
from so100_driver.sim import sample_scene

from rtc_sim_eval import rollout
from rtc_sim_eval.cli import run_variant
from rtc_sim_eval.latency_profiles import Fixed
from rtc_sim_eval.protocol import Carried
from rtc_sim_eval.rollout import EpisodeRecord, LoopSettings
from rtc_sim_eval.sim_policy import SimPolicy
from rtc_sim_eval.twin_task import TwinPickPlace

BENCH = Path(__file__).resolve().parents[2] / "bench"


def import_bench_script(name: str):
    """A bench script as a module, leaving bench/ off sys.path: its foxglove.py would hide the foxglove
    package from every later test of the session."""
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module(name)
    finally:
        sys.path[:] = [entry for entry in sys.path if entry != str(BENCH)]


forensics = import_bench_script("protocol_forensics")

CHECKPOINT = Path(__file__).resolve().parents[2] / "rtc_policy_node" / "checkpoints" / "builtin_so100_twin"


def _record(chunk_ids: list[int], gripper: list[float]) -> EpisodeRecord:
    record = EpisodeRecord(scene=None, mode="identity", latency="fixed:0", positions=[np.zeros(6)])
    for chunk_id, value in zip(chunk_ids, gripper):
        command = np.zeros(6)
        command[forensics.GRIPPER] = value
        record.commands.append(command)
        record.positions.append(command)
        record.chunk_ids.append(chunk_id)
    return record


def test_seams_are_the_ticks_serving_a_new_chunk_holds_left_out() -> None:
    record = _record([-1, 1, 1, 2, 2, -1, 2, 3], [0.0] * 8)
    assert forensics.seam_ticks(record) == [3, 7]


def test_the_jaws_open_when_wider_than_on_the_cube() -> None:
    wider = forensics.OPENING_RAD
    gripper = np.array([-0.4, -0.6, -0.75, -0.75, -0.75 + wider / 2, -0.75 + 2 * wider, -0.4])
    assert forensics.opening_tick(gripper, on_cube=-0.75, start=2) == 5  # half as wide is a wobble on the cube
    assert forensics.opening_tick(gripper, on_cube=-0.75) == 0  # before the grasp they were open
    assert forensics.opening_tick(gripper[:5], on_cube=-0.75, start=2) is None  # still on the cube


def test_seam_phases_follow_the_lift_and_the_opening() -> None:
    assert forensics.phase(10, lift_tick=None, open_tick=None) == "approach"
    assert [forensics.phase(t, 20, 50) for t in (19, 20, 49, 50, 64, 65)] == \
        ["approach", "carry", "carry", "place", "place", "after"]


def test_a_seam_jerk_is_measured_in_its_own_window() -> None:
    ticks = 60
    record = _record([1] * 30 + [2] * 30, [0.0] * ticks)
    for k in range(30, ticks + 1):  # the new chunk starts 0.05 rad off: a step at its seam
        record.positions[k] = record.positions[k] + 0.05
    seams = forensics.seam_ticks(record)
    jerk = forensics.per_seam_jerk(record, seams)
    assert seams == [30] and jerk[0] > 0
    assert jerk[0] == pytest.approx(forensics.measured_seam_jerk(record).seam_max)


def test_the_recording_twin_is_put_back_even_after_an_error() -> None:
    with pytest.raises(RuntimeError), forensics.recording_twin():
        assert rollout.TwinPickPlace is forensics.RecordingPickPlace
        raise RuntimeError("an episode failed")
    assert rollout.TwinPickPlace is TwinPickPlace


@pytest.mark.parametrize("mode", ["identity", "lerobot_main", "lerobot"])
def test_the_warm_up_carries_the_estimate_a_whole_first_episode_leaves(mode: str) -> None:
    """--only runs the cell's first episode for WARMUP_TICKS: with a fixed delay its estimate is the
    one the whole episode leaves (here on the fast kinematic task)."""
    torch.set_num_threads(1)  # as rtc_sim_eval runs: bit-identical episodes
    policy = SimPolicy(default_checkpoint_path())
    scene = sample_scene(np.random.default_rng([0, 0]))
    settings = LoopSettings(max_ticks=240)
    whole, warm = Carried(), Carried()
    run_variant(policy, scene, mode, Fixed(6), settings, 0, 0, whole)
    run_variant(policy, scene, mode, Fixed(6), dataclasses.replace(settings, max_ticks=forensics.WARMUP_TICKS),
                0, 0, warm)
    if mode == "identity":
        assert warm.estimator.estimate() == whole.estimator.estimate() == 6 + settings.scheduler.delay_margin_ticks
    else:
        assert warm.tracker.delay_ticks(1 / 30) == whole.tracker.delay_ticks(1 / 30) == 6


def test_a_bad_episode_list_is_refused() -> None:
    with pytest.raises(SystemExit):
        forensics.parse_args(["--only", "1,x"])


@pytest.mark.slow
def test_one_short_twin_episode_prints_its_row_per_mode(capsys: pytest.CaptureFixture[str]) -> None:
    torch.set_num_threads(1)
    forensics.main(["--modes", "identity,lerobot_main", "--horizons", "50", "--delays", "4", "--seed", "1000",
                    "--only", "0", "--max-ticks", "40", "--unguided", "--checkpoint", str(CHECKPOINT)])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| 1000 |")]
    assert [r.split("|")[2].strip() for r in rows] == ["identity", "lerobot_main"]
    assert all(r.split("|")[3].strip() == "never lifted" for r in rows)  # 1.3 s: not yet at the cube
    assert out.count("release: no opening") == 2
    assert "identity: success 0.0" in out and "lerobot_main: success 0.0" in out
    assert forensics.rollout.TwinPickPlace is TwinPickPlace  # the recording twin is put back
