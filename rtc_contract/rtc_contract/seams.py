"""Seam discontinuity: how much a chunk switch steps the arm beyond the steps within a chunk.

One definition for the simulated evaluation (`rtc_sim_eval`) and for recorded ROS runs (the
report). A step is the largest joint change between two consecutive executed actions; it is a
seam step when the two come from different chunks, else an inner step. Ticks that held (underrun,
or waiting for a chunk) are left out by the caller: a hold keeps the last action, so the step
after it is measured from that action. The ratio is the largest seam step over the p99 inner
step: 1 means switching chunks moves the arm no more than playing one does.
"""

from __future__ import annotations

import numpy as np


def seam_and_inner_steps(actions: np.ndarray, chunk_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(seam steps, inner steps) of executed `actions` (n, dim) from chunks `chunk_ids` (n,)."""
    actions = np.asarray(actions, dtype=float)
    chunk_ids = np.asarray(chunk_ids)
    if len(actions) != len(chunk_ids):
        raise ValueError(f"{len(actions)} actions but {len(chunk_ids)} chunk ids")
    if len(actions) < 2:
        return np.empty(0), np.empty(0)
    steps = np.abs(np.diff(actions, axis=0)).max(axis=1)
    switch = np.diff(chunk_ids) != 0
    return steps[switch], steps[~switch]


def seam_ratio(largest_seam_step: float, inner_steps: np.ndarray) -> float:
    """`largest_seam_step` over the p99 of `inner_steps`; NaN without inner steps."""
    inner_steps = np.asarray(inner_steps, dtype=float)
    if inner_steps.size == 0:
        return float("nan")
    return float(largest_seam_step / max(float(np.percentile(inner_steps, 99)), 1e-9))
