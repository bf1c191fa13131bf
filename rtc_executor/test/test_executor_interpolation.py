"""executor_node with interpolated control, as its own process over real DDS: this test process plays
the driver's /joint_states and the policy node (chunks with source_step from the latest status), and
checks that commands come at interpolation x the policy rate, all inside the command guard's
envelope, while the statuses the policy sees stay one per policy tick; hostile chunks (a huge step,
an excess within the tolerance) are refused or clamped as without interpolation."""
from __future__ import annotations

import time

import numpy as np
import pytest

from rtc_executor.core.command_guard import GuardLimits
from test_executor_node import HOLD, JOINTS, command_values, start_ready_executor, stamp_key
from test_executor_node import peer_factory  # noqa: F401 (the fixture the tests take)

pytestmark = pytest.mark.ros

POLICY_HZ, FACTOR = 30.0, 3
GUARD = dict(max_velocity=[3.0], max_acceleration=[30.0], lower=[-2.0], upper=[2.0], tolerance=0.05, max_seam=0.3)
PARAMS = (f"control_rate_hz:={POLICY_HZ}", f"interpolation:={FACTOR}", "interpolation_mode:=hermite",
          "max_velocity:=[3.0]", "max_acceleration:=[30.0]", "position_lower_limits:=[-2.0]",
          "position_upper_limits:=[2.0]", "guard_max_seam:=0.3")
LIMITS = GuardLimits.from_parameters(len(JOINTS), POLICY_HZ * FACTOR, interpolation=FACTOR, **GUARD)


def policy_rows(step: int, origin: int, length: int = 30) -> np.ndarray:
    """A smooth path of the arm leaving HOLD at tick `origin`, row r meant for tick step + r."""
    t = (step - origin + np.arange(length))[:, None] / POLICY_HZ
    return HOLD + 0.3 * np.sin(1.5 * t + np.arange(len(JOINTS))[None, :]) - 0.3 * np.sin(np.arange(len(JOINTS)))


def stamped_commands(commands: list) -> tuple[np.ndarray, np.ndarray]:
    """(stamps in s, values) of the commands this peer received, in order."""
    stamps = np.array([c.header.stamp.sec + c.header.stamp.nanosec * 1e-9 for c in commands])
    return stamps, np.array([command_values(c) for c in commands])


def assert_inside_the_envelope(stamps: np.ndarray, values: np.ndarray) -> None:
    """Positions always; steps between commands one tick apart (a slow reader may miss some)."""
    assert not LIMITS.violations(values[:1]).any()
    consecutive = np.diff(stamps) < 1.5 / (POLICY_HZ * FACTOR)
    for i in np.flatnonzero(consecutive):
        assert not LIMITS.violations(values[i + 1:i + 2], previous=values[i]).any(), (i, values[i:i + 2])


def test_commands_at_three_times_the_policy_rate_inside_the_guard_and_statuses_per_policy_tick(
        processes, peer_factory):  # noqa: F811
    peer = peer_factory()
    proc = start_ready_executor(processes, peer, *PARAMS)
    chunk_id, sent_at, origin = 0, 0.0, peer.last_status().step
    deadline = time.monotonic() + 4.0
    while time.monotonic() < deadline:  # a chunk every 0.4 s, from the executor's latest step
        if time.monotonic() - sent_at >= 0.4:
            chunk_id += 1
            step = peer.last_status().step
            peer.publish_chunk(chunk_id, step, policy_rows(step, origin), inference_delay=2)
            sent_at = time.monotonic()
        time.sleep(0.01)
    peer.wait_for(lambda: peer.statuses[-1].merged_count >= chunk_id - 1, "the merges", proc, processes)
    statuses, commands = peer.snapshot()
    last = statuses[-1]
    assert last.merged_count >= 8 and last.rejected_count == 0
    assert all(s.control_rate_hz == POLICY_HZ for s in statuses)
    steps = np.array([s.step for s in statuses])
    assert (np.diff(steps) >= 1).all() and np.mean(np.diff(steps) == 1) > 0.95  # one status per policy tick
    stamps, values = stamped_commands(commands)
    status_stamps = {stamp_key(s.header.stamp) for s in statuses}
    on_status = [stamp_key(c.header.stamp) in status_stamps for c in commands]
    span = (statuses[-1].header.stamp.sec + statuses[-1].header.stamp.nanosec * 1e-9) - \
        (statuses[0].header.stamp.sec + statuses[0].header.stamp.nanosec * 1e-9)
    in_span = np.count_nonzero((stamps >= stamps[0]) & (stamps <= stamps[0] + span))
    ratio = in_span / len(statuses)
    assert 2.5 <= ratio <= 3.3, ratio  # commands per status (a slow reader may miss a few commands)
    assert 0.2 < np.mean(on_status) < 0.45  # the statuses share the stamp of every third command only
    moving = np.ptp(values, axis=0).max()
    assert moving > 0.1  # the arm followed the chunks
    assert_inside_the_envelope(stamps, values)


def test_hostile_chunks_with_interpolation_are_refused_or_clamped_and_the_arm_never_jumps(
        processes, peer_factory):  # noqa: F811
    peer = peer_factory()
    proc = start_ready_executor(processes, peer, *PARAMS)
    step = peer.last_status().step
    huge = np.repeat(HOLD[None, :], 20, axis=0)
    huge[10:, 0] += 1.0  # a 1 rad step between two rows: 30 rad/s at 30 rows per second
    peer.publish_chunk(1, step, huge)
    peer.wait_for(lambda: peer.statuses[-1].rejected_count == 1, "the step rejection", proc, processes)
    assert peer.last_status().last_reject_reason.startswith("step: rows 9->10 joint 0")
    assert peer.last_status().merged_count == 0
    # An excess within guard_tolerance is merged and clamped: 0.14 rad per row is 4.2 rad/s > 3 rad/s.
    step = peer.last_status().step
    fast = HOLD + np.outer(np.arange(12), [0.14, 0, 0, 0, 0, 0])
    peer.publish_chunk(2, step, fast)
    peer.wait_for(lambda: peer.statuses[-1].merged_count == 1 and peer.statuses[-1].clamped_count > 0,
                  "the clamped merge", proc, processes)
    peer.wait_for(lambda: peer.statuses[-1].step > step + 20, "the chunk played out", proc, processes)
    statuses, commands = peer.snapshot()
    stamps, values = stamped_commands(commands)
    assert_inside_the_envelope(stamps, values)
    assert values[:, 0].max() - HOLD[0] > 1.0  # it moved, at the guard's speed
