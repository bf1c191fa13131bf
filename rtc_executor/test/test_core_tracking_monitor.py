"""TrackingMonitor and ExecutorCore.measured: a sustained tracking error holds the arm for good; a
short one (servo lag) only counts."""
from __future__ import annotations

import numpy as np
import pytest

from rtc_executor.core.action_queue import ActionQueue
from rtc_executor.core.chunk_admission import ChunkAdmission
from rtc_executor.core.command_guard import CommandGuard, GuardLimits
from rtc_executor.core.executor_core import ExecutorCore
from rtc_executor.core.tracking_monitor import TrackingMonitor
from test_core_executor_core import JOINTS, RATE, START, chunk, ramp


def test_a_short_excursion_counts_a_sustained_one_is_a_latched_fault():
    monitor = TrackingMonitor(JOINTS, [0.2, 0.2, float("inf")], violation_s=0.5)
    commanded = np.zeros(3)
    assert monitor.check(commanded, np.array([0.3, 0.0, 5.0]), 0.0) is None  # c is not monitored
    assert monitor.check(commanded, np.array([0.0, 0.1, 5.0]), 0.3) is None  # back within: the clock restarts
    assert monitor.check(commanded, np.array([0.0, -0.25, 0.0]), 1.0) is None
    fault = monitor.check(commanded, np.array([0.0, -0.3, 0.0]), 1.5)
    assert fault is not None and fault.joint == "b" and fault.error == pytest.approx(-0.3)
    assert fault.tolerance == 0.2 and fault.duration_s == pytest.approx(0.5)
    assert monitor.check(commanded, commanded, 2.0) is fault  # latched
    assert monitor.violations == 3 and monitor.max_error[1] == pytest.approx(0.3)


def test_nothing_is_judged_before_a_command_and_bad_settings_are_refused():
    monitor = TrackingMonitor(JOINTS, [0.1], 0.0)
    assert monitor.check(None, np.ones(3), 0.0) is None
    assert monitor.check(np.zeros(3), np.ones(3), 0.0).joint == "a"  # violation_s 0: at once
    for tolerance in ([0.1, 0.1], [0.0], [float("nan")], [-1.0]):
        with pytest.raises(ValueError):
            TrackingMonitor(JOINTS, tolerance, 0.5)
    assert not TrackingMonitor(JOINTS, [float("inf")], 0.5).enabled


def test_a_blocked_joint_holds_the_executor_and_resume_does_not_end_the_hold():
    limits = GuardLimits.from_parameters(3, RATE, lower=[-1.0], upper=[1.0], max_velocity=[4.5],
                                         max_acceleration=[40.0], tolerance=0.05, max_seam=0.3)
    core = ExecutorCore(JOINTS, ActionQueue(3, "rtc", stall_ticks=6), CommandGuard(limits),
                        ChunkAdmission(max_length=50), tracking=TrackingMonitor(JOINTS, [0.05], 0.2))
    core.start_from(START)
    core.tick()
    assert core.receive(chunk(1, 1, ramp(30, slope=0.02)), 0.0).merged
    blocked = START.copy()  # the arm does not move: joint a's servo is stuck
    t = 0.0
    while core.tracking.fault is None and t < 2.0:
        tick = core.tick()
        core.measured(blocked, t)
        t += 1 / RATE
    assert core.tracking.fault is not None and core.queue.on_hold
    held = core.tick().command
    assert not core.resume() and core.queue.on_hold
    for _ in range(5):
        assert np.array_equal(core.tick().command, held)  # the last command, nothing further
    assert tick.command is not None
