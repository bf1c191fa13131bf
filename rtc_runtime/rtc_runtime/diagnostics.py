"""/diagnostics the way diagnostic_updater publishes them (it has no wheel, so this is ours).

Conventions kept: one DiagnosticArray per period on the absolute topic /diagnostics; one status per
component named "<node name>: <component>"; a non-empty hardware_id; values as strings with the unit
in the key (`lateness_p99_ms`); levels OK, WARN, ERROR, STALE. A component is a function returning a
`Report`; a component that raises is reported as ERROR with the exception, never kills the timer.
Values that should raise a level do so by a `Threshold`: two bounds that are node parameters
(`threshold.<key>.warn`, `threshold.<key>.error`), documented in docs/diagnostics.md.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Any
from collections.abc import Callable, Iterable, Mapping

from rtc_runtime.parameters import ParameterError, ParameterSpec

from rtc_contract.topics import DIAGNOSTICS_TOPIC

__all__ = ["Level", "Report", "Diagnostics", "Threshold", "threshold_parameters",
           "configure_thresholds", "threshold_table", "heartbeat_limit_s", "judge_heartbeat"]

PERIOD_S = 1.0
HEARTBEAT_PERIODS = 10  # a control loop is reported dead when its last tick is this many periods old
HEARTBEAT_MIN_S = 0.2


def heartbeat_limit_s(rate_hz: float) -> float:
    """How old a control loop's last tick may be before its heartbeat check reports it dead (ERROR)."""
    return max(HEARTBEAT_MIN_S, HEARTBEAT_PERIODS / rate_hz)


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


def judge_heartbeat(report: Report, *, now: float, last_tick_at: float, last_report_at: float, rate_hz: float,
                    failure: str = "", started: bool = True, alive: bool = True, stopping: bool = False,
                    tick: str = "tick") -> None:
    """A control loop's heartbeat check (the executor's and the driver's): ERROR when its loop stopped
    while the process is up. `failure`: why the loop stopped the arm or ended (an exception), said as
    is; a thread that was `started` and is no longer `alive` with no failure said: "not running"; no
    `tick` for heartbeat_limit_s (hung, starved). Nothing more once the node is `stopping` (asked to).
    Times are monotonic seconds; `last_report_at` is this check's previous run (0: none): the time that
    report came late itself (the whole process stopped: SIGSTOP, swapping) is not the loop's silence."""
    if failure:
        report.raise_to(Level.ERROR, failure)
    if stopping:
        return
    if started and not alive:
        if not failure:
            report.raise_to(Level.ERROR, "control loop thread is not running")
        return
    report_late_s = max(0.0, now - last_report_at - PERIOD_S) if last_report_at else 0.0
    if now - last_tick_at - report_late_s > heartbeat_limit_s(rate_hz):
        report.raise_to(Level.ERROR, f"no control {tick} for {now - last_tick_at:.2f} s")


@dataclass(frozen=True)
class Threshold:
    """The level of one reported value: WARN from `warn` on, ERROR from `error` on; with `below`, the
    value is a problem when it falls to the bound (a voltage). A negative bound is off. No value (NaN) is OK.

    key: the report value it judges, unit in the name (`lateness_p99_ms`); meaning: for the docs.
    """

    key: str
    meaning: str
    warn: float
    error: float
    below: bool = False

    @property
    def parameter_prefix(self) -> str:
        return f"threshold.{self.key}"

    def parameters(self) -> tuple[ParameterSpec, ParameterSpec]:
        way = "at or below" if self.below else "at or above"
        return tuple(ParameterSpec(f"{self.parameter_prefix}.{level}", float(bound),
                                   f"{level.upper()} when {self.key} is {way} this ({self.meaning}); "
                                   "negative: off")
                     for level, bound in (("warn", self.warn), ("error", self.error)))

    def configured(self, values: Mapping[str, Any]) -> Threshold:
        """This threshold with the bounds of the declared parameters; ParameterError if they cross."""
        warn = float(values[f"{self.parameter_prefix}.warn"])
        error = float(values[f"{self.parameter_prefix}.error"])
        if warn >= 0 and error >= 0 and (warn < error if self.below else warn > error):
            raise ParameterError(f"parameters {self.parameter_prefix}.warn = {warn:g} and .error = {error:g}: "
                                 f"WARN must come before ERROR ({'warn >= error' if self.below else 'warn <= error'})")
        return replace(self, warn=warn, error=error)

    def level(self, value: float) -> Level:
        if value is None or math.isnan(value):
            return Level.OK
        for level, bound in ((Level.ERROR, self.error), (Level.WARN, self.warn)):
            if bound >= 0 and (value <= bound if self.below else value >= bound):
                return level
        return Level.OK

    def judge(self, report: Report, value: float) -> Level:
        """Raise `report` to this value's level, naming the value and the bound it crossed."""
        level = self.level(value)
        if level != Level.OK:
            bound = self.error if level == Level.ERROR else self.warn
            report.raise_to(level, f"{self.key} {value:g} {'<=' if self.below else '>='} {bound:g}")
        return level


def threshold_parameters(thresholds: Iterable[Threshold]) -> tuple[ParameterSpec, ...]:
    """The ParameterSpecs of these thresholds, to append to a node's PARAMETERS."""
    return tuple(spec for threshold in thresholds for spec in threshold.parameters())


def configure_thresholds(thresholds: Iterable[Threshold], values: Mapping[str, Any]) -> dict[str, Threshold]:
    """{key: threshold with the node's declared bounds}."""
    return {t.key: t.configured(values) for t in thresholds}


def threshold_table(statuses: Iterable[tuple[str, Iterable[Threshold]]]) -> str:
    """The docs table of every threshold: (status name, its thresholds) in order."""
    lines = ["| status | value | WARN | ERROR | meaning |", "|---|---|---|---|---|"]
    for status, thresholds in statuses:
        for t in thresholds:
            way = "<=" if t.below else ">="
            bounds = [f"{way} {b:g}" if b >= 0 else "off" for b in (t.warn, t.error)]
            lines.append(f"| {status} | `{t.key}` | {bounds[0]} | {bounds[1]} | {t.meaning} |")
    return "\n".join(lines) + "\n"


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
