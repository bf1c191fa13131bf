"""rtc_sim_eval on the MuJoCo twin (`--world mujoco`): simulated time, deterministic per seed, the arm
behind its commands; a world that does not exist is one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rtc_sim_eval.cli import evaluate, main, parse_args
from rtc_sim_eval.rollout import LoopSettings, run_episode
from rtc_sim_eval.latency_profiles import Fixed
from rtc_sim_eval.sim_policy import SimPolicy
from rtc_policy_node.builtin_policy import default_checkpoint_path
from so100_driver.sim import sample_scene


def test_the_same_seed_gives_the_same_json_on_the_twin(tmp_path: Path) -> None:
    texts = []
    for name in ("a.json", "b.json"):
        argv = ["--world", "mujoco", "--modes", "identity", "--delays", "4", "--episodes", "1", "--seed", "5",
                "--max-ticks", "60", "--json", str(tmp_path / name)]
        evaluate(parse_args(argv))
        texts.append((tmp_path / name).read_text())
    assert texts[0] == texts[1]
    assert json.loads(texts[0])["settings"]["world"] == "mujoco"


def test_on_the_twin_the_arm_lags_its_commands() -> None:
    policy = SimPolicy(default_checkpoint_path())
    scene = sample_scene(np.random.default_rng([0, 0]))
    record = run_episode(policy, scene, "identity", Fixed(2), LoopSettings(max_ticks=45, world="mujoco"), 0, 0)
    commands, reached = np.array(record.commands), np.array(record.positions[1:])
    assert len(commands) == len(reached) > 30
    gap = np.abs(commands - reached).max(axis=0)
    assert gap.max() > 0.02  # where the arm got is not where it was told (the kinematic world: equal)
    kinematic = run_episode(policy, scene, "identity", Fixed(2), LoopSettings(max_ticks=45), 0, 0)
    np.testing.assert_array_equal(np.array(kinematic.commands), np.array(kinematic.positions[1:]))


def test_an_unknown_world_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--world", "mujocco", "--episodes", "1"]) == 2
    err = capsys.readouterr().err
    assert err == "rtc_sim_eval: --world mujocco: unknown world 'mujocco'; known: kinematic, mujoco\n"
