"""System tests of the executor's time base on the simulated graph (runner, separate processes, DDS):
a slow first inference does not jump the arm into its chunk, and `speed_scale` slows the arm down.

Judged from the recorded bag: the executor's statuses (merges, rejections, guard clamps) and the
driver's measured /joint_states.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_system_bags import record_after_load

pytestmark = [pytest.mark.ros, pytest.mark.slow]

STATUS = "/rtc/executor_status"
JOINT_STATES = "/joint_states"
TOPICS = {STATUS: "rtc_msgs/msg/ExecutorStatus", JOINT_STATES: "sensor_msgs/msg/JointState"}


def read(bag: Path) -> tuple[list, list]:
    from rtc_bringup.bag_reader import decoded, open_bag

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
