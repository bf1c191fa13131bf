"""What a run of episodes is judged by: success, seam discontinuity, smoothness, mode switches, time,
and the delays: how often a chunk was later than the policy side assumed (d_real > d, counted over
chunks guided toward a leftover, the only ones the delay is a promise to), underruns, and the
assumed delay chunk by chunk.

Seam and within-chunk steps are those of rtc_contract.seams, on the executed commands
(radians); the first chunk of an episode has no seam. The seam ratio of an episode is its largest
seam step over the p99 of the within-chunk steps pooled over all episodes of the same (mode, latency
profile), floored at one servo tick (rtc_contract.seams.seam_ratio). The measured seam jerk is the same
ratio on the jerk of the arm's simulated joint positions (rtc_contract.seams.measured_motion, seam_jerk:
`record.positions` sampled at the control ticks; in the kinematic world they are the executed
commands, so it is the jerk of the commands; a world that simulates the joints records where they were).
On the twin's pick-and-place task the physics also tells object drops (the cube let go outside the zone
after it was lifted) and the peak contact force of the arm or the cube against the table or the wall
(`so100_driver.twin.task.Outcome`); in the reaching task these are None.
"""

from __future__ import annotations

import numpy as np
from so100_driver.sim import lateral_side, tool_tip

from rtc_contract import seams as core_seams
from rtc_sim_eval.rollout import CONTROL_RATE_HZ, EpisodeRecord, MergedChunk
from rtc_sim_eval.twin_task import PickPlaceScene


def seam_and_inner_steps(record: EpisodeRecord) -> tuple[np.ndarray, np.ndarray]:
    """Step sizes at chunk seams and within chunks (rtc_contract.seams; holds left out)."""
    chunk_ids = np.asarray(record.chunk_ids)
    executed = np.flatnonzero(chunk_ids >= 0)
    return core_seams.seam_and_inner_steps(np.asarray(record.positions)[executed + 1], chunk_ids[executed])


def measured_seam_jerk(record: EpisodeRecord) -> core_seams.SeamJerk:
    """The arm's jerk in the core_seams.SEAM_WINDOW_S around each seam against the jerk outside them;
    a seam's time is that of the first position its new chunk commanded; the episode's start from
    rest is judged on neither side."""
    positions = np.asarray(record.positions)
    motion = core_seams.measured_motion(np.arange(len(positions)) / CONTROL_RATE_HZ, positions)
    chunk_ids = np.asarray(record.chunk_ids)
    executed = np.flatnonzero(chunk_ids >= 0)
    entering = executed[1:][np.diff(chunk_ids[executed]) != 0]  # ticks serving a new chunk's first row
    started = (executed[0] + 1) / CONTROL_RATE_HZ if len(executed) else None
    return core_seams.seam_jerk(motion, (entering + 1) / CONTROL_RATE_HZ, started=started)


def derivative_peaks(record: EpisodeRecord) -> tuple[float, float]:
    """Largest |acceleration| (rad/s^2) and |jerk| (rad/s^3) over joints and ticks."""
    positions = np.asarray(record.positions)
    acc = np.diff(positions, n=2, axis=0) * CONTROL_RATE_HZ**2
    jerk = np.diff(positions, n=3, axis=0) * CONTROL_RATE_HZ**3
    return (float(np.abs(acc).max()) if len(acc) else 0.0, float(np.abs(jerk).max()) if len(jerk) else 0.0)


def chunk_side(chunk: MergedChunk, record: EpisodeRecord) -> int:
    """Side of the obstacle the chunk's plan passes (+1 left, -1 right, 0 not beside it; 0 in the
    twin's pick-and-place, whose routes are not told apart here)."""
    if isinstance(record.scene, PickPlaceScene):
        return 0
    tips = tool_tip(chunk.actions)[:, :2]
    sides = np.array([lateral_side(tip, record.scene) for tip in tips])
    beside = np.flatnonzero(sides)
    if len(beside) == 0:
        return 0
    offsets = np.abs(tips[beside, 1] - record.scene.obstacle_center[1])
    return int(sides[beside[np.argmax(offsets)]])


def mode_switches(record: EpisodeRecord) -> int:
    """How often consecutive chunks planned to pass on opposite sides of the obstacle."""
    sides = [s for s in (chunk_side(c, record) for c in record.merged) if s != 0]
    return int(sum(a != b for a, b in zip(sides, sides[1:])))


def delay_figures(records: list[EpisodeRecord]) -> dict[str, float | list[float] | None]:
    """d_real > d rate, delays assumed and true, underruns and stale chunks, over the episodes."""
    promised = [d for r in records for d in r.delays if d.follows_leftover]
    chunks = [d for r in records for d in r.delays]
    longest = max((len(r.delays) for r in records), default=0)
    by_chunk = [[r.delays[i].assumed for r in records if len(r.delays) > i] for i in range(longest)]
    return {
        "late_chunk_rate": _round(np.mean([d.true > d.assumed for d in promised])) if promised else None,
        "assumed_delay_mean": _round(np.mean([d.assumed for d in chunks])) if chunks else None,
        "true_delay_mean": _round(np.mean([d.true for d in chunks])) if chunks else None,
        "assumed_delay_by_chunk": [_round(np.mean(values)) for values in by_chunk],
        "underruns_per_episode": _round(np.mean([r.underruns for r in records])) if records else None,
        "rejected_per_episode": _round(np.mean([r.rejected for r in records])) if records else None,
        # episodes where a chunk after the first followed no leftover: the switch to the policy's new
        # plan after a start (first_chunk_max_disagreement), or first_chunk_guidance free
        "fresh_plan_rate": _round(np.mean([any(not d.follows_leftover for d in r.delays[1:]) for r in records]))
        if records else None,
    }


def task_figures(records: list[EpisodeRecord]) -> dict[str, float | None]:
    """Drops and contact peaks from the twin's physics, over the episodes that have an outcome."""
    outcomes = [r.outcome for r in records if r.outcome is not None]
    if not outcomes:
        return {"drop_rate": None, "peak_contact_force_n": None, "peak_contact_force_max_n": None}
    peaks = [o.peak_contact_force_n for o in outcomes]
    return {
        "drop_rate": _round(np.mean([o.dropped_outside for o in outcomes])),
        "peak_contact_force_n": _round(np.mean(peaks)),  # per episode, averaged
        "peak_contact_force_max_n": _round(max(peaks)),
    }


def summarise(records: list[EpisodeRecord]) -> dict[str, float | int | list[float] | None]:
    """Figures for one (mode, latency profile) over its episodes."""
    pairs = [seam_and_inner_steps(r) for r in records]
    inner = np.concatenate([p[1] for p in pairs]) if pairs else np.array([])
    p99_inner = float(np.percentile(inner, 99)) if len(inner) else float("nan")
    seam_max = np.array([p[0].max() for p in pairs if len(p[0])])
    ratios = np.array([core_seams.seam_ratio(largest, inner) for largest in seam_max])
    peaks = np.array([derivative_peaks(r) for r in records])
    jerks = [measured_seam_jerk(r) for r in records]
    inner_jerk = np.concatenate([j.inner for j in jerks]) if jerks else np.array([])
    inner_jerk_p99 = core_seams.moving_p99(inner_jerk, jerks[0].floor) if jerks else float("nan")  # one rate: one floor
    seam_jerk_max = np.array([j.seam_max for j in jerks if np.isfinite(j.seam_max)])
    # without a within-chunk sample (chunks shorter than the seam windows) there is nothing to compare with
    jerk_ratios = seam_jerk_max / inner_jerk_p99 if np.isfinite(inner_jerk_p99) else np.array([])
    successes = [r for r in records if r.success]
    return {
        "episodes": len(records),
        "success_rate": _round(np.mean([r.success for r in records])),
        "collision_rate": _round(np.mean([r.collided for r in records])),
        "seam_ratio": _round(ratios.mean()) if len(ratios) else None,
        "seam_ratio_max": _round(ratios.max()) if len(ratios) else None,
        "seam_step_max_rad": _round(seam_max.max()) if len(seam_max) else None,
        "inner_step_p99_rad": _round(p99_inner),
        "measured_seam_jerk_ratio": _round(jerk_ratios.mean()) if len(jerk_ratios) else None,
        "measured_seam_jerk_ratio_max": _round(jerk_ratios.max()) if len(jerk_ratios) else None,
        "measured_seam_jerk_max_rad_s3": _round(seam_jerk_max.max()) if len(seam_jerk_max) else None,
        "measured_inner_jerk_p99_rad_s3": _round(inner_jerk_p99) if np.isfinite(inner_jerk_p99) else None,
        "max_acceleration_rad_s2": _round(peaks[:, 0].mean()),
        "max_jerk_rad_s3": _round(peaks[:, 1].mean()),
        "mode_switches_per_episode": _round(np.mean([mode_switches(r) for r in records])),
        "time_to_target_s": _round(np.mean([r.ticks_to_target for r in successes]) / CONTROL_RATE_HZ)
        if successes
        else None,
        **delay_figures(records),
        **task_figures(records),
    }


def _round(value: float) -> float:
    return round(float(value), 4)
