"""Run metrics from executor statuses and chunks: the executed trajectory, seams and seam ratio."""
from __future__ import annotations

import numpy as np

from rtc_tools.run_metrics import (
    Percentiles,
    RunSummary,
    executed_trajectory,
    fresh_plan_seams,
    measured_figures,
    seam_ratio,
    tracking_errors,
)


def _ramp_chunk(start: float, length: int = 10, slope: float = 0.01) -> np.ndarray:
    return (start + slope * np.arange(length))[:, None] * np.ones((1, 2))


def test_trajectory_is_rebuilt_from_status_rows_and_skips_underruns():
    chunks = {1: _ramp_chunk(0.0), 2: _ramp_chunk(0.05)}
    statuses = [(0.1 * k, k, 1, k) for k in range(5)]            # chunk 1 rows 0..4 at ticks 0..4
    statuses += [(0.5, 5, 2, 0), (0.6, 6, 2, 1), (0.7, 7, 0, 0)]  # chunk 2 from tick 5, underrun at 7
    traj = executed_trajectory(statuses, chunks, t0=0.0)
    assert traj.steps.tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert traj.chunk_ids.tolist() == [1, 1, 1, 1, 1, 2, 2]
    assert traj.seams().tolist() == [4]
    assert np.allclose(traj.actions[5], 0.05)


def test_seam_ratio_is_one_for_a_continuing_chunk_and_large_for_a_jump():
    smooth = {1: _ramp_chunk(0.0), 2: _ramp_chunk(0.05)}   # chunk 2 continues chunk 1's ramp
    jumpy = {1: _ramp_chunk(0.0), 2: _ramp_chunk(0.5)}
    statuses = [(0.0, k, 1, k) for k in range(5)] + [(0.0, 5 + k, 2, k) for k in range(5)]
    assert np.isclose(seam_ratio(executed_trajectory(statuses, smooth, 0.0)), 1.0)
    assert seam_ratio(executed_trajectory(statuses, jumpy, 0.0)) > 10


def test_seams_into_fresh_plans_are_measured_apart_from_the_guided_ones():
    # chunk 2 (a fresh plan: it followed no leftover) jumps in, chunk 3 continues chunk 2
    chunks = {1: _ramp_chunk(0.0), 2: _ramp_chunk(0.5), 3: _ramp_chunk(0.55)}
    statuses = [(0.0, k, 1, k) for k in range(5)] + [(0.0, 5 + k, 2, k) for k in range(5)]
    statuses += [(0.0, 10 + k, 3, k) for k in range(5)]
    trajectory = executed_trajectory(statuses, chunks, 0.0)
    assert seam_ratio(trajectory) > 10  # every seam
    assert np.isclose(seam_ratio(trajectory, {2}, exclude=True), 1.0)  # the guided seam only
    assert seam_ratio(trajectory, {2}) > 10
    assert fresh_plan_seams(trajectory, {2}) == 1 and fresh_plan_seams(trajectory, set()) == 0
    assert np.isnan(seam_ratio(trajectory, set()))


def test_summary_counts_delay_violations_and_prints():
    summary = RunSummary(duration_s=3.0, chunks=3, merged=3, rejected=0, underruns=0,
                         delays=[(4, 3), (4, 5), (4, 4)], seam_ratio=1.2,
                         inference_ms=Percentiles.of([10, 20, 30]), end_to_end_ms=Percentiles.of([]))
    assert summary.delay_violations == 1
    text = "\n".join(summary.lines())
    assert "4/3, 4/5, 4/4" in text and "1 of 3 guided merges" in text and "1.20" in text
    assert "fresh-plan seams" not in text
    switched = RunSummary(duration_s=3.0, chunks=3, merged=3, rejected=0, underruns=0, seam_ratio=0.9,
                          fresh_plan_seams=1, fresh_plan_seam_ratio=3.5)
    assert "fresh-plan seams    1, ratio 3.50" in "\n".join(switched.lines())


def test_tracking_error_matches_joints_by_name_and_leaves_out_what_it_cannot_compare():
    measured = [(0.01 * k, {"b": 0.0, "a": 0.01 * k}) for k in range(100)]
    measured.insert(10, (0.05, {"a": float("nan"), "b": 0.0}))  # a broken sample, a repeated stamp
    commands = [(0.1 * k, {"a": 0.1 * k + 0.002, "c": 1.0}) for k in range(-3, 15)]  # some before, some after
    errors = tracking_errors(commands, measured)
    assert set(errors) == {"a"}  # "b" was never commanded, "c" never measured
    assert np.isclose(errors["a"].max, 0.002) and np.isclose(errors["a"].p50, 0.002)
    assert tracking_errors([], measured) == {} and tracking_errors(commands, []) == {}


def test_too_few_measured_samples_give_no_measured_figures():
    trajectory = executed_trajectory([], {}, 0.0)
    figures, ratio = measured_figures([(0.0, {"a": 0.0}), (0.01, {"a": 0.0})], trajectory, np.empty(0, bool))
    assert figures is None and np.isnan(ratio)
    assert measured_figures([], trajectory, np.empty(0, bool))[0] is None
    text = "\n".join(RunSummary(duration_s=1.0, chunks=0, merged=0, rejected=0, underruns=0).lines())
    assert "no named command topic" in text and "too few /joint_states samples" in text
