"""Trace events through LTTng's Python agent, so that every node's work lands on one timeline.

An event is one span of work: the component (the profiling names: `get_actions.policy_inference`,
`robot.get_observation`, ...), the node that did it, the chunk it belongs to (`chunk_id`, 0: none)
and the executor step it concerns (`step`, -1: none), its start on CLOCK_MONOTONIC (the clock LTTng
stamps events with, the same in every process of the host) and its duration. chunk_id and step are
what join the policy's, the executor's and the driver's events across processes.

Tracing is on in a process only when the environment has RTC_TRACE=1 (the runner's `--trace` and the
launch file's `trace:=true` set it). Then `tracer()` imports `lttngust`, which registers the process
with the LTTng session daemon (waiting at most LTTNG_UST_PYTHON_REGISTER_TIMEOUT, 5 s by default),
and each span becomes one Python `logging` record of the logger `rtc_trace.<node>`, which the agent
turns into an `lttng_python:event` while a session has enabled it. Off, `tracer()` returns a tracer
whose `span` does nothing, so a traced call site costs one method call. A live tracer is a sink of
rtc_runtime.profiling: every `record_span` (a profiled component with its chunk id and step) is
also one of its spans.
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass

from rtc_runtime.profiling import add_span_sink

__all__ = ["TRACE_ENV", "LOGGER_PREFIX", "TraceEvent", "Tracer", "tracer", "parse_event", "tracing_requested"]

TRACE_ENV = "RTC_TRACE"
LOGGER_PREFIX = "rtc_trace"
_FORMAT = "%s chunk_id=%d step=%d start_ns=%d duration_ns=%d"
_PATTERN = re.compile(r"^(\S+) chunk_id=(\d+) step=(-?\d+) start_ns=(\d+) duration_ns=(-?\d+)$")


@dataclass(frozen=True)
class TraceEvent:
    """One span read back from a trace."""

    node: str
    name: str
    chunk_id: int
    step: int
    start_ns: int
    duration_ns: int

    @property
    def end_ns(self) -> int:
        return self.start_ns + self.duration_ns


class Tracer:
    """Emits the spans of one node; the disabled tracer (`enabled` false) drops them."""

    def __init__(self, node: str, logger: logging.Logger | None) -> None:
        self.node = node
        self._logger = logger
        self.enabled = logger is not None

    def span(self, name: str, start_ns: int, end_ns: int, chunk_id: int = 0, step: int = -1) -> None:
        """Record `name` from start_ns to end_ns (CLOCK_MONOTONIC, as time.monotonic_ns())."""
        if self._logger is not None:
            self._logger.info(_FORMAT, name, chunk_id, step, start_ns, end_ns - start_ns)


def tracing_requested() -> bool:
    return os.environ.get(TRACE_ENV, "") == "1"


def tracer(node: str) -> Tracer:
    """The tracer of `node`: live when RTC_TRACE=1 and the LTTng agent loads, else the silent one."""
    if not tracing_requested():
        return Tracer(node, None)
    try:
        import lttngust  # noqa: F401  (registers this process with the session daemon)
    except (ImportError, OSError) as exc:
        logging.getLogger(LOGGER_PREFIX).warning(
            "RTC_TRACE=1 but the LTTng Python agent cannot load (%s): no trace events from %s; "
            "install python3-lttngust and rerun tools/setup.sh", exc, node)
        return Tracer(node, None)
    logger = logging.getLogger(f"{LOGGER_PREFIX}.{node}")
    logger.setLevel(logging.INFO)
    live = Tracer(node, logger)
    add_span_sink(live.span)  # every rtc_runtime.profiling.record_span of this process is traced
    return live


def parse_event(logger_name: str, message: str) -> TraceEvent | None:
    """The span an `lttng_python:event` carries (its logger_name and msg fields), None if not ours."""
    prefix = LOGGER_PREFIX + "."
    match = _PATTERN.match(message)
    if not logger_name.startswith(prefix) or match is None:
        return None
    name, chunk_id, step, start_ns, duration_ns = match.groups()
    return TraceEvent(logger_name[len(prefix):], name, int(chunk_id), int(step), int(start_ns), int(duration_ns))
