"""/diagnostics the way diagnostic_updater publishes them (it has no wheel, so this is ours).

Conventions kept: one DiagnosticArray per period on the absolute topic /diagnostics; one status per
component named "<node name>: <component>"; a non-empty hardware_id; values as strings with the unit
in the key (`lateness_p99_ms`); levels OK, WARN, ERROR, STALE. A component is a function returning a
`Report`; a component that raises is reported as ERROR with the exception, never kills the timer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any
from collections.abc import Callable

__all__ = ["Level", "Report", "Diagnostics", "DIAGNOSTICS_TOPIC"]

DIAGNOSTICS_TOPIC = "/diagnostics"
PERIOD_S = 1.0


class Level(IntEnum):
    """diagnostic_msgs/DiagnosticStatus levels."""

    OK = 0
    WARN = 1
    ERROR = 2
    STALE = 3


@dataclass
class Report:
    """What one component says this period: a level, a one-line message and key/values."""

    level: Level = Level.OK
    message: str = "ok"
    values: dict[str, Any] = field(default_factory=dict)

    def raise_to(self, level: Level, problem: str) -> None:
        """Add a problem: the level becomes the worse of the two, the message lists the problems."""
        self.message = problem if self.level == Level.OK or self.message == "ok" else f"{self.message}; {problem}"
        self.level = max(self.level, level)


class Diagnostics:
    """Publishes the registered components' reports on /diagnostics every `period_s`."""

    def __init__(self, node, hardware_id: str, period_s: float = PERIOD_S) -> None:
        from diagnostic_msgs.msg import DiagnosticArray

        if not hardware_id:
            raise ValueError("hardware_id must not be empty (diagnostic_updater convention)")
        self._node = node
        self.hardware_id = hardware_id
        self._components: list[tuple[str, Callable[[], Report]]] = []
        self._pub = node.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, 10)
        self._timer = node.create_timer(period_s, self.publish)

    def add(self, component: str, report: Callable[[], Report]) -> None:
        self._components.append((component, report))

    def publish(self) -> None:
        """Build every component's status now and publish them in one array."""
        from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

        statuses = []
        for component, make_report in self._components:
            try:
                report = make_report()
            except Exception as exc:  # a broken component is a finding, not a crash of the node
                report = Report(Level.ERROR, f"diagnostics failed: {type(exc).__name__}: {exc}")
            statuses.append(DiagnosticStatus(
                level=bytes([int(report.level)]), name=f"{self._node.get_name()}: {component}",
                message=report.message, hardware_id=self.hardware_id,
                values=[KeyValue(key=str(k), value=_text(v)) for k, v in report.values.items()]))
        array = DiagnosticArray(status=statuses)
        array.header.stamp = self._node.get_clock().now().to_msg()
        self._pub.publish(array)


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
