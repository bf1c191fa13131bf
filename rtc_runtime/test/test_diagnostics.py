"""Diagnostics: diagnostic_updater's conventions on the real /diagnostics topic of a real node."""
from __future__ import annotations

import time

import pytest

from rtc_runtime.diagnostics import Diagnostics, Level, Report


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
