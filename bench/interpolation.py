"""Interpolated control: smoothness of the commanded trajectory, and executor tick lateness, at a
30 fps policy rate x {1, 2, 3} (linear and hermite).

Smoothness: the chunks of a simulated run (a bag recorded by `python -m rtc_bringup.run --sim
--record DIR`) are fed to the executor core
(`ExecutorCore`, the guard configured as in config/so100_sim.yaml) at the sub-tick each arrived
(from the bag's receive times, relative to the executor statuses around them): the same chunks, the
same d_real, for every interpolation. Its commands q are measured two ways, over the span where
chunks play, as the max (and p99) over joints and ticks of |acceleration| (second difference / dt^2,
rad/s^2) and |jerk| (third difference / dt^3, rad/s^3), from the third policy tick with a row on
(the first ones start from the hold, through the guard's acceleration bound, alike in every run):
- `setpoint`: the position the driver holds, as a function of time (each command until the next,
  as the driver's latest-wins subscription does), sampled at 180 Hz, a multiple of every command
  rate: what the servo is asked to follow, the same time base for every N;
- `commands`: the command sequence at its own rate (dt = 1 / (30 x N)). Hermite is C1, not C2: its
  acceleration jumps at rows, so this jerk grows with N (an acceleration step over a shorter dt).

Lateness: the real executor node ticking at 30, 60, 90 Hz (control_rate_hz 30 x 1, 2, 3) and 100 Hz
(100/3 x 3), each with chunks and a torch load on the other CPU, as bench/executor_ticks.py does (its
`measure`), from the node's own /diagnostics.

Usage (in the project's environment, `source tools/env.sh`; ROS_DOMAIN_ID private, e.g. 78):
  python -m rtc_bringup.run --sim --duration 100 --record DIR interpolation:=3
  python bench/interpolation.py --bag DIR [--duration 30] [--skip-lateness]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from ament_index_python.packages import get_package_share_directory
from rtc_tools.bag_reader import decoded, open_bag, require_topics
from rtc_bringup.graph import build_graph, effective_parameters
from rtc_executor.core.action_queue import ActionQueue
from rtc_executor.core.chunk_admission import ChunkAdmission
from rtc_executor.core.command_guard import CommandGuard, GuardLimits
from rtc_executor.core.executor_core import ExecutorCore
from rtc_executor.core.interpolation import Interpolator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from executor_ticks import measure  # noqa: E402

POLICY_HZ = 30.0
FACTORS = (1, 2, 3)
SETPOINT_HZ = 180.0  # a multiple of 30 x every factor
MODES = ("linear", "hermite")
LATENESS_RUNS = ((30.0, 1), (30.0, 2), (30.0, 3), (100.0 / 3.0, 3))  # (policy Hz, interpolation)
TOPICS = {"/rtc/executor_status": "rtc_msgs/msg/ExecutorStatus", "/rtc/action_chunk": "rtc_msgs/msg/ActionChunk",
          "/joint_states": "sensor_msgs/msg/JointState"}


def read_run(bag: Path) -> tuple[list, list, np.ndarray]:
    """(statuses as (t, step, period), chunks as (t, message), the first /joint_states in executor
    order) of a recorded run; times in s, bag receive times."""
    statuses, chunks, start = [], [], None
    executor = sim_executor_parameters()
    with open_bag(bag) as (reader, store):
        require_topics(reader, list(TOPICS), "the interpolation bench")
        for topic, stamp_ns, msg in decoded(reader, store, TOPICS):
            t = stamp_ns * 1e-9
            if topic == "/rtc/executor_status":
                statuses.append((t, msg.step, 1.0 / msg.control_rate_hz))
            elif topic == "/rtc/action_chunk":
                chunks.append((t, msg))
            elif start is None:
                position = dict(zip(msg.name, msg.position))
                start = np.array([position[j] for j in executor["joint_names"]])
    return statuses, chunks, start


def sim_executor_parameters() -> dict:
    share = Path(get_package_share_directory("rtc_bringup"))
    (spec,) = [s for s in build_graph({}, share) if s.name == "rtc_executor"]
    return effective_parameters(spec)


def make_core(factor: int, mode: str) -> ExecutorCore:
    p = sim_executor_parameters()
    joints = p["joint_names"]
    limits = GuardLimits.from_parameters(
        len(joints), POLICY_HZ * factor, p.get("position_lower_limits", ()), p.get("position_upper_limits", ()),
        p.get("max_velocity", [3.0]), p.get("max_acceleration", [30.0]), interpolation=factor)
    return ExecutorCore(joints, ActionQueue(len(joints), "rtc"), CommandGuard(limits),
                        ChunkAdmission(max_length=100), Interpolator(factor, mode))


def replay_commands(statuses: list, chunks: list, start: np.ndarray, factor: int, mode: str) -> tuple:
    """Commands of the executor core fed the recorded chunks at the sub-ticks they arrived at; and
    (merged, clamped sub-ticks, the first and last sub-tick with a row)."""
    core = make_core(factor, mode)
    core.start_from(start)
    first_step = statuses[0][1]
    times = np.array([s[0] for s in statuses])
    steps = np.array([s[1] for s in statuses])
    arrivals: dict[int, list] = {}  # sub-tick index (from the first status) before which a chunk merges
    for t, msg in chunks:
        i = np.searchsorted(times, t, side="right") - 1
        if i < 0:
            continue
        fraction = min(max((t - times[i]) / statuses[i][2], 0.0), 1.0)
        # status `step` k goes out at sub-tick 0 of tick k - 1: the chunk lands in tick k - 1
        sub = (steps[i] - 1 - first_step) * factor + min(int(fraction * factor), factor - 1) + 1
        arrivals.setdefault(sub, []).append(msg)
    # The core's queue starts at step 0: shift the recorded steps to it.
    commands, played, merged = [], [], 0
    for sub in range((steps[-1] - first_step) * factor):
        for msg in arrivals.get(sub, []):
            shifted = SimpleNamespace(**{k: getattr(msg, k) for k in ("chunk_id", "source", "joint_names", "length",
                                                                      "action_dim", "actions")},
                                      source_step=msg.source_step - first_step)
            merged += core.receive(shifted, 0.0).merged
        tick = core.tick()
        commands.append(tick.command)
        played.append(tick.served.action is not None)
    played = np.flatnonzero(played)
    return np.array(commands), merged, core.guard.counters()[0], (played[0], played[-1])


def smoothness(q: np.ndarray, dt: float) -> dict:
    acc = np.abs(np.diff(q, n=2, axis=0)).max(axis=1) / dt**2
    jerk = np.abs(np.diff(q, n=3, axis=0)).max(axis=1) / dt**3
    return dict(acc_max=acc.max(), acc_p99=np.percentile(acc, 99), jerk_max=jerk.max(),
                jerk_p99=np.percentile(jerk, 99))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bag", type=Path, required=True, help="a recorded simulated run")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per lateness run")
    parser.add_argument("--skip-lateness", action="store_true")
    opts = parser.parse_args()
    os.environ.setdefault("ROS_DOMAIN_ID", "78")
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    work = Path(tempfile.mkdtemp(prefix="interpolation_bench_"))
    bag = opts.bag
    statuses, chunks, start = read_run(bag)
    print(f"{bag}: {len(chunks)} chunks over {len(statuses)} policy ticks", flush=True)
    print(f"{'measure':9} {'mode':8} {'x':>2} {'Hz':>4} {'merged':>6} {'clamped':>7} {'acc max':>9} {'acc p99':>9} "
          f"{'jerk max':>10} {'jerk p99':>10}   (rad/s^2, rad/s^3)")
    base: dict[str, dict] = {}
    for mode in MODES:
        for factor in FACTORS:
            if factor == 1 and mode != MODES[0]:
                continue  # x1 plays the rows as they are, whatever the mode
            commands, merged, clamped, (first, last) = replay_commands(statuses, chunks, start, factor, mode)
            played = commands[first + 2 * factor:last + 1]
            hold = int(SETPOINT_HZ / (POLICY_HZ * factor))
            for measure_name, s in (("setpoint", smoothness(np.repeat(played, hold, axis=0), 1.0 / SETPOINT_HZ)),
                                    ("commands", smoothness(played, 1.0 / (POLICY_HZ * factor)))):
                base.setdefault(measure_name, s)
                label = "rows" if factor == 1 else mode
                print(f"{measure_name:9} {label:8} {factor:2d} {POLICY_HZ * factor:4.0f} {merged:6d} {clamped:7d} "
                      f"{s['acc_max']:9.2f} {s['acc_p99']:9.2f} {s['jerk_max']:10.1f} {s['jerk_p99']:10.1f}   "
                      f"x1 / this: jerk max {base[measure_name]['jerk_max'] / s['jerk_max']:.2f}, acc max "
                      f"{base[measure_name]['acc_max'] / s['acc_max']:.2f}", flush=True)
    if opts.skip_lateness:
        return
    print("executor_node tick lateness (torch load on the other CPU, executor pinned to CPU 0):")
    for policy_hz, factor in LATENESS_RUNS:
        r = measure(policy_hz, opts.duration, realtime=True, pin=True, sender_priority=0, log_dir=str(work),
                    interpolation=factor)
        print(f"  {policy_hz * factor:5.1f} Hz ({policy_hz:.2f} x {factor})  p50 {r['p50_ms']:.3f} ms  p99 "
              f"{r['p99_ms']:.3f} ms  max {r['max_ms']:.3f} ms over {r['window_ticks']} ticks; missed "
              f"{r['missed_ticks']}; merged {r['merged']} rejected {r['rejected']} underruns {r['underruns']}; "
              f"{r['scheduling']}", flush=True)


if __name__ == "__main__":
    main()
