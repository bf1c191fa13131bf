"""Training the built-in policy on the MuJoCo twin (`train_builtin --world mujoco`): a tiny run writes a
checkpoint LeRobot's loaders accept, with its world and wall time in train_info.json, reproducibly;
`rtc_sim_eval --task pick_place` runs it in closed loop on the twin's task; bad arguments are refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rtc_sim_eval.cli import evaluate, parse_args
from rtc_sim_eval.latency_profiles import Fixed
from rtc_sim_eval.rollout import LoopSettings, run_episode
from rtc_sim_eval.sim_policy import SimPolicy
from rtc_sim_eval.train_builtin import main as train_main
from rtc_sim_eval.twin_demonstrations import command_offsets, episode_samples, twin_training_samples
from rtc_sim_eval.twin_task import PickPlaceScene

TINY = ["--world", "mujoco", "--episodes", "2", "--frame-stride", "4", "--steps", "3", "--batch-size", "8"]


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("twin") / "checkpoint"
    train_main([*TINY, "--out", str(out)])
    return out


@pytest.mark.slow
def test_a_tiny_training_on_the_twin_writes_a_loadable_checkpoint(tiny_checkpoint: Path) -> None:
    info = json.loads((tiny_checkpoint / "train_info.json").read_text())
    assert info["world"] == "mujoco" and info["episodes"] == 2 and info["steps"] == 3
    assert info["wall_seconds"] > 0 and "--world mujoco" in info["command"]
    policy = SimPolicy(tiny_checkpoint)  # LeRobot's loaders, strict weights, the checks of checkpoint.py
    assert (policy.chunk_size, policy.action_dim) == (50, 6)
    assert info["camera"] == policy.image_key == "observation.images.wrist"  # the twin's default camera


@pytest.mark.slow
def test_training_goes_on_from_a_checkpoints_weights_and_refuses_another_cameras(tiny_checkpoint: Path,
                                                                                 tmp_path: Path) -> None:
    from safetensors.torch import load_file

    out = tmp_path / "again"
    train_main([*TINY, "--steps", "1", "--lr", "0", "--init", str(tiny_checkpoint), "--out", str(out)])
    before, after = load_file(tiny_checkpoint / "model.safetensors"), load_file(out / "model.safetensors")
    assert before.keys() == after.keys() and all(bool((before[k] == after[k]).all()) for k in before)  # lr 0: kept
    with pytest.raises(ValueError, match="takes"):
        train_main([*TINY, "--camera", "front", "--init", str(tiny_checkpoint), "--out", str(tmp_path / "front")])


@pytest.mark.slow
def test_the_twin_policy_runs_the_pick_and_place_task_in_closed_loop(tiny_checkpoint: Path) -> None:
    policy = SimPolicy(tiny_checkpoint)
    record = run_episode(policy, PickPlaceScene(3), "sync", Fixed(0), LoopSettings(max_ticks=30, world="mujoco"), 0, 0)
    assert len(record.commands) == 30 and not record.success  # three training steps do not solve it
    assert len(record.merged) >= 1 and record.merged[0].actions.shape == (50, 6)
    gap = np.abs(np.array(record.commands) - np.array(record.positions[1:])).max()
    assert gap > 0.0  # the twin's arm, behind its commands


@pytest.mark.slow
def test_twin_samples_are_reproducible_from_the_seed_with_any_number_of_workers() -> None:
    first = twin_training_samples(2, seed=4, chunk_size=50, frame_stride=20)
    again = twin_training_samples(2, seed=4, chunk_size=50, frame_stride=20, workers=2)
    other = twin_training_samples(2, seed=5, chunk_size=50, frame_stride=20)
    np.testing.assert_array_equal(first.images, again.images)
    np.testing.assert_array_equal(first.chunks, again.chunks)
    assert first.images.shape[1:] == (3, 96, 96) and first.chunks.shape[1:] == (50, 6)
    assert not np.array_equal(first.chunks, other.chunks)  # another layout, another demonstration


def test_the_perturbation_drifts_the_arm_joints_from_zero_and_leaves_the_gripper_alone() -> None:
    offsets = command_offsets(20_000, 0.03, np.random.default_rng(1), rate_hz=30.0)
    assert offsets.shape == (20_000, 6)
    assert np.all(offsets[0] == 0.0) and np.all(offsets[:, 5] == 0.0)  # starts on the plan; the jaws are the expert's
    assert np.allclose(offsets[:, :5].std(axis=0), 0.03, rtol=0.2)
    assert np.all(np.diff(offsets[:, :5], axis=0).std(axis=0) < 0.4 * 0.03)  # it drifts: a tick moves it a little
    np.testing.assert_array_equal(offsets, command_offsets(20_000, 0.03, np.random.default_rng(1), rate_hz=30.0))
    assert not command_offsets(50, 0.0, np.random.default_rng(1), rate_hz=30.0).any()


@pytest.mark.slow
def test_a_perturbed_episode_moves_the_arm_off_the_plan_and_labels_it_with_the_plan() -> None:
    plan = episode_samples(0, 3, chunk_size=50, frame_stride=10, camera="wrist")
    perturbed = episode_samples(0, 3, chunk_size=50, frame_stride=10, camera="wrist", perturbation=0.02)
    np.testing.assert_array_equal(perturbed.chunks, plan.chunks)  # the labels: the expert's plan
    assert not np.array_equal(perturbed.states, plan.states)  # where the arm was: off it
    assert not np.array_equal(perturbed.images, plan.images)
    # a perturbation the open-loop expert cannot solve the task under gives no samples, not wrong ones
    assert len(episode_samples(0, 3, chunk_size=50, frame_stride=10, camera="wrist", perturbation=0.5).states) == 0


def test_pick_place_needs_the_twin_and_warns_without_a_checkpoint(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--task", "pick_place", "--checkpoint", "x"])
    assert "--task pick_place needs --world mujoco" in capsys.readouterr().err
    parse_args(["--task", "pick_place", "--world", "mujoco"])  # the shipped kinematic policy, with a warning
    assert "its success on the twin's task means nothing" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train_main(["--world", "mujocco", "--out", "x"])
    assert "invalid choice: 'mujocco'" in capsys.readouterr().err


@pytest.mark.slow
def test_pick_place_evaluation_is_deterministic(tiny_checkpoint: Path, tmp_path: Path) -> None:
    texts = []
    for name in ("a.json", "b.json"):
        evaluate(parse_args(["--world", "mujoco", "--task", "pick_place", "--modes", "sync", "--delays", "0",
                             "--episodes", "1", "--max-ticks", "20", "--checkpoint", str(tiny_checkpoint),
                             "--json", str(tmp_path / name)]))
        texts.append((tmp_path / name).read_text())
    assert texts[0] == texts[1]
    assert json.loads(texts[0])["settings"]["task"] == "pick_place"
