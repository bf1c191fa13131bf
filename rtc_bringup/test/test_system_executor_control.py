"""System tests of the executor's time base and runtime control on the simulated graph (runner,
separate processes, DDS): a slow first inference does not jump the arm into its chunk, `speed_scale`
slows the arm down, and `~/reset` (called with the real `ros2 service call`) drops the inference in
flight.

Judged from the recorded bag: the executor's statuses (merges, rejections, guard clamps) and the
driver's measured /joint_states.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_system_bags import LOADED, LOAD_TIMEOUT_S, record_after_load, stop, wait_for_line

pytestmark = [pytest.mark.ros, pytest.mark.slow]

STATUS = "/rtc/executor_status"
JOINT_STATES = "/joint_states"
TOPICS = {STATUS: "rtc_msgs/msg/ExecutorStatus", JOINT_STATES: "sensor_msgs/msg/JointState"}


def read(bag: Path) -> tuple[list, list]:
    from rtc_tools.bag_reader import decoded, open_bag

    statuses, joint_states = [], []
    with open_bag(bag) as (reader, store):
        for topic, _, msg in decoded(reader, store, TOPICS):
            (statuses if topic == STATUS else joint_states).append(msg)
    return sorted(statuses, key=lambda s: s.step), joint_states


def test_a_1_s_first_inference_neither_jumps_nor_is_refused_at_the_first_seam(tmp_path):
    """The arm holds for about 30 ticks while the first inference runs: that chunk plays from row 0
    (nothing was executed meanwhile), passes the guard's seam check and needs no clamp."""
    latencies = ",".join(["1000"] + ["0"] * 60)  # the first chunk only (the sequence repeats after 61)
    statuses, _ = read(record_after_load(tmp_path, "cold_first", 12.0, f"extra_latency_sequence_ms:={latencies}"))
    first = next(s for s in statuses if s.merged_count >= 1)
    assert first.last_d_real >= 25 and first.last_skipped == 0, first  # a second late, nothing skipped
    assert first.rejected_count == 0, first.last_reject_reason
    # no clamp from the start through the first seam and the chunk's first 20 rows
    assert all(s.clamped_count == 0 for s in statuses if s.step <= first.step + 20)
    assert statuses[-1].merged_count >= 5 and statuses[-1].rejected_count == 0, statuses[-1]


def joint_speeds(joint_states: list, window: int = 5) -> np.ndarray:
    """Measured speed per joint (rad/s) over `window` samples, so the servos' position steps
    (about 1.5 mrad) do not read as speed spikes."""
    stamps = np.array([m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in joint_states])
    order = np.argsort(stamps)
    positions = np.array([m.position for m in joint_states])[order]
    stamps = stamps[order]
    return np.abs(positions[window:] - positions[:-window]) / (stamps[window:] - stamps[:-window])[:, None]


def test_speed_scale_half_keeps_the_measured_joint_speed_under_half_the_envelope(tmp_path):
    from ament_index_python.packages import get_package_share_directory
    from rtc_bringup.graph import build_graph, effective_parameters

    bag = record_after_load(tmp_path, "half_speed", 12.0, "speed_scale:=0.5")
    statuses, joint_states = read(bag)
    assert {s.control_rate_hz for s in statuses} == {15.0}  # rows at half the rate: delays counted in rows
    assert statuses[-1].merged_count >= 3 and statuses[-1].rejected_count == 0, statuses[-1]
    share = Path(get_package_share_directory("rtc_bringup"))
    (executor,) = [s for s in build_graph({"speed_scale": "0.5"}, share) if s.name == "rtc_executor"]
    envelope = np.array(effective_parameters(executor)["max_velocity"])
    speeds = joint_speeds(joint_states)
    assert speeds.max() > 0.05, "the arm did not move"
    assert (speeds.max(axis=0) <= 0.5 * envelope).all(), (speeds.max(axis=0), envelope)


def test_a_reset_drops_the_inference_in_flight_and_the_next_chunk_starts_from_rest(tmp_path):
    """Inferences of 3 s: one is in flight nearly all the time. After `ros2 service call
    /rtc_executor/reset`, its chunk is never published (no pre_reset refusal), and the next one merges
    under the new epoch, from row 0."""
    bag, log_path = tmp_path / "reset_bag", tmp_path / "reset.log"
    with open(log_path, "wb") as log:
        runner = subprocess.Popen([sys.executable, "-m", "rtc_bringup.run", "--sim", "--record", str(bag),
                                   "extra_latency_ms:=3000"], stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        wait_for_line(log_path, LOADED, runner, LOAD_TIMEOUT_S)
        time.sleep(8.0)  # the first chunk merged, the second inference under way
        ros2 = shutil.which("ros2") or str(Path(sys.executable).parent / "ros2")
        reply = subprocess.run([ros2, "service", "call", "/rtc_executor/reset", "std_srvs/srv/Trigger"],
                               capture_output=True, text=True, timeout=60)
        assert reply.returncode == 0 and "success=True" in reply.stdout, reply
        wait_for_line(log_path, "dropped the chunk of an inference started before the executor's reset",
                      runner, 30.0)
        time.sleep(8.0)  # the next inference, planned after the reset, merges
        assert stop(runner) == 0, log_path.read_text(errors="replace")[-3000:]
    finally:
        stop(runner, timeout=1.0)
    statuses, _ = read(bag)
    last = statuses[-1]
    assert last.epoch == 1 and last.rejected_count == 0, last.last_reject_reason
    after = [s for s in statuses if s.epoch == 1]
    merged_before = after[0].merged_count
    assert after[0].remaining == 0 and after[0].holding  # the queue was emptied: the arm holds
    fresh = next(s for s in after if s.merged_count > merged_before)
    assert fresh.last_skipped == 0  # it arrived while the arm held: from row 0
