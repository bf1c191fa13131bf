"""Diagnostics: diagnostic_updater's conventions on the real /diagnostics topic of a real node."""
from __future__ import annotations

import time

import pytest

from rtc_runtime.diagnostics import Diagnostics, Level, Report, heartbeat_limit_s, judge_heartbeat


def test_problems_raise_the_level_and_list_themselves():
    report = Report()
    report.raise_to(Level.WARN, "3 missed ticks")
    report.raise_to(Level.ERROR, "chunk rejected")
    report.raise_to(Level.WARN, "underrun")
    assert report.level is Level.ERROR
    assert report.message == "3 missed ticks; chunk rejected; underrun"


@pytest.mark.ros
def test_statuses_are_named_node_component_with_a_hardware_id_and_a_broken_component_is_an_error():
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.executors import SingleThreadedExecutor

    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        node = rclpy.create_node("diag_test_node", context=context)
        listener = rclpy.create_node("diag_test_listener", context=context)
        got: list[DiagnosticArray] = []
        listener.create_subscription(DiagnosticArray, "/diagnostics", got.append, 10)
        diagnostics = Diagnostics(node, hardware_id="bus0", period_s=0.1)
        diagnostics.add("loop", lambda: Report(Level.WARN, "late", {"lateness_p99_ms": 1.25, "ticks": 7}))
        diagnostics.add("broken", lambda: 1 / 0)
        with pytest.raises(ValueError, match="hardware_id"):
            Diagnostics(node, hardware_id="")
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        executor.add_node(listener)
        deadline = time.monotonic() + 10.0
        while not got and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.1)
        assert got, "no /diagnostics"
        loop, broken = got[0].status
        assert loop.name == "diag_test_node: loop" and loop.hardware_id == "bus0" and loop.level == b"\x01"
        assert {v.key: v.value for v in loop.values} == {"lateness_p99_ms": "1.2500", "ticks": "7"}
        assert broken.name == "diag_test_node: broken" and broken.level == b"\x02"
        assert "ZeroDivisionError" in broken.message
        executor.shutdown()
    finally:
        context.try_shutdown()


def test_a_threshold_turns_a_value_into_a_level_and_names_the_bound_it_crossed():
    from rtc_runtime.diagnostics import Threshold

    lateness = Threshold("lateness_p99_ms", "tick lateness", warn=5.0, error=15.0)
    assert [lateness.level(v) for v in (0.3, 5.0, 14.9, 15.0, float("nan"))] == \
        [Level.OK, Level.WARN, Level.WARN, Level.ERROR, Level.OK]
    report = Report()
    assert lateness.judge(report, 7.5) is Level.WARN
    assert (report.level, report.message) == (Level.WARN, "lateness_p99_ms 7.5 >= 5")

    voltage = Threshold("min_voltage_v", "supply", warn=4.5, error=4.0, below=True)
    assert [voltage.level(v) for v in (7.4, 4.5, 4.0)] == [Level.OK, Level.WARN, Level.ERROR]
    warn_only = Threshold("servos_with_error_bits", "servo faults", warn=1, error=-1)
    assert warn_only.level(6) is Level.WARN  # a negative bound is off


def test_threshold_bounds_are_parameters_that_must_not_cross():
    from rtc_runtime.diagnostics import Threshold, configure_thresholds, threshold_parameters
    from rtc_runtime.parameters import ParameterError

    thresholds = (Threshold("underruns_in_period", "underruns", 1, 30),
                  Threshold("min_voltage_v", "supply", 4.5, 4.0, below=True))
    specs = threshold_parameters(thresholds)
    assert [s.name for s in specs] == ["threshold.underruns_in_period.warn", "threshold.underruns_in_period.error",
                                       "threshold.min_voltage_v.warn", "threshold.min_voltage_v.error"]
    values = {s.name: s.default for s in specs}
    assert configure_thresholds(thresholds, values)["underruns_in_period"].error == 30
    configured = configure_thresholds(thresholds, {**values, "threshold.underruns_in_period.warn": 50.0,
                                                   "threshold.underruns_in_period.error": -1.0})
    assert configured["underruns_in_period"].level(40) is Level.OK  # warn 50, error off
    with pytest.raises(ParameterError, match="threshold.underruns_in_period.warn = 40 and .error = 30"):
        configure_thresholds(thresholds, {**values, "threshold.underruns_in_period.warn": 40.0})
    with pytest.raises(ParameterError, match="threshold.min_voltage_v"):
        configure_thresholds(thresholds, {**values, "threshold.min_voltage_v.warn": 3.0})


def _heartbeat(**kwargs) -> Report:
    report = Report()
    judge_heartbeat(report, **{"now": 100.0, "last_tick_at": 99.99, "last_report_at": 99.0, "rate_hz": 100.0,
                               **kwargs})
    return report


def test_a_ticking_loop_has_a_quiet_heartbeat():
    assert (_heartbeat().level, _heartbeat().message) == (Level.OK, "ok")
    assert _heartbeat(started=False, alive=False).level == Level.OK  # not started yet, not silent yet


def test_a_silent_loop_is_an_error_unless_the_report_itself_came_late():
    limit = heartbeat_limit_s(100.0)
    silent = _heartbeat(last_tick_at=100.0 - limit - 0.05, tick="cycle")
    assert silent.level == Level.ERROR and silent.message == f"no control cycle for {limit + 0.05:.2f} s"
    # the whole process was stopped 2 s (this report 2 s late): the loop was not silent on its own
    assert _heartbeat(last_tick_at=97.9, last_report_at=97.0).level == Level.OK
    assert _heartbeat(last_tick_at=97.9, last_report_at=0.0).level == Level.ERROR  # first report: no excuse


def test_a_dead_thread_or_a_failure_is_an_error_said_once_and_nothing_once_stopping():
    dead = _heartbeat(alive=False, last_tick_at=90.0)
    assert dead.level == Level.ERROR and dead.message == "control loop thread is not running"
    failed = _heartbeat(alive=False, last_tick_at=90.0, failure="control loop failed: ValueError: x")
    assert failed.level == Level.ERROR and failed.message == "control loop failed: ValueError: x"
    parked = _heartbeat(failure="no command for 5.0 s: rest pose, torque off")  # the loop cycles on
    assert parked.level == Level.ERROR and parked.message == "no command for 5.0 s: rest pose, torque off"
    assert _heartbeat(alive=False, last_tick_at=90.0, stopping=True).level == Level.OK
