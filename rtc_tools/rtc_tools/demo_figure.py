"""One figure that compares recorded runs: `demo_figure OUT.png NAME=BAG [NAME=BAG ...]`.

`make demo` records the same simulated task twice, with RTC and with naive chunk switching, and
draws them with this, one row per run, top to bottom in the order given: the executed joint
trajectory with every chunk seam marked (on the MuJoCo twin also the moment its status first
reported the cube placed), and beside it a close-up of the run's largest seam step (the planned
rows, and what the arm measured after the executor's command guard). Each row's title carries the
figures of the run's report (`rtc_tools.report`): the seam ratio and the measured seam jerk ratio,
the task's targets reached and obstacle contacts (on the twin: whether the cube was placed, when,
and the peak contact force), and what the guard did (commands clamped, chunks rejected, ticks
held). It prints the same figures as a table and can write them as JSON.

A bag the report cannot read, or one without action chunks (nothing was executed, so there is
nothing to compare), is one line on stderr and exit code 1.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from typing import Any
from pathlib import Path

import numpy as np
from rtc_tools.bag_reader import BagError
from rtc_tools.report import Recording, read_bag, summarize
from rtc_tools.run_metrics import ExecutedTrajectory, executed_trajectory

ZOOM_S = 1.5  # the close-up spans this long before and after the largest seam


@dataclass
class RunFigures:
    """What one run's row says, from its bag."""

    name: str
    guidance: str  # ActionChunk.guidance_mode of its chunks
    merge: str     # ExecutorStatus.mode
    seam_ratio: float
    largest_seam_step_rad: float
    measured_seam_jerk_ratio: float  # the report's: the arm's jerk at seams over its jerk within chunks
    targets_shown: int | None
    targets_reached: int | None
    obstacle_contacts: int | None
    pick_place: dict[str, Any] | None  # the twin's task outcome (rtc_tools.run_metrics.TaskOutcome)
    placed_at_s: float | None  # the twin's first status reporting success, s since the first executed action
    chunks_merged: int
    chunks_rejected: int
    commands_clamped: int
    ticks_held: int  # underruns: the executor held the last command

    def task_text(self) -> str:
        """The task's outcome in a few words: the kinematic world's targets or the twin's cube."""
        if self.pick_place is not None:
            outcome = self.pick_place
            placed = (f"cube placed {self.placed_text()}" if outcome["success"] else
                      "cube dropped outside the zone" if outcome["dropped_outside_zone"] else "cube not placed")
            return f"{placed}, peak contact {outcome['peak_contact_force_n']:.1f} N"
        if self.targets_shown is not None:
            return f"targets reached {self.targets_reached} of {self.targets_shown}, obstacle contacts {self.obstacle_contacts}"
        return "task progress not recorded"

    def placed_text(self) -> str:
        """When the cube was placed: on the plots' clock (the twin's first status saying so), else the twin's own."""
        if self.placed_at_s is None:
            return f"{self.pick_place['success_after_s']:.1f} s after the twin's start"
        return f"at {self.placed_at_s:.1f} s"

    def title(self) -> str:
        task = self.task_text()
        return (f"{self.name} (guidance {self.guidance}, merge {self.merge}): seam ratio {self.seam_ratio:.2f}, measured seam jerk "
                f"{self.measured_seam_jerk_ratio:.2f}; {task}\n"
                f"command guard: {self.commands_clamped} commands clamped, {self.chunks_rejected} of "
                f"{self.chunks_merged + self.chunks_rejected} chunks rejected, {self.ticks_held} ticks held")


@dataclass
class Run:
    figures: RunFigures
    trajectory: ExecutedTrajectory
    recording: Recording


def load_run(name: str, bag: Path) -> Run:
    """A run's trajectory and figures; BagError (one line) for a bag without executed chunks."""
    rec = read_bag(bag)
    if not rec.chunks:
        raise BagError(f"{bag}: no action chunks on /rtc/action_chunk: the policy published none, so there is "
                       "nothing to compare (did the run stop before the policy loaded?)")
    trajectory = executed_trajectory(rec.statuses, rec.chunks, rec.t0)
    if len(trajectory.steps) < 2:
        raise BagError(f"{bag}: fewer than two executed actions: the run stopped before the arm moved")
    summary = summarize(rec)
    seams = trajectory.seams()
    steps = np.abs(np.diff(trajectory.actions, axis=0)).max(axis=1)
    last = rec.last_status
    figures = RunFigures(
        name=name,
        guidance="/".join(sorted(rec.guidance_modes)),
        merge=last.mode,
        seam_ratio=summary.seam_ratio,
        measured_seam_jerk_ratio=summary.measured_seam_jerk_ratio,
        largest_seam_step_rad=float(steps[seams].max()) if len(seams) else 0.0,
        targets_shown=rec.task.get("targets_shown"),
        targets_reached=rec.task.get("targets_reached"),
        obstacle_contacts=rec.task.get("obstacle_contacts"),
        pick_place=asdict(rec.task_outcome) if rec.task_outcome else None,
        placed_at_s=None if rec.task_success_t is None else float(rec.task_success_t - trajectory.times[0]),
        chunks_merged=summary.merged,
        chunks_rejected=summary.rejected,
        commands_clamped=int(last.clamped_count),
        ticks_held=summary.underruns,
    )
    return Run(figures, trajectory, rec)


def draw(runs: list[Run], out: Path) -> Path:
    """The comparison figure as a PNG at `out`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(runs), 2, figsize=(13, 3.3 * len(runs)), squeeze=False,
                             gridspec_kw={"width_ratios": [2.6, 1]})
    for (full, zoom), run in zip(axes, runs):
        traj, rec = run.trajectory, run.recording
        t0 = traj.times[0]  # time axis: seconds since the run's first executed action
        times = traj.times - t0
        seams = traj.seams() + 1
        for j, name in enumerate(rec.joint_names):
            full.plot(times, traj.actions[:, j], lw=1.0, label=name)
            full.plot(times[seams], traj.actions[seams, j], "|", color="red", ms=7, mew=1.0)
        if run.figures.placed_at_s is not None:
            full.axvline(run.figures.placed_at_s, color="green", ls="--", lw=1.0)
        full.set_title(run.figures.title(), fontsize=8.5, loc="left")
        full.set_ylabel("commanded [rad]", fontsize=8)
        full.set_xlim(0, max(r.trajectory.times[-1] - r.trajectory.times[0] for r in runs))

        at, joint = traj.largest_seam()
        name = rec.joint_names[joint]
        window = (times >= at - t0 - ZOOM_S) & (times <= at - t0 + ZOOM_S)
        zoom.plot(times[window], traj.actions[window, joint], ".-", ms=3, lw=0.8, label="planned (chunk rows)")
        measured = [(t - t0, p[name]) for t, p in rec.measured if name in p and abs(t - at) <= ZOOM_S]
        if measured:
            zoom.plot(*zip(*measured), lw=1.0, alpha=0.8, label="measured /joint_states")
        for s in times[seams]:
            if abs(s - (at - t0)) <= ZOOM_S:
                zoom.axvline(s, color="red", lw=0.6, alpha=0.6)
        zoom.set_title(f"largest seam step: {name}, {run.figures.largest_seam_step_rad:.3f} rad", fontsize=8.5)
        zoom.set_xlim(at - t0 - ZOOM_S, at - t0 + ZOOM_S)
        zoom.legend(fontsize=7, loc="best")
    axes[0][0].legend(fontsize=7, loc="upper right", ncol=3)
    placed = any(run.figures.placed_at_s is not None for run in runs)
    axes[-1][0].set_xlabel("time since the first executed action [s]; red marks: chunk seams"
                           + ("; green dashes: the twin reports the cube placed" if placed else ""))
    axes[-1][1].set_xlabel("time [s]; red lines: chunk seams")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=72)
    plt.close(fig)
    return out


def table(runs: list[Run]) -> list[str]:
    """The figures of every run, one line each."""
    lines = [f"{'run':<8} {'guidance':<9} {'merge':<8} {'seam ratio':>10} {'m.jerk':>6} {'targets':>9} "
             f"{'contacts':>8} {'clamped':>7} {'rejected':>8} {'held':>5}  task"]
    for run in runs:
        f = run.figures
        targets = f"{f.targets_reached}/{f.targets_shown}" if f.targets_shown is not None else "-"
        lines.append(f"{f.name:<8} {f.guidance:<9} {f.merge:<8} {f.seam_ratio:>10.2f} "
                     f"{f.measured_seam_jerk_ratio:>6.2f} {targets:>9} "
                     f"{f.obstacle_contacts if f.obstacle_contacts is not None else '-':>8} {f.commands_clamped:>7} "
                     f"{f.chunks_rejected:>8} {f.ticks_held:>5}  {f.task_text()}")
    return lines


def named_bag(text: str) -> tuple[str, Path]:
    name, sep, bag = text.partition("=")
    if not sep or not name or not bag:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=BAG_DIR")
    return name, Path(bag)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="demo_figure", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the PNG to write")
    parser.add_argument("runs", type=named_bag, nargs="+", metavar="NAME=BAG_DIR", help="top to bottom")
    parser.add_argument("--json", type=Path, help="write every run's figures as JSON")
    args = parser.parse_args(argv)
    try:
        runs = [load_run(name, bag) for name, bag in args.runs]
    except BagError as exc:
        print(f"demo_figure: {exc}", file=sys.stderr)
        return 1
    print("\n".join(table(runs)))
    print(f"figure  {draw(runs, args.out)}")
    if args.json:
        args.json.write_text(json.dumps([asdict(run.figures) for run in runs], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
