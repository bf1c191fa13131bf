"""What a recorded run did, computed from its messages alone (no ROS): the executed actions,
the chunk seams, the delays and the latencies, what the arm did (its tracking error and its
measured velocity, acceleration and jerk, overall and at the seams: rtc_contract.seams), and the
outcome of the MuJoCo twin's pick-and-place task as its twin node reported it.

The action executed at tick k is row `served_index` of chunk `served_chunk_id`, read from the
ExecutorStatus that tick published (its `step` is k + 1), so the trajectory is rebuilt exactly from
/rtc/executor_status and /rtc/action_chunk, whichever host recorded them, seams included (a chunk
merged between two ticks is served from the next one).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from rtc_contract import seams as core_seams


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

    def largest_seam(self) -> tuple[float, int]:
        """(time of the first action after the largest seam step, the joint that stepped most); the
        middle of the run without seams."""
        seams = self.seams()
        steps = np.abs(np.diff(self.actions, axis=0))
        if not len(seams):
            return float(self.times[len(self.times) // 2]), 0
        i = seams[int(np.argmax(steps[seams].max(axis=1)))]
        return float(self.times[i + 1]), int(np.argmax(steps[i]))


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


def counted_seams(trajectory: ExecutedTrajectory, into: set[int] | None = None, *, exclude: bool = False) -> np.ndarray:
    """Per seam, whether it is counted: `into`, only the seams into these chunks (`exclude`: all but
    those); every seam without it."""
    entered = trajectory.entered()
    if into is None:
        return np.ones(len(entered), bool)
    chosen = np.isin(entered, list(into))
    return ~chosen if exclude else chosen


def seam_ratio(trajectory: ExecutedTrajectory, into: set[int] | None = None, *, exclude: bool = False) -> float:
    """Largest counted seam step over the p99 moving step within chunks, floored at one servo tick
    (rtc_contract.seams); NaN without seams. `into`, `exclude`: see counted_seams."""
    seams, inner = core_seams.seam_and_inner_steps(trajectory.actions, trajectory.chunk_ids)
    seams = seams[counted_seams(trajectory, into, exclude=exclude)]
    return core_seams.seam_ratio(seams.max(), inner) if len(seams) else float("nan")


def seam_step_max(trajectory: ExecutedTrajectory, into: set[int] | None = None, *, exclude: bool = False) -> float:
    """The largest counted commanded seam step (rad, the largest joint); NaN without seams."""
    seams, _ = core_seams.seam_and_inner_steps(trajectory.actions, trajectory.chunk_ids)
    seams = seams[counted_seams(trajectory, into, exclude=exclude)]
    return float(seams.max()) if len(seams) else float("nan")


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
        return self.text(".1f")

    def text(self, spec: str) -> str:
        return f"p50 {self.p50:{spec}}  p95 {self.p95:{spec}}  p99 {self.p99:{spec}}  max {self.max:{spec}}"


def joint_samples(samples: list, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(times (n,), positions (n, len(names))) of `samples`, (t, {joint name: position}) pairs,
    matched by name; a sample without one of `names` is left out."""
    rows = [(t, [by_name[n] for n in names]) for t, by_name in samples if all(n in by_name for n in names)]
    return np.array([t for t, _ in rows], float), np.array([p for _, p in rows], float).reshape(len(rows), len(names))


def tracking_errors(commands: list, measured: list) -> dict[str, Percentiles]:
    """Per joint named in both, |command - measured| (rad) at each command's time: the measured
    positions linearly interpolated between the two samples around it (commands outside the
    measured span are left out). Both lists hold (t, {joint name: position}) on one clock."""
    errors = {}
    names = sorted(set().union(*(c.keys() for _, c in commands)) & set().union(*(m.keys() for _, m in measured))) \
        if commands and measured else []
    for name in names:
        command_t, command = joint_samples(commands, [name])
        measured_t, position = core_seams.ordered_samples(*joint_samples(measured, [name]))
        inside = (command_t >= measured_t[0]) & (command_t <= measured_t[-1]) if len(measured_t) else []
        if np.any(inside):
            at_commands = np.interp(command_t[inside], measured_t, position[:, 0])
            errors[name] = Percentiles.of(np.abs(command[inside, 0] - at_commands))
    return errors


@dataclass
class MeasuredFigures:
    """What the arm did, from /joint_states (rtc_contract.seams): per quantity, the largest
    joint's magnitude per sample, over the run and in the SEAM_WINDOW_S around the seams."""

    velocity_rad_s: dict[str, Percentiles]  # "overall", "at_seams"
    acceleration_rad_s2: dict[str, Percentiles]
    jerk_rad_s3: dict[str, Percentiles]
    seam_jerk_max_rad_s3: float  # the largest jerk near a counted seam
    inner_jerk_p99_rad_s3: float  # p99 of the moving jerk outside every seam window, at least the floor
    filter: dict[str, float]  # sample interval, fit window, seam window, the floors one tick gives


def measured_figures(measured: list, trajectory: ExecutedTrajectory,
                     counted: np.ndarray) -> tuple[MeasuredFigures | None, float]:
    """Figures of the measured joint samples `measured`, (t, {joint name: position}), on the clock
    of `trajectory.times`, and the measured seam jerk ratio (their seam jerk over their inner jerk);
    `counted`: per seam of `trajectory`, whether its jerk is judged. (None, NaN) without enough
    samples to differentiate."""
    names = sorted(measured[0][1]) if measured else []
    motion = core_seams.measured_motion(*joint_samples(measured, names))
    if motion.times.size == 0:
        return None, float("nan")
    seam_times = trajectory.times[trajectory.seams() + 1] if len(trajectory.steps) else np.empty(0)
    started = float(trajectory.times[0]) if len(trajectory.steps) else None
    jerk = core_seams.seam_jerk(motion, seam_times, counted, started=started)
    near = core_seams.near_seams(motion.times, seam_times)

    def split(values: np.ndarray) -> dict[str, Percentiles]:
        magnitude = np.abs(values).max(axis=1)
        return {"overall": Percentiles.of(magnitude), "at_seams": Percentiles.of(magnitude[near])}

    return MeasuredFigures(
        velocity_rad_s=split(motion.velocity),
        acceleration_rad_s2=split(motion.acceleration),
        jerk_rad_s3=split(motion.jerk),
        seam_jerk_max_rad_s3=jerk.seam_max,
        inner_jerk_p99_rad_s3=jerk.inner_p99,
        filter={"interval_s": motion.interval_s, "fit_window_s": core_seams.FILTER_WINDOW_S,
                "seam_window_before_s": core_seams.SEAM_WINDOW_S[0],
                "seam_window_after_s": core_seams.SEAM_WINDOW_S[1], "velocity_floor_rad_s": motion.velocity_floor,
                "acceleration_floor_rad_s2": motion.acceleration_floor, "jerk_floor_rad_s3": motion.jerk_floor},
    ), jerk.ratio


class DiagnosticValueError(ValueError):
    """A /diagnostics value that does not read as what its key says."""


@dataclass
class TaskOutcome:
    """The twin's pick-and-place outcome from its `twin: task` status (so100_driver.twin_node, measured
    from the physics by so100_driver.twin.task.TaskMonitor): the last one of the run."""

    KEYS = ("success", "lifted", "dropped_outside_zone", "peak_contact_force_n")  # the status has these

    success: bool  # the cube rests in the zone, released, after it was lifted
    success_after_s: float | None  # simulated time from the twin's start to the success; None before it
    lifted: bool
    dropped_outside_zone: bool  # once lifted, the cube came to rest outside the zone, released
    peak_contact_force_n: float  # largest normal force of the arm or the cube on the table or the wall
    cube_to_zone_m: float  # the cube centre's distance to the zone's centre (NaN if not reported)
    seed: int | None  # the layout's seed

    @classmethod
    def from_status(cls, name: str, values: dict[str, str]) -> TaskOutcome:
        """Read the status `name`'s key-value strings; DiagnosticValueError names a value that is not
        what its key says (the report refuses the bag rather than guess)."""

        def flag(key: str) -> bool:
            if values[key] not in ("True", "False"):
                raise DiagnosticValueError(f"/diagnostics status {name!r}: {key}={values[key]!r} is not True or False")
            return values[key] == "True"

        def number(key: str, default: str = "nan") -> float:
            text = values.get(key, default)
            try:
                return float(text)
            except ValueError:
                raise DiagnosticValueError(f"/diagnostics status {name!r}: {key}={text!r} is not a number") from None

        success = flag("success")
        after = number("success_after_s") if values.get("success_after_s") else None
        seed = number("seed") if values.get("seed") else None
        return cls(success=success, success_after_s=after if success else None, lifted=flag("lifted"),
                   dropped_outside_zone=flag("dropped_outside_zone"),
                   peak_contact_force_n=number("peak_contact_force_n"), cube_to_zone_m=number("cube_to_zone_m"),
                   seed=int(seed) if seed is not None and np.isfinite(seed) else None)

    def lines(self) -> list[str]:
        layout = f" (layout seed {self.seed})" if self.seed is not None else ""
        if self.success:
            placed = f"cube placed in the zone {self.success_after_s:.1f} s into the twin's simulation{layout}"
        else:
            placed = (f"cube not placed{layout}: {'lifted' if self.lifted else 'never lifted'}, "
                      f"{self.cube_to_zone_m:.3f} m from the zone")
        return [f"task outcome        {placed}",
                f"{'':<20}dropped outside the zone: {'yes' if self.dropped_outside_zone else 'no'}; peak contact "
                f"force {self.peak_contact_force_n:.2f} N (arm or cube on the table or the wall)"]


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
    seam_step_max_rad: float = float("nan")  # the largest commanded step at the seams seam_ratio counts
    # The arm's measured jerk at those seams over its jerk within chunks (core.seams.seam_jerk)
    measured_seam_jerk_ratio: float = float("nan")
    tracking_error_rad: dict[str, Percentiles] = field(default_factory=dict)  # per joint, |command - measured|
    measured: MeasuredFigures | None = None
    inference_ms: Percentiles | None = None
    end_to_end_ms: Percentiles | None = None
    target_reached_after_s: float | None = None
    task: dict[str, int] = field(default_factory=dict)  # the simulated task's counts, when it reports them
    task_outcome: TaskOutcome | None = None  # the twin's pick-and-place outcome (world:=mujoco)
    dry_run: bool = False  # the driver reported torque off for the whole run (dry_run:=true)
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
            f"seam ratio          {self.seam_ratio:.2f} (max step at seams / p99 moving step within chunks, "
            "floor one servo tick)",
            f"seam step max       {self.seam_step_max_rad:.4f} rad (commanded)",
        ] + ([f"fresh-plan seams    {self.fresh_plan_seams}, ratio {self.fresh_plan_seam_ratio:.2f} (into chunks "
              "that follow no leftover: a switch to the policy's new plan)"] if self.fresh_plan_seams else []) + \
            self._measured_lines() + [
            f"inference ms        {self.inference_ms}",
            f"obs->chunk ms       {self.end_to_end_ms}",
        ] + ([f"target reached      {reached}"] if self.task_outcome is None else []) + (
            [f"targets             {self.task['targets_reached']} reached of {self.task['targets_shown']} shown, "
             f"{self.task['obstacle_contacts']} obstacle contacts"] if self.task else []) + (
            self.task_outcome.lines() if self.task_outcome else []) + (
            ["driver              torque off the whole run (dry run): commands published, not executed; the "
             "tracking error is how far the policy would have moved the arm"] if self.dry_run else [])

    def _measured_lines(self) -> list[str]:
        """What the arm did: tracking error per joint, measured derivatives, the measured seam jerk."""
        lines = [f"tracking error rad  {name:<14} {errors.text('.4f')}" for name, errors in
                 self.tracking_error_rad.items()] or ["tracking error      - (no named command topic in the bag)"]
        measured = self.measured
        if measured is None:
            return lines + ["measured motion     - (too few /joint_states samples)"]
        for label, figures in (("|v| rad/s", measured.velocity_rad_s), ("|acc| rad/s^2", measured.acceleration_rad_s2),
                               ("|jerk| rad/s^3", measured.jerk_rad_s3)):
            lines.append(f"measured {label:<14} {figures['overall'].text('.2f')}  (whole run)")
            lines.append(f"{'':<24}{figures['at_seams'].text('.2f')}  (from {measured.filter['seam_window_before_s']}"
                         f" s before to {measured.filter['seam_window_after_s']} s after a seam)")
        lines.append(f"measured seam jerk  ratio {self.measured_seam_jerk_ratio:.2f} (max "
                     f"{measured.seam_jerk_max_rad_s3:.1f} rad/s^3 at seams / p99 {measured.inner_jerk_p99_rad_s3:.1f}"
                     f" of the moving jerk within chunks, floor {measured.filter['jerk_floor_rad_s3']:.1f}: one tick of "
                     "flicker)")
        return lines
