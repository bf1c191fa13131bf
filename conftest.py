"""Wiring shared by every package's tests: ROS isolation and cleanup of the processes tests start.

Each test run claims a ROS_DOMAIN_ID no other run on this machine holds (a lock file per id) and keeps
discovery on localhost, so two runs never see each other's topics. Processes started through the
`processes` fixture run in their own session and are killed as a group at teardown, also on failure.
"""
from __future__ import annotations

import fcntl
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

import pytest

_domain_lock: IO[str] | None = None


def claim_domain_id() -> int:
    """A ROS_DOMAIN_ID no other run on this machine holds, held until this process exits (bench/soak.py too)."""
    global _domain_lock
    ids = list(range(1, 200))
    random.shuffle(ids)
    for domain_id in ids:
        lock = open(Path(tempfile.gettempdir()) / f"rtc-ros2-test-domain-{domain_id}.lock", "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        _domain_lock = lock
        return domain_id
    raise RuntimeError("no free ROS_DOMAIN_ID in 1..199 for this test run")


def pytest_configure(config: pytest.Config) -> None:
    if "RTC_TEST_DOMAIN_ID" in os.environ:
        os.environ["ROS_DOMAIN_ID"] = os.environ["RTC_TEST_DOMAIN_ID"]
    else:
        os.environ["ROS_DOMAIN_ID"] = str(claim_domain_id())
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")


class Processes:
    """Starts child processes for one test and guarantees they are gone afterwards."""

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self._children: list[tuple[subprocess.Popen, Path]] = []

    def start(self, args: list[str], name: str, env: dict[str, str] | None = None,
              **kwargs) -> subprocess.Popen:
        """Start `args` with output in a log file; python args default to this interpreter."""
        if args and args[0] == "python":
            args = [sys.executable, *args[1:]]
        log_path = self._log_dir / f"{name}.log"
        log = open(log_path, "wb")
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, **(env or {})}, **kwargs)
        log.close()
        self._children.append((proc, log_path))
        return proc

    def log(self, proc: subprocess.Popen) -> str:
        for child, path in self._children:
            if child is proc:
                return path.read_text(errors="replace")
        raise KeyError(proc)

    def wait_for_log(self, proc: subprocess.Popen, text: str, timeout: float) -> None:
        """Wait until `text` is in the process's output; fail with the output if it exits or time runs out."""
        deadline = time.monotonic() + timeout
        while text not in self.log(proc):
            assert proc.poll() is None, self.log(proc)
            assert time.monotonic() < deadline, f"no {text!r} in:\n{self.log(proc)}"
            time.sleep(0.05)

    def stop(self, proc: subprocess.Popen, sig: int = signal.SIGINT, timeout: float = 10.0) -> int:
        """Signal the process group, wait, escalate to SIGKILL; return the exit code."""
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            except ProcessLookupError:
                proc.wait()
        return proc.returncode

    def stop_all(self) -> None:
        for proc, _ in reversed(self._children):
            self.stop(proc)
            try:  # children the process left behind in its group
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


@pytest.fixture
def processes(tmp_path: Path):
    procs = Processes(tmp_path)
    try:
        yield procs
    finally:
        procs.stop_all()


@pytest.fixture
def profiler():
    """rtc_runtime.profiling enabled with no timings, for one test; disabled and cleared after it."""
    from rtc_runtime import profiling

    profiling.clear_profiling_stats()
    profiling.enable_profiling()
    try:
        yield profiling
    finally:
        profiling.disable_profiling()
        profiling.clear_profiling_stats()
