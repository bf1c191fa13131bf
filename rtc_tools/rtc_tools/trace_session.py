"""An LTTng session around a run of the graph: our nodes' trace events and the ROS 2 tracepoints.

`TraceSession(output_dir).start()` makes sure a session daemon runs (starts `lttng-sessiond
--daemonize` if none answers), creates a session writing to `output_dir`, enables the Python agent's
events of our loggers (`rtc_trace.*`, see rtc_runtime.tracing) and the rcl/rmw/rclcpp tracepoints
(`ros2:*`, recorded where the process's lttng-ust matches the daemon: docs/tracing.md), and starts
it. `stop()` stops and destroys the session; the trace stays in `output_dir`. The nodes emit only
when started with RTC_TRACE=1 in their environment (`node_environment()`).
"""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from rtc_runtime.tracing import LOGGER_PREFIX, TRACE_ENV

ROS2_TRACEPOINTS = "ros2:*"
SESSIOND_WAIT_S = 5.0


class TraceError(RuntimeError):
    """The LTTng session could not be set up; the text says what to do."""


def _lttng(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(["lttng", *args], capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise TraceError("lttng is not installed: apt-get install lttng-tools (tools/setup.sh does)") from None
    if check and done.returncode != 0:
        raise TraceError(f"lttng {' '.join(args)} failed: {(done.stderr or done.stdout).strip()}")
    return done


def sessiond_running() -> bool:
    return _lttng("list", check=False).returncode == 0


def ensure_sessiond() -> None:
    """Start a session daemon unless one answers (it outlives the run, as LTTng's own tools leave it)."""
    if sessiond_running():
        return
    subprocess.run(["lttng-sessiond", "--daemonize"], capture_output=True, check=False)
    deadline = time.monotonic() + SESSIOND_WAIT_S
    while time.monotonic() < deadline:
        if sessiond_running():
            return
        time.sleep(0.1)
    raise TraceError("no LTTng session daemon answers and `lttng-sessiond --daemonize` did not start one")


def node_environment() -> dict[str, str]:
    """The environment of a traced node process."""
    return {**os.environ, TRACE_ENV: "1"}


class TraceSession:
    def __init__(self, output_dir: Path, name: str | None = None) -> None:
        self.output_dir = Path(output_dir).resolve()
        self.name = name or f"rtc_{os.getpid()}_{time.strftime('%Y%m%d_%H%M%S')}"
        self.started = False

    def start(self) -> None:
        ensure_sessiond()
        self.output_dir.parent.mkdir(parents=True, exist_ok=True)
        _lttng("create", self.name, f"--output={self.output_dir}")
        try:
            # The user-space event first: it creates the default channel, which the agent's own would block.
            _lttng("enable-event", "--session", self.name, "--userspace", ROS2_TRACEPOINTS)
            _lttng("enable-event", "--session", self.name, "--python", f"{LOGGER_PREFIX}*")
            _lttng("start", self.name)
        except TraceError:
            _lttng("destroy", self.name, check=False)
            raise
        self.started = True

    def stop(self) -> None:
        if not self.started:
            return
        _lttng("stop", self.name, check=False)
        _lttng("destroy", self.name, check=False)
        self.started = False
