"""The policy node changed while it runs and warming up, over real DDS with the real `ros2` command
line (the vendored ros2cli): `ros2 param set` and `ros2 topic pub` of the task change the next
chunk's task, a read-only parameter's set fails with a reason, a bad value is refused and the old
one kept; warm-up inferences publish nothing. This process plays the executor (FakeExecutor)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_policy_node import FakeExecutor, policy_args

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def ros2(*args: str) -> subprocess.CompletedProcess:
    """One `ros2` command; `ros2 param` without the daemon (nothing outlives the test)."""
    exe = shutil.which("ros2") or str(Path(sys.executable).parent / "ros2")
    no_daemon = ["--no-daemon"] if args[0] == "param" else []
    return subprocess.run([exe, *args[:2], *no_daemon, *args[2:]], capture_output=True, text=True, timeout=60,
                          env=os.environ)


def param_get(name: str) -> str:
    result = ros2("param", "get", "/rtc_policy", name, "--timeout", "10")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().partition(" is: ")[2]


def param_set(name: str, value: str) -> subprocess.CompletedProcess:
    return ros2("param", "set", "/rtc_policy", name, value, "--timeout", "10")


def chunk_started_after(fake: FakeExecutor, since_ns: int, proc, processes, **fields):
    """The first chunk whose inference started after ROS time `since_ns`; checks its `fields`."""
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline:
        with fake.lock:
            later = [m for m, _ in fake.chunks
                     if m.inference_start.sec * 10**9 + m.inference_start.nanosec > since_ns]
        if later:
            for key, value in fields.items():
                assert getattr(later[0], key) == value, (key, getattr(later[0], key), value)
            return later[0]
        assert proc.poll() is None, "policy node died:\n" + processes.log(proc)
        time.sleep(0.05)
    pytest.fail(f"no chunk started after the change; policy log:\n{processes.log(proc)}")


def test_task_and_guidance_change_while_running_and_bad_sets_fail_loudly(processes):
    fake = FakeExecutor(stall_rows=range(0))
    try:
        proc = processes.start(policy_args("task:=pick up the cube"), name="policy_node")
        first = fake.wait_for_chunks(1, proc, processes)[0][0]
        assert first.task == "pick up the cube"

        # ros2 param set: the next inference takes the new task; the chunks go on (no flush, ids continue)
        result = param_set("task", "place it left")
        assert "Set parameter successful" in result.stdout, result.stderr
        changed = chunk_started_after(fake, fake.node.get_clock().now().nanoseconds, proc, processes,
                                      task="place it left")
        # the rtc/task topic does the same: the parameter shows it, and the next inference takes it
        pub = ros2("topic", "pub", "--once", "-w", "1", "/rtc/task", "std_msgs/msg/String", "{data: 'stack them'}")
        assert pub.returncode == 0, pub.stderr
        deadline = time.monotonic() + 10.0
        while param_get("task") != "stack them":
            assert time.monotonic() < deadline, processes.log(proc)
        chunk_started_after(fake, fake.node.get_clock().now().nanoseconds, proc, processes, task="stack them")
        with fake.lock:
            ids = [m.chunk_id for m, _ in fake.chunks]
        assert ids == list(range(1, len(ids) + 1)) and changed.chunk_id > first.chunk_id

        # a guidance parameter set while running applies from the next guided chunk on
        assert "Set parameter successful" in param_set("execution_horizon", "20").stdout
        chunk_started_after(fake, fake.node.get_clock().now().nanoseconds, proc, processes, execution_horizon=20)

        # read-only: fails with rclpy's reason, nothing changes
        result = param_set("device", "cuda")
        assert "Setting parameter failed: Trying to set a read-only parameter: device." in result.stderr
        assert param_get("device") == "cpu"
        # bad values of a settable parameter: out of range, NaN, wrong type, not a choice; the old value stays
        for name, value, reason in [("max_guidance_weight", "-1.0", "out of range"),
                                    ("max_guidance_weight", "0.0", "must be > 0"),
                                    ("max_guidance_weight", ".nan", "max_guidance_weight"),
                                    ("max_guidance_weight", "strong", "Wrong parameter type"),
                                    ("execution_horizon", "0", "out of range"),
                                    ("schedule", "SIDEWAYS", "one of ZEROS, ONES, LINEAR, EXP")]:
            result = param_set(name, value)
            assert "Setting parameter failed" in result.stderr and reason in result.stderr, (name, value, result)
        assert param_get("max_guidance_weight") == "10.0"
        assert param_get("execution_horizon") == "20"
        assert param_get("schedule") == "LINEAR"
        assert proc.poll() is None
    finally:
        fake.close()


def _log_time_ns(log: str, text: str) -> int:
    """ROS time of the first log line containing `text` ("[INFO] [sec.nsec] [node]: ...")."""
    for line in log.splitlines():
        if text in line:
            sec, nsec = re.search(r"\[(\d+)\.(\d+)\]", line).groups()
            return int(sec) * 10**9 + int(nsec.ljust(9, "0")[:9])
    raise AssertionError(f"no log line with {text!r}:\n{log}")


@pytest.mark.parametrize("params, warmups", [
    (("warmup_inferences:=12",), 12),  # 12 x the emulated 100 ms: the 1 Hz diagnostics see it
    (("use_torch_compile:=true", "torch_compile_backend:=eager", "warmup_inferences:=0"), 2),  # compiling: 2 at least
])
def test_no_chunk_is_published_before_the_warm_up_inferences_are_done(processes, params, warmups):
    fake = FakeExecutor(stall_rows=range(0))
    try:
        proc = processes.start(policy_args(*params), name="policy_node")
        states = set()
        deadline = time.monotonic() + 120.0
        while not fake.chunks and time.monotonic() < deadline:
            states.add(fake.policy_state)
            assert proc.poll() is None, "policy node died:\n" + processes.log(proc)
            time.sleep(0.02)
        (first, arrived), = fake.wait_for_chunks(1, proc, processes)[:1]
        log = processes.log(proc)
        done_ns = _log_time_ns(log, f"warm-up inference {warmups} of {warmups}")
        start_ns = first.inference_start.sec * 10**9 + first.inference_start.nanosec
        assert first.chunk_id == 1 and start_ns >= done_ns, "a chunk was sampled before the warm-up ended"
        # the first published chunk is planned from a fresh status: it arrives before its end (merged)
        assert 0 <= arrived - first.source_step < first.length
        if warmups == 12:
            assert any(re.fullmatch(r"warming up \(\d+ of 12\)", s) for s in states), states
        else:
            assert "torch.compile (eager, default)" in log
    finally:
        fake.close()
