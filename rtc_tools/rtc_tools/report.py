"""Report on a recorded run: `report BAG_DIR [--plots DIR] [--json FILE]`.

Reads the rosbag2 the runner's recorder wrote (MCAP or sqlite3, or any bag with the same topics,
`ros2 bag record`'s included), prints a short report (chunks, d vs d_real, underruns, rejections,
seam ratio and step, latency percentiles, what the arm did: tracking error per joint, measured
velocity, acceleration and jerk overall and at the seams, the measured seam jerk ratio; the task:
the kinematic world's targets and contacts, or the MuJoCo twin's pick-and-place outcome), the policy
node's per-chunk timing components as a profiling table (docs/profiling.md), and writes PNG plots:
executed and measured joints with the chunk seams marked, and latency over time. A bag that cannot be
read is one line on stderr and exit code 1.

Times: the commands (/so100/command), the executor's statuses and /joint_states are placed by their
header stamps, the clock of the arm's host where the executor and driver stamp them, so that command
and measurement compare on one clock whatever the recorder's delivery delays; a message stamped zero
falls back to the time the recorder received it, as do the other topics.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from rtc_tools.bag_reader import BagError, decoded, open_bag, require_topics
from rtc_tools.run_metrics import (
    Percentiles,
    DiagnosticValueError,
    RunSummary,
    TaskOutcome,
    counted_seams,
    executed_trajectory,
    fresh_plan_seams,
    measured_figures,
    seam_ratio,
    seam_step_max,
    tracking_errors,
)
from rtc_contract.modes import GuidanceMode
from rtc_contract.topics import (ACTION_CHUNK_TOPIC, COMMAND_TOPICS, DIAGNOSTICS_TOPIC, EXECUTOR_STATUS_TOPIC,
                                 JOINT_STATES_TOPIC, TIMING_TOPIC, in_root, root_types)
from rtc_contract.timing_components import COMPONENTS, WHOLE
from rtc_runtime.profiling import format_profiling_summary, stats_of
from so100_driver.topics import DRIVER_BUS_STATUS


@dataclass
class Recording:
    """The messages of a run that the report needs, times in seconds since the first message."""

    statuses: list = field(default_factory=list)      # (t, tick, served chunk id, served row)
    last_status: object = None
    merges: list = field(default_factory=list)        # (d assumed, d_real, chunk id)
    prev_chunk_ids: dict = field(default_factory=dict)  # chunk id -> the chunk its guidance followed (0: none)
    merge_times: list = field(default_factory=list)   # t of each merge
    chunks: dict = field(default_factory=dict)        # id -> (length, dim) radians
    guidance_modes: set = field(default_factory=set)  # ActionChunk.guidance_mode values seen
    fresh_plans: set = field(default_factory=set)  # ids of guided-mode chunks that follow no leftover
    joint_names: list = field(default_factory=list)
    measured: list = field(default_factory=list)      # (t, {joint name: position}) from /joint_states
    commands: list = field(default_factory=list)      # (t, {joint name: position}) from the JointState command
    timings: list = field(default_factory=list)       # (t, inference ms, end-to-end ms, delay)
    components: dict = field(default_factory=dict)    # /rtc/timing field -> values in ms, per chunk
    target_reached_after_s: float | None = None
    task: dict = field(default_factory=dict)          # sim_camera's last task counts (targets_shown, ...)
    task_outcome: TaskOutcome | None = None           # the twin's last pick-and-place outcome
    task_success_t: float | None = None               # t of the first twin status that reported success
    torque_on: set = field(default_factory=set)       # the driver's torque_on values seen ({False}: a dry run)
    holds: list = field(default_factory=list)         # (t from, t to) of each stretch on the executor's ~/hold
    resets: list = field(default_factory=list)        # t of each of the executor's ~/reset (a new epoch)
    cadence: dict = field(default_factory=dict)       # diagnostic status name -> its last cadence line
    t0: float = 0.0
    t_end: float = 0.0


COMMAND_TOPIC = in_root(COMMAND_TOPICS["joint_state"])  # the executor's JointState command (the array one has no names)
TOPICS = root_types(EXECUTOR_STATUS_TOPIC, ACTION_CHUNK_TOPIC, JOINT_STATES_TOPIC, COMMAND_TOPICS["joint_state"],
                    TIMING_TOPIC, DIAGNOSTICS_TOPIC)


TASK_COUNTS = ("targets_shown", "targets_reached", "obstacle_contacts")  # sim_camera's task diagnostics


def read_bag(path: Path) -> Recording:
    """The report's messages of the bag at `path`; BagError (one line) for a bag it cannot use."""
    rec = Recording()
    status_msgs = []
    with open_bag(path) as (reader, store):
        require_topics(reader, [in_root(EXECUTOR_STATUS_TOPIC)], "the report")  # without chunks: a run that made none
        start = reader.start_time
        rec.t0, rec.t_end = 0.0, (reader.end_time - start) / 1e9
        for topic, stamp_ns, msg in decoded(reader, store, TOPICS):
            t = (stamp_ns - start) / 1e9
            if topic == in_root(EXECUTOR_STATUS_TOPIC):
                status_msgs.append((header_time(msg, start, t), msg))
            elif topic == in_root(ACTION_CHUNK_TOPIC):
                actions = np.asarray(msg.actions, dtype=np.float64)
                if actions.size != msg.length * msg.action_dim:
                    raise BagError(f"chunk {msg.chunk_id} has {actions.size} actions for {msg.length} x "
                                   f"{msg.action_dim}")
                rec.chunks[msg.chunk_id] = actions.reshape(msg.length, msg.action_dim)
                rec.prev_chunk_ids[msg.chunk_id] = msg.prev_chunk_id
                rec.guidance_modes.add(msg.guidance_mode)
                if msg.guidance_mode != GuidanceMode.OFF and msg.prev_chunk_id == 0:
                    rec.fresh_plans.add(msg.chunk_id)
                rec.joint_names = list(msg.joint_names)
            elif topic == in_root(JOINT_STATES_TOPIC):
                rec.measured.append((header_time(msg, start, t), dict(zip(msg.name, msg.position))))
            elif topic == COMMAND_TOPIC:
                rec.commands.append((header_time(msg, start, t), dict(zip(msg.name, msg.position))))
            elif topic == in_root(TIMING_TOPIC):
                rec.timings.append((t, msg.policy_inference_ms, msg.end_to_end_ms, msg.inference_delay))
                for name in COMPONENTS:  # bags from before a field existed lack it
                    if hasattr(msg, name):
                        rec.components.setdefault(name, []).append(getattr(msg, name))
            elif topic == DIAGNOSTICS_TOPIC:
                for status in msg.status:
                    values = {kv.key: kv.value for kv in status.values}
                    if values.get("target_reached_after_s"):
                        rec.target_reached_after_s = float(values["target_reached_after_s"])
                    if all(key in values for key in TASK_COUNTS):
                        rec.task = {key: int(values[key]) for key in TASK_COUNTS}
                    if all(key in values for key in TaskOutcome.KEYS):
                        try:
                            rec.task_outcome = TaskOutcome.from_status(status.name, values)
                        except DiagnosticValueError as err:
                            raise BagError(str(err)) from None
                        if rec.task_outcome.success and rec.task_success_t is None:
                            rec.task_success_t = header_time(msg, start, t)
                    if "cadence" in values:  # the executor's and the driver's control loops
                        rec.cadence[status.name] = values["cadence"]
                    if status.name.endswith(DRIVER_BUS_STATUS) and "torque_on" in values:
                        rec.torque_on.add(values["torque_on"] == "True")
    rec.statuses, merges = served_rows_and_merges(status_msgs)
    rec.holds, rec.resets = holds_and_resets(status_msgs)
    rec.merges = [merge[1:] for merge in merges]
    rec.merge_times = [merge[0] for merge in merges]
    rec.last_status = max((msg for _, msg in status_msgs), key=lambda msg: msg.step, default=None)
    return rec


def header_time(msg, start_ns: int, received_s: float) -> float:
    """Seconds from the bag's start to `msg`'s header stamp; `received_s` when it is stamped zero."""
    stamp_ns = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
    return (stamp_ns - start_ns) / 1e9 if stamp_ns else received_s


def served_rows_and_merges(status_msgs: list) -> tuple[list, list]:
    """From (t, ExecutorStatus) pairs in any order: what each tick served, (t, tick, chunk id, row),
    and each merge, (t, d assumed, d_real, chunk id), in tick order whatever the receive stamps."""
    served, merges, merged_seen, last_step = [], [], 0, None
    for t, msg in sorted(status_msgs, key=lambda item: item[1].step):
        new_step, last_step = msg.step != last_step, msg.step  # speed_scale < 1 repeats a step between rows
        if new_step and not hasattr(msg, "served_chunk_id"):  # recorded before statuses said what was served:
            served.append((t, msg.step, msg.active_chunk_id, msg.index_in_chunk))  # next pop's row
        elif new_step and msg.step > 0:  # the status of tick k (step k + 1) says what tick k served
            served.append((t, msg.step - 1, msg.served_chunk_id, msg.served_index))
        if msg.merged_count > merged_seen:
            merged_seen = msg.merged_count
            merges.append((t, msg.last_d_assumed, msg.last_d_real, msg.active_chunk_id))
    return served, merges


def holds_and_resets(status_msgs: list) -> tuple[list, list]:
    """From (t, ExecutorStatus) pairs: the (from, to) times of each stretch on ~/hold and the time of
    each ~/reset (the epoch went up). Bags recorded before statuses carried them have neither."""
    holds, resets, epoch, since = [], [], 0, None
    for t, msg in sorted(status_msgs, key=lambda item: item[1].step):
        on_hold = bool(getattr(msg, "on_hold", False))
        if on_hold and since is None:
            since = t
        elif not on_hold and since is not None:
            holds.append((since, t))
            since = None
        if getattr(msg, "epoch", 0) > epoch:
            resets.extend([t] * (msg.epoch - epoch))
            epoch = msg.epoch
    if since is not None:
        holds.append((since, max(t for t, _ in status_msgs)))
    return holds, resets


def summarize(rec: Recording) -> RunSummary:
    trajectory = executed_trajectory(rec.statuses, rec.chunks, rec.t0)
    last = rec.last_status
    # The delay is a promise only to guided chunks, and a fresh plan's seam a switch by design: the
    # seam figures count the seams into the others (all of them in an unguided run).
    counted = counted_seams(trajectory, rec.fresh_plans, exclude=True)
    measured, measured_seam_jerk_ratio = measured_figures(rec.measured, trajectory, counted)
    return RunSummary(
        duration_s=rec.t_end - rec.t0,
        chunks=len(rec.chunks),
        merged=last.merged_count if last else 0,
        rejected=last.rejected_count if last else 0,
        underruns=last.underrun_count if last else 0,
        # The delay is a promise only to guided chunks; the first chunk follows nothing.
        delays=[(assumed, real) for assumed, real, chunk_id in rec.merges if rec.prev_chunk_ids.get(chunk_id)],
        seam_ratio=seam_ratio(trajectory, rec.fresh_plans, exclude=True),
        fresh_plan_seams=fresh_plan_seams(trajectory, rec.fresh_plans),
        fresh_plan_seam_ratio=seam_ratio(trajectory, rec.fresh_plans),
        inference_ms=Percentiles.of([x[1] for x in rec.timings]),
        end_to_end_ms=Percentiles.of([x[2] for x in rec.timings]),
        target_reached_after_s=rec.target_reached_after_s,
        task=rec.task,
        task_outcome=rec.task_outcome,
        seam_step_max_rad=seam_step_max(trajectory, rec.fresh_plans, exclude=True),
        measured_seam_jerk_ratio=measured_seam_jerk_ratio,
        tracking_error_rad=tracking_errors(rec.commands, rec.measured),
        measured=measured,
        dry_run=rec.torque_on == {False},
        holds=len(rec.holds),
        held_s=sum(end - start for start, end in rec.holds),
        resets=len(rec.resets),
    )


def profiling_stats(rec: Recording) -> dict[str, dict[str, float]]:
    """The policy node's per-chunk components as rtc_runtime.profiling statistics (seconds)."""
    return {COMPONENTS[name]: stats_of([v / 1000.0 for v in values])
            for name, values in rec.components.items() if values}


DETAIL_S = 20.0  # a longer run's joint plot: the whole run as an envelope beside this long in full
OVERVIEW_BINS = 1000  # the envelope's time bins: about one per pixel column of the overview


def envelope(times: np.ndarray, values: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bin centres, min, max) of `values` over `bins` equal time bins (empty bins left out): a
    decimation for drawing that keeps every jump a bin contains."""
    edges = np.linspace(times[0], times[-1], bins + 1)
    which = np.clip(np.searchsorted(edges, times, side="right") - 1, 0, bins - 1)
    lo, hi = np.full(bins, np.inf), np.full(bins, -np.inf)
    np.minimum.at(lo, which, values)
    np.maximum.at(hi, which, values)
    full = np.isfinite(lo)
    return ((edges[:-1] + edges[1:]) / 2)[full], lo[full], hi[full]


def plot(rec: Recording, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    trajectory = executed_trajectory(rec.statuses, rec.chunks, rec.t0)
    names = rec.joint_names
    seam_times = trajectory.times[trajectory.seams() + 1] if len(trajectory.steps) else np.empty(0)
    # A long run drawn whole is a grey wash of seam lines: its overview draws envelopes with the seams
    # as a rug, and the detail shows DETAIL_S around the largest seam step at full resolution.
    long_run = len(trajectory.steps) > 1 and trajectory.times[-1] - trajectory.times[0] > DETAIL_S
    if long_run:
        at, _ = trajectory.largest_seam()
        start = min(max(at - DETAIL_S / 2, trajectory.times[0]), trajectory.times[-1] - DETAIL_S)
        detail = (start, start + DETAIL_S)
    else:
        detail = (-np.inf, np.inf)
    rows = max(len(names), 1)
    fig, axes = plt.subplots(rows, 2 if long_run else 1, figsize=(15 if long_run else 11, 2.0 * rows),
                             squeeze=False, sharex="col", gridspec_kw={"width_ratios": [1.4, 1]} if long_run else None)
    for j, name in enumerate(names):
        measured = np.array([(t, p[name]) for t, p in rec.measured if name in p]).reshape(-1, 2)
        ax = axes[j][-1]
        shown = (trajectory.times >= detail[0]) & (trajectory.times <= detail[1])
        if shown.any():
            ax.plot(trajectory.times[shown], trajectory.actions[shown, j], lw=1.2,
                    label="commanded (executed chunk rows)")
        measured_shown = measured[(measured[:, 0] >= detail[0]) & (measured[:, 0] <= detail[1])]
        if len(measured_shown):
            ax.plot(measured_shown[:, 0], measured_shown[:, 1], lw=1.0, alpha=0.8, label="measured /joint_states")
        for s in seam_times[(seam_times >= detail[0]) & (seam_times <= detail[1])]:
            ax.axvline(s, color="grey", lw=0.5, alpha=0.5)
        for start, end in rec.holds:  # within the window shown, so they do not widen it
            if start <= detail[1] and end >= detail[0]:
                ax.axvspan(max(start, detail[0]), min(end, detail[1]), color="tab:purple", alpha=0.15, lw=0)
        for t in rec.resets:
            if detail[0] <= t <= detail[1]:
                ax.axvline(t, color="red", lw=1.0, ls="--")
        ax.set_ylabel(f"{name}\n[rad]", fontsize=8)
        if long_run:
            overview = axes[j][0]
            for t, y, label in ((trajectory.times, trajectory.actions[:, j], "commanded"),
                                (measured[:, 0], measured[:, 1], "measured")):
                if len(t) > 1:
                    centres, lo, hi = envelope(t, y, OVERVIEW_BINS)
                    (line,) = overview.plot(centres, hi, lw=0.9, label=f"{label} (min-max per bin)")
                    overview.plot(centres, lo, lw=0.9, color=line.get_color())
                    overview.fill_between(centres, lo, hi, color=line.get_color(), alpha=0.3, lw=0)
            overview.vlines(seam_times, 0.0, 0.06, color="grey", lw=0.4, transform=overview.get_xaxis_transform())
            overview.axvspan(*detail, color="orange", alpha=0.15)
            overview.set_ylabel(f"{name}\n[rad]", fontsize=8)
    axes[0][-1].legend(loc="upper right", fontsize=8)
    dry_run_note = "; dry run: torque off, the arm did not follow" if rec.torque_on == {False} else ""
    control = "; purple: on ~/hold, red dashed: ~/reset" if rec.holds or rec.resets else ""
    if long_run:
        axes[0][0].legend(loc="upper right", fontsize=8)
        axes[0][0].set_title(f"Whole run; seams as the grey rug; orange: the {DETAIL_S:.0f} s on the right"
                             + dry_run_note, fontsize=9)
        axes[0][1].set_title("Around the largest seam step; grey lines are chunk seams" + control, fontsize=9)
        axes[-1][0].set_xlabel("time [s]")
    else:
        axes[0][0].set_title("Joints: commanded vs measured; grey lines are chunk seams" + dry_run_note + control)
    axes[-1][-1].set_xlabel("time [s]")
    fig.tight_layout()
    joints_png = out_dir / "joints.png"
    fig.savefig(joints_png, dpi=90)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(11, 3.5))
    if rec.timings:
        t, inference, e2e, _ = zip(*rec.timings)
        ax.plot(t, inference, "o-", ms=3, label="policy inference [ms]")
        ax.plot(t, e2e, "s-", ms=3, label="observation -> chunk [ms]")
    if rec.merges:
        period_ms = 1000.0 / rec.last_status.control_rate_hz
        ax.plot(rec.merge_times, [r * period_ms for _, r, _ in rec.merges], "^", ms=4, label="d_real x tick [ms]")
    ax.set_xlabel("time [s]")
    ax.set_ylabel("ms")
    if rec.timings or rec.merges:  # a run without chunks has nothing to label
        ax.legend(fontsize=8)
    ax.set_title("Latency per chunk")
    fig.tight_layout()
    latency_png = out_dir / "latency.png"
    fig.savefig(latency_png, dpi=90)
    plt.close(fig)
    return [joints_png, latency_png]


def bag_size_line(bag: Path, duration_s: float) -> str:
    """Size of the bag's files, in total and per minute of recording."""
    size_mb = sum(p.stat().st_size for p in bag.iterdir() if p.is_file()) / 1e6
    per_minute = f", {size_mb * 60.0 / duration_s:.1f} MB per minute" if duration_s > 0 else ""
    return f"bag size            {size_mb:.1f} MB{per_minute}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bag", type=Path)
    parser.add_argument("--plots", type=Path, help="directory for the PNG plots")
    parser.add_argument("--json", type=Path, help="write the summary as JSON")
    args = parser.parse_args(argv)
    try:
        rec = read_bag(args.bag)
    except BagError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 1
    summary = summarize(rec)
    print("\n".join(summary.lines()))
    for name, line in sorted(rec.cadence.items()):
        print(f"cadence             {name}: {line}")
    print(bag_size_line(args.bag, rec.t_end - rec.t0))
    profile = profiling_stats(rec)
    if profile:
        print()
        print(format_profiling_summary(profile, sort_by="mean", whole=WHOLE,
                                       title="where obs->chunk goes (per chunk, from /rtc/timing)"))
    if args.plots:
        for path in plot(rec, args.plots):
            print(f"plot                {path}")
    if args.json:
        args.json.write_text(json.dumps({**asdict(summary), "profiling": profile, "cadence": rec.cadence}, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
