"""Evaluation metrics on hand-made episodes: seams, holds, derivatives, mode switches."""

from __future__ import annotations

import numpy as np
import pytest
from so100_driver.sim import Scene, inverse_kinematics_tip_down

from rtc_sim_eval.metrics import (
    delay_figures,
    derivative_peaks,
    measured_seam_jerk,
    mode_switches,
    seam_and_inner_steps,
    summarise,
)
from rtc_sim_eval.rollout import ChunkDelay, EpisodeRecord, MergedChunk

SCENE = Scene(start_tip=(0.1, 0.0), obstacle_center=(0.16, 0.0), obstacle_radius=0.025, target=(0.22, 0.0))


def _record(steps: list[float], chunk_ids: list[int]) -> EpisodeRecord:
    positions = np.zeros((len(steps) + 1, 6))
    positions[1:, 0] = np.cumsum(steps)
    return EpisodeRecord(SCENE, "test", "fixed:0", list(positions), chunk_ids=chunk_ids)


def test_seams_are_chunk_changes_and_holds_carry_the_last_command() -> None:
    record = _record([0.01, 0.01, 0.05, 0.01, 0.0, 0.0, 0.08, 0.01], [0, 0, 1, 1, -1, -1, 2, 2])
    seams, inner = seam_and_inner_steps(record)
    np.testing.assert_allclose(seams, [0.05, 0.08])
    np.testing.assert_allclose(inner, [0.01, 0.01, 0.01])


def test_summary_seam_ratio_is_worst_seam_over_inner_p99() -> None:
    records = [_record([0.01, 0.01, 0.04, 0.01], [0, 0, 1, 1]), _record([0.01, 0.01, 0.02, 0.01], [0, 0, 1, 1])]
    summary = summarise(records)
    assert summary["inner_step_p99_rad"] == pytest.approx(0.01)
    assert summary["seam_ratio"] == pytest.approx((4 + 2) / 2)
    assert summary["seam_ratio_max"] == pytest.approx(4)
    assert summary["success_rate"] == 0 and summary["time_to_target_s"] is None


def test_measured_seam_jerk_finds_the_jump_at_its_seam_and_rest_is_not_one() -> None:
    smooth = [0.01] * 40
    jumpy = _record(smooth[:20] + [0.1] + smooth[21:], [0] * 20 + [1] * 20)  # chunk 1 enters with a jump
    jerk = measured_seam_jerk(jumpy)
    assert jerk.ratio > 10 and jerk.seam_max == pytest.approx(0.09 / 2 * 30**3)  # the central third difference
    assert measured_seam_jerk(_record(smooth, [0] * 20 + [1] * 20)).ratio <= 1.0
    summary = summarise([jumpy, _record(smooth, [0] * 20 + [1] * 20)])
    assert summary["measured_seam_jerk_ratio_max"] > 10 and summary["measured_seam_jerk_ratio"] > 5
    resting = _record([0.0] * 40, [0] * 10 + [1] * 10 + [-1] * 5 + [2] * 15)  # holds between chunks
    assert measured_seam_jerk(resting).ratio <= 1.0


def test_derivative_peaks_in_si_units() -> None:
    acc, jerk = derivative_peaks(_record([0.0, 0.0, 0.01, 0.01], [0, 0, 0, 0]))
    assert acc == pytest.approx(0.01 * 30**2) and jerk == pytest.approx(0.01 * 30**3)


def _chunk(chunk_id: int, y: float) -> MergedChunk:
    tips = np.array([[0.12, 0.0, 0.02], [0.16, y, 0.02], [0.2, 0.0, 0.02]])
    actions = inverse_kinematics_tip_down(tips)
    return MergedChunk(chunk_id, 0, 0, actions, model_output=actions)


def test_mode_switches_count_side_changes_between_chunks() -> None:
    record = _record([0.0], [0])
    record.merged = [_chunk(0, 0.05), _chunk(1, 0.05), _chunk(2, -0.05), _chunk(3, 0.05)]
    assert mode_switches(record) == 2


def test_delay_figures_count_late_promises_underruns_and_the_assumed_delay_by_chunk() -> None:
    first, second = _record([0.01], [0]), _record([0.01], [0])
    first.delays = [ChunkDelay(1, 6, False), ChunkDelay(7, 9, True), ChunkDelay(9, 6, True)]
    second.delays = [ChunkDelay(3, 6, False), ChunkDelay(5, 5, True)]
    first.underruns, second.underruns = 3, 0
    figures = delay_figures([first, second])
    assert figures["late_chunk_rate"] == pytest.approx(1 / 3, abs=1e-4)  # the first chunks promise nothing
    assert figures["assumed_delay_by_chunk"] == [2, 6, 9]
    assert figures["assumed_delay_mean"] == pytest.approx(5) and figures["true_delay_mean"] == pytest.approx(6.4)
    assert figures["underruns_per_episode"] == pytest.approx(1.5)
    assert figures["fresh_plan_rate"] == 0  # every chunk after the first followed a leftover
    second.delays[1] = ChunkDelay(5, 5, False)  # the chunk after the first switched to its unguided sample
    assert delay_figures([first, second])["fresh_plan_rate"] == pytest.approx(0.5)
