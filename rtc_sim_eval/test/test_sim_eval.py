"""rtc_sim_eval on the shipped checkpoint: RTC's direction at delay 6, determinism, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rtc_policy_node.builtin_policy import CheckpointError
from rtc_policy_node.builtin_policy.untrained import tiny_config, write_untrained_checkpoint
from rtc_sim_eval.sim_policy import SimPolicy
from rtc_sim_eval.cli import evaluate, main, parse_args


@pytest.fixture(scope="module")
def delay6(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("sim_eval") / "out.json"
    evaluate(parse_args(["--modes", "naive,identity,vjp,prefix", "--delays", "6", "--episodes", "4",
                         "--json", str(out)]))
    return json.loads(out.read_text())["results"]


def test_rtc_seams_are_smaller_than_naive_at_delay_6(delay6: dict) -> None:
    naive, vjp, identity = delay6["naive"]["fixed:6"], delay6["vjp"]["fixed:6"], delay6["identity"]["fixed:6"]
    assert naive["seam_ratio"] >= 3.0
    assert identity["seam_ratio"] <= 1.5 and identity["success_rate"] >= naive["success_rate"]  # the default
    assert vjp["seam_ratio"] <= 1.5
    assert vjp["seam_ratio"] < naive["seam_ratio"]
    assert vjp["success_rate"] >= naive["success_rate"]
    assert delay6["prefix"]["fixed:6"]["seam_ratio"] < naive["seam_ratio"]
    # the arm's measured jerk says the same: naive's seams jerk it more than the guided ones
    assert naive["measured_seam_jerk_ratio"] > identity["measured_seam_jerk_ratio"]


# The per-(mode, profile) figures as they were before the measured seam jerk; readers of older JSON keep them.
KEYS_BEFORE = {"episodes", "success_rate", "collision_rate", "seam_ratio", "seam_ratio_max", "seam_step_max_rad",
               "inner_step_p99_rad", "max_acceleration_rad_s2", "max_jerk_rad_s3", "mode_switches_per_episode",
               "time_to_target_s", "late_chunk_rate", "assumed_delay_mean", "true_delay_mean",
               "assumed_delay_by_chunk", "underruns_per_episode", "rejected_per_episode", "fresh_plan_rate"}
MEASURED_JERK_KEYS = {"measured_seam_jerk_ratio", "measured_seam_jerk_ratio_max", "measured_seam_jerk_max_rad_s3",
                      "measured_inner_jerk_p99_rad_s3"}
TASK_KEYS = {"drop_rate", "peak_contact_force_n", "peak_contact_force_max_n"}  # None in the reaching task


def test_json_keeps_its_layout_and_adds_the_measured_seam_jerk(delay6: dict) -> None:
    assert set(delay6) == {"naive", "identity", "vjp", "prefix"}  # results[mode][latency profile]
    for mode in delay6.values():
        assert set(mode) == {"fixed:6"}
        figures = mode["fixed:6"]
        assert set(figures) == KEYS_BEFORE | MEASURED_JERK_KEYS | TASK_KEYS
        assert all(figures[key] is None for key in TASK_KEYS)
        assert figures["measured_seam_jerk_ratio"] <= figures["measured_seam_jerk_ratio_max"]
        assert figures["measured_seam_jerk_max_rad_s3"] > 0 and figures["measured_inner_jerk_p99_rad_s3"] >= 0


def test_same_seed_gives_the_same_json(tmp_path: Path) -> None:
    texts = []
    for name in ("a.json", "b.json"):
        argv = ["--modes", "vjp", "--delays", "4", "--episodes", "2", "--seed", "5", "--json", str(tmp_path / name)]
        evaluate(parse_args(argv))
        texts.append((tmp_path / name).read_text())
    assert texts[0] == texts[1]


def test_plots_are_written(tmp_path: Path) -> None:
    main(["--modes", "naive", "--delays", "2", "--episodes", "1", "--plot-delay", "2", "--max-ticks", "60",
          "--plots", str(tmp_path)])
    assert (tmp_path / "episode_naive_delay2.png").stat().st_size > 0
    assert (tmp_path / "denoising_delay2.png").stat().st_size > 0
    assert (tmp_path / "assumed_delay.png").stat().st_size > 0


def test_unknown_mode_and_negative_delay_are_refused() -> None:
    with pytest.raises(SystemExit):
        parse_args(["--modes", "vjp,fancy"])
    with pytest.raises(SystemExit):
        parse_args(["--delays", "2,-1"])
    for bad in (["--mode-candidates", "-1"], ["--max-mode-disagreement", "0"]):
        with pytest.raises(SystemExit):
            parse_args(bad)
    assert parse_args(["--mode-candidates", "8"]).mode_candidates == 8


def test_a_policy_of_another_arm_is_refused(tmp_path: Path) -> None:
    seven = write_untrained_checkpoint(tmp_path / "seven", tiny_config(7))
    with pytest.raises(ValueError, match="action dim 7; the simulated SO-100 has 6 joints"):
        SimPolicy(seven)


def test_bad_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="missing config.json"):
        main(["--checkpoint", str(tmp_path), "--episodes", "1"])
