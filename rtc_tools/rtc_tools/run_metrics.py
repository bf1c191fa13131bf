"""What a recorded run did, computed from its messages alone (no ROS): the executed actions,
the chunk seams, the delays and the latencies.

The action executed at tick k is row `served_index` of chunk `served_chunk_id`, read from the
ExecutorStatus that tick published (its `step` is k + 1), so the trajectory is rebuilt exactly from
/rtc/executor_status and /rtc/action_chunk, whichever host recorded them, seams included (a chunk
merged between two ticks is served from the next one).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from rtc_contract.seams import seam_and_inner_steps
from rtc_contract.seams import seam_ratio as ratio_of_steps


@dataclass
class ExecutedTrajectory:
    steps: np.ndarray        # (n,) ticks with an action
    actions: np.ndarray      # (n, dim) radians
    chunk_ids: np.ndarray    # (n,) chunk each action came from
    times: np.ndarray        # (n,) seconds since the first status

    def seams(self) -> np.ndarray:
        """Indices i where action i+1 comes from another chunk than action i."""
        return np.flatnonzero(np.diff(self.chunk_ids) != 0)

    def entered(self) -> np.ndarray:
        """The chunk each seam enters, in the order of `seams()`."""
        return self.chunk_ids[self.seams() + 1]


def executed_trajectory(statuses: list, chunks: dict[int, np.ndarray], t0: float) -> ExecutedTrajectory:
    """`statuses`: (time_s, tick, served chunk id, served row) in arrival order; `chunks`:
    chunk id -> (length, dim) actions. Ticks without an action (chunk id 0: underrun) are left out."""
    rows = []
    for time_s, step, chunk_id, index in statuses:
        chunk = chunks.get(chunk_id)
        if chunk_id and chunk is not None and index < len(chunk):
            rows.append((step, chunk_id, time_s, chunk[index]))
    if not rows:
        return ExecutedTrajectory(np.empty(0, int), np.empty((0, 0)), np.empty(0, int), np.empty(0))
    rows.sort(key=lambda r: r[0])
    steps = np.array([r[0] for r in rows])
    keep = np.concatenate([[True], np.diff(steps) > 0])  # one action per tick
    return ExecutedTrajectory(
        steps=steps[keep],
        actions=np.array([r[3] for r in rows])[keep],
        chunk_ids=np.array([r[1] for r in rows])[keep],
        times=np.array([r[2] for r in rows])[keep] - t0,
    )


def seam_ratio(trajectory: ExecutedTrajectory, into: set[int] | None = None, *, exclude: bool = False) -> float:
    """Largest seam step over the p99 step within chunks (rtc_contract.seams); NaN
    without seams. `into`: only the seams into these chunks (`exclude`: all but those)."""
    seams, inner = seam_and_inner_steps(trajectory.actions, trajectory.chunk_ids)
    if into is not None:
        chosen = np.isin(trajectory.entered(), list(into))
        seams = seams[~chosen if exclude else chosen]
    return ratio_of_steps(seams.max(), inner) if len(seams) else float("nan")


def fresh_plan_seams(trajectory: ExecutedTrajectory, fresh: set[int]) -> int:
    """Seams into a chunk of `fresh` (a guided policy's chunk that follows no leftover)."""
    return int(np.isin(trajectory.entered(), list(fresh)).sum())


@dataclass
class Percentiles:
    p50: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, values) -> Percentiles:
        v = np.asarray(values, dtype=float)
        v = v[np.isfinite(v)]
        if v.size == 0:
            return cls(*(float("nan"),) * 4)
        return cls(*(float(np.percentile(v, q)) for q in (50, 95, 99)), float(v.max()))

    def __str__(self) -> str:
        return f"p50 {self.p50:.1f}  p95 {self.p95:.1f}  p99 {self.p99:.1f}  max {self.max:.1f}"


@dataclass
class RunSummary:
    duration_s: float
    chunks: int
    merged: int
    rejected: int
    underruns: int
    delays: list[tuple[int, int]] = field(default_factory=list)  # (d assumed, d_real) per guided merge
    seam_ratio: float = float("nan")  # over the seams into guided chunks (or every seam of an unguided run)
    # Seams into chunks a guided policy sampled without a leftover: the first after rest's successor
    # when it follows the policy's new plan instead (first_chunk_max_disagreement), a jump by design.
    fresh_plan_seams: int = 0
    fresh_plan_seam_ratio: float = float("nan")
    inference_ms: Percentiles | None = None
    end_to_end_ms: Percentiles | None = None
    target_reached_after_s: float | None = None
    task: dict[str, int] = field(default_factory=dict)  # the simulated task's counts, when it reports them
    holds: int = 0  # stretches on the executor's ~/hold
    held_s: float = 0.0  # their total duration
    resets: int = 0  # the executor's ~/reset calls

    @property
    def delay_violations(self) -> int:
        """Merges whose real delay exceeded the delay the guidance assumed."""
        return sum(1 for assumed, real in self.delays if real > assumed)

    def lines(self) -> list[str]:
        d_pairs = ", ".join(f"{a}/{r}" for a, r in self.delays[:12]) + (" ..." if len(self.delays) > 12 else "")
        reached = f"{self.target_reached_after_s:.1f} s" if self.target_reached_after_s is not None else "no"
        return [
            f"duration            {self.duration_s:.1f} s",
            f"chunks              {self.chunks} published, {self.merged} merged, {self.rejected} rejected",
            f"underruns           {self.underruns}",
        ] + ([f"holds / resets      {self.holds} on ~/hold ({self.held_s:.1f} s), {self.resets} ~/reset"]
             if self.holds or self.resets else []) + [
            f"d assumed/d_real    {d_pairs or '-'}",
            f"d_real > d          {self.delay_violations} of {len(self.delays)} guided merges",
            f"seam ratio          {self.seam_ratio:.2f} (max step at seams / p99 step within chunks)",
        ] + ([f"fresh-plan seams    {self.fresh_plan_seams}, ratio {self.fresh_plan_seam_ratio:.2f} (into chunks "
              "that follow no leftover: a switch to the policy's new plan)"] if self.fresh_plan_seams else []) + [
            f"inference ms        {self.inference_ms}",
            f"obs->chunk ms       {self.end_to_end_ms}",
            f"target reached      {reached}",
        ] + ([f"targets             {self.task['targets_reached']} reached of {self.task['targets_shown']} shown, "
              f"{self.task['obstacle_contacts']} obstacle contacts"] if self.task else [])
