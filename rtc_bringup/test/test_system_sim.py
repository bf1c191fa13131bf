"""System tests: the simulated graph started by the runner, as separate processes over real DDS.

Each run is recorded with the runner's recorder and judged from the bag by the report code, the
same way a user evaluates a run offline.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_system_bags import record_after_load

pytestmark = [pytest.mark.ros, pytest.mark.slow]

TICK_MS = 1000.0 / 30.0


def run_graph(processes, tmp_path: Path, name: str, duration: float, *arguments: str) -> dict:
    """A runner run of `duration` seconds, start-up included, judged by the report."""
    bag = tmp_path / f"{name}_bag"
    runner = processes.start([sys.executable, "-m", "rtc_bringup.run", "--sim", "--duration", str(duration),
                              "--record", str(bag), *arguments], name=name)
    try:
        code = runner.wait(timeout=duration + 90)
    except subprocess.TimeoutExpired:
        pytest.fail(f"runner did not stop; log:\n{processes.log(runner)[-4000:]}")
    assert code == 0, processes.log(runner)[-4000:]
    return judge(tmp_path, name, bag)


def judge(tmp_path: Path, name: str, bag: Path) -> dict:
    """The report's summary of a recorded run (and its plots under tmp_path/name)."""
    summary_path = tmp_path / f"{name}.json"
    report = subprocess.run([sys.executable, "-m", "rtc_tools.report", str(bag), "--json", str(summary_path),
                             "--plots", str(tmp_path / name)], capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr
    print(f"--- {name} ---\n{report.stdout}")
    return json.loads(summary_path.read_text())


def test_simulated_graph_reaches_the_target_with_rtc(processes, tmp_path):
    summary = judge(tmp_path, "rtc_default", record_after_load(tmp_path, "rtc_default", 15.0))
    assert summary["merged"] >= 5
    assert summary["underruns"] == 0
    assert summary["rejected"] == 0
    assert summary["delays"], "no merge was recorded"
    # The delay promise holds on a quiet machine; one inference slowed past the windowed maximum by
    # other jobs on the two cores may break it once (seen at load average 6).
    assert sum(real > assumed for assumed, real in summary["delays"]) <= 1, summary["delays"]
    assert summary["target_reached_after_s"] is not None
    assert (tmp_path / "rtc_default" / "joints.png").exists()


def test_rtc_keeps_seams_smooth_where_naive_switching_jumps(processes, tmp_path):
    # 6 ticks of added latency; a new chunk every ~10 ticks so that several seams fall while the arm
    # moves (it reaches the target within a few seconds and then rests).
    arguments = (f"extra_latency_ms:={6 * TICK_MS:.0f}", "trigger_remaining:=40")
    rtc = judge(tmp_path, "rtc_delay6", record_after_load(tmp_path, "rtc_delay6", 15.0, *arguments))  # the default
    naive = judge(tmp_path, "naive_delay6", record_after_load(tmp_path, "naive_delay6", 15.0, *arguments,
                                                              "guidance_mode:=off", "executor_mode:=replace"))
    assert all(real <= assumed for assumed, real in rtc["delays"]), rtc["delays"]
    # Measured over 5 runs each (bench/graph_seams.py): RTC 0.96-1.07, naive 5.6-7.1. The chunk after
    # the first may switch to the policy's new plan, unguided (first_chunk_max_disagreement): that
    # seam is measured apart, and it happens at most once per start from rest.
    assert rtc["seam_ratio"] <= 1.5, rtc
    assert rtc["fresh_plan_seams"] <= 1, rtc
    assert naive["seam_ratio"] >= 3.0, naive


def test_simulated_graph_with_interpolation_x3_commands_at_90_hz_inside_the_guard(processes, tmp_path):
    """interpolation:=3: the policy still sees one status per 30 Hz tick and its chunks merge; the
    driver gets 3 commands per status, every one inside the command guard's envelope."""
    import numpy as np
    from ament_index_python.packages import get_package_share_directory
    from rtc_tools.bag_reader import decoded, open_bag
    from rtc_bringup.graph import build_graph, effective_parameters
    from rtc_executor.core.command_guard import GuardLimits

    from rtc_tools.report import read_bag, summarize

    bag = record_after_load(tmp_path, "interpolation_x3", 15.0, "interpolation:=3")
    summary = summarize(read_bag(bag))
    assert summary.merged >= 5 and summary.rejected == 0, summary
    # d_real counts policy ticks (in sub-ticks it would be 3x the delay the policy assumed); a
    # loaded machine may break a promise now and then, as at x1, so the median is judged.
    assumed, real = np.median(np.array(summary.delays), axis=0)
    assert real <= assumed, summary.delays
    topics = {"/rtc/executor_status": "rtc_msgs/msg/ExecutorStatus", "/so100/command": "sensor_msgs/msg/JointState"}
    statuses, commands, received = [], [], {topic: [] for topic in topics}
    with open_bag(bag) as (reader, store):
        for topic, stamp_ns, msg in decoded(reader, store, topics):
            (statuses if topic == "/rtc/executor_status" else commands).append(msg)
            received[topic].append(stamp_ns)
    assert {s.control_rate_hz for s in statuses} == {30.0}
    steps = np.array([s.step for s in statuses])
    assert (np.diff(steps) >= 1).all() and np.mean(np.diff(steps) == 1) > 0.95
    # Counted while the recorder had both topics (it subscribes to them one after the other).
    both = (max(t[0] for t in received.values()), min(t[-1] for t in received.values()))
    counts = [np.count_nonzero((np.array(t) >= both[0]) & (np.array(t) <= both[1])) for t in received.values()]
    assert 2.7 <= counts[1] / counts[0] <= 3.1, counts
    share = Path(get_package_share_directory("rtc_bringup"))
    (executor,) = [s for s in build_graph({"interpolation": "3"}, share) if s.name == "rtc_executor"]
    p = effective_parameters(executor)
    limits = GuardLimits.from_parameters(len(p["joint_names"]), 90.0, p["position_lower_limits"],
                                         p["position_upper_limits"], p["max_velocity"], p["max_acceleration"],
                                         interpolation=3)
    stamps = np.array([c.header.stamp.sec + c.header.stamp.nanosec * 1e-9 for c in commands])
    values = np.array([c.position for c in commands])
    assert not limits.violations(values[:1]).any()
    for i in np.flatnonzero(np.diff(stamps) < 1.5 / 90.0):  # pairs of commands one tick apart
        assert not limits.violations(values[i + 1:i + 2], previous=values[i]).any(), i
