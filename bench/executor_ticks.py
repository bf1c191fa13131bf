"""Executor tick lateness and chunk transport at 30 and 100 Hz, with torch inference on the other core.

For each rate (and each scheduling choice) this starts executor_node as its own process, pinned to
CPU 0, with a torch MLP inference loop (one intra-op thread) pinned to the last CPU, and plays the
executor's neighbours: /joint_states (so it commands a hold), then a 50x6 ActionChunk every 0.5-1 s
(uniformly random; at rates where 50 rows last less than that, every 0.8 x the chunk's duration, so
the queue never runs dry), with source_step = the executor's latest step and `inference_end` stamped
just before publishing, as the policy node does. After `--duration` seconds of merging it reads the
executor's own figures from /diagnostics: tick lateness over a window covering the whole run, missed
ticks, and chunk transport (executor receive time minus `inference_end`, same host clock).

Usage (in the project's environment, `source tools/env.sh`):
  python bench/executor_ticks.py --rates 30,100 --duration 60 [--realtime true,false] [--json OUT]
Targets: lateness p99 <= 1 ms, max <= 5 ms, zero missed ticks; transport p99 <= 2 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
from rtc_runtime.scheduling import realtime_section

LOAD = """
import os, sys, torch
os.sched_setaffinity(0, {int(sys.argv[1])})
torch.set_num_threads(1)
mlp = torch.nn.Sequential(torch.nn.Linear(512, 1024), torch.nn.GELU(), torch.nn.Linear(1024, 1024),
                          torch.nn.GELU(), torch.nn.Linear(1024, 300))
x = torch.randn(64, 512)
print("ready", flush=True)
with torch.inference_mode():
    while True:
        mlp(x)
"""

CHUNK_LENGTH = 50
CHUNK_INTERVAL_S = (0.5, 1.0)


def executor_command() -> list[str]:
    from ament_index_python.packages import get_package_prefix

    return [get_package_prefix("rtc_executor") + "/lib/rtc_executor/rtc_executor"]


def start_load(cpu: int) -> subprocess.Popen:
    load = subprocess.Popen([sys.executable, "-c", LOAD, str(cpu)], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    if load.stdout.readline().strip() != "ready":
        raise RuntimeError("the torch load process did not start")
    return load


def stop(proc: subprocess.Popen, sig: int = signal.SIGINT) -> int:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode


class Neighbours:
    """Plays the driver and the policy node for the executor, and keeps its last reports."""

    def __init__(self, rate: float) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from rtc_msgs.msg import ActionChunk, ExecutorStatus
        from sensor_msgs.msg import JointState
        from so100_driver.arm import JOINT_NAMES

        self.joints = list(JOINT_NAMES)
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("executor_ticks_bench", context=self.context)
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.chunk_pub = self.node.create_publisher(ActionChunk, "/rtc/action_chunk", reliable)
        self.joint_pub = self.node.create_publisher(JointState, "/joint_states", 10)
        self.status = None
        self.diagnostics = None
        self.chunks_sent = 0
        self.publish_call_ms: list[float] = []  # inference_end stamp to publish() returning
        self.node.create_subscription(ExecutorStatus, "/rtc/executor_status", self._on_status, reliable)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self._max_interval = 0.8 * CHUNK_LENGTH / rate
        self._next_send = 0.0
        self._ActionChunk, self._JointState = ActionChunk, JointState
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def _on_status(self, msg) -> None:
        self.status = msg
        now = time.monotonic()
        if now >= self._next_send:
            self._next_send = now + min(random.uniform(*CHUNK_INTERVAL_S), self._max_interval)
            self._send_chunk(msg.step)

    def _on_diagnostics(self, msg) -> None:
        for status in msg.status:
            if status.name.endswith("control loop"):
                self.diagnostics = {kv.key: kv.value for kv in status.values}

    def _send_chunk(self, step: int) -> None:
        self.chunks_sent += 1
        t = (step + np.arange(CHUNK_LENGTH)) / 30.0
        rows = 0.2 * np.sin(t[:, None] + np.arange(len(self.joints))[None, :])
        msg = self._ActionChunk(
            chunk_id=self.chunks_sent, source_step=step, inference_delay=0, execution_horizon=CHUNK_LENGTH,
            guidance_mode="off", joint_names=self.joints, length=CHUNK_LENGTH, action_dim=len(self.joints),
            actions=rows.astype(np.float32).ravel().tolist())
        stamped = time.perf_counter()
        now = self.node.get_clock().now().to_msg()
        msg.header.stamp = msg.inference_start = msg.inference_end = now  # ready to publish
        self.chunk_pub.publish(msg)
        self.publish_call_ms.append((time.perf_counter() - stamped) * 1e3)

    def publish_joint_states(self) -> None:
        self.joint_pub.publish(self._JointState(name=self.joints, position=[0.0] * len(self.joints)))

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()


def measure(rate: float, duration: float, realtime: bool, pin: bool, sender_priority: int,
            log_dir: str, interpolation: int = 1) -> dict:
    """One run at policy rate `rate`; the executor ticks at rate x `interpolation`."""
    load_cpu = os.cpu_count() - 1
    load = start_load(load_cpu)
    from so100_driver.arm import JOINT_NAMES

    args = executor_command() + ["--ros-args", "-p", f"control_rate_hz:={rate}", "-p", f"joint_names:={list(JOINT_NAMES)}",
                                 "-p", f"realtime:={str(realtime).lower()}",
                                 "-p", f"lateness_window_s:={duration}", "-p", f"interpolation:={interpolation}",
                                 "-p", "state_publisher:=executor_ticks_bench"]
    log_path = os.path.join(log_dir, f"executor_{rate:g}hz_x{interpolation}_{'rt' if realtime else 'other'}.log")
    with open(log_path, "w") as log:
        executor = subprocess.Popen(args, start_new_session=True, stdout=log, stderr=subprocess.STDOUT,
                                    preexec_fn=(lambda: os.sched_setaffinity(0, {0})) if pin else None)
    with realtime_section(sender_priority) as sender:  # before the peers' threads exist: they inherit it
        if sender_priority and sender.policy != "SCHED_FIFO":
            raise RuntimeError(f"sender: {sender}")
        peers = Neighbours(rate)
        load_before = os.getloadavg()[0]
        try:
            deadline = time.monotonic() + 30
            while peers.status is None or peers.status.merged_count == 0:
                if time.monotonic() > deadline or executor.poll() is not None:
                    raise RuntimeError(f"the executor did not start merging chunks; see {log_path}")
                peers.publish_joint_states()
                time.sleep(0.1)
            time.sleep(duration + 1.5)  # the diagnostics after `duration` cover a full window
            diag, status, sent = dict(peers.diagnostics), peers.status, peers.chunks_sent
            publish_call_ms = np.array(peers.publish_call_ms)
            load_after = os.getloadavg()[0]
        finally:
            peers.close()
            exit_code = stop(executor)
            stop(load, signal.SIGKILL)
    return {
        "rate_hz": rate,
        "duration_s": duration,
        "realtime_requested": realtime,
        "scheduling": diag["scheduling"],
        "other_threads_scheduling": diag["other_threads_scheduling"],
        "pinned": pin,
        "sender_priority": sender_priority,
        "window_ticks": int(diag["lateness_window_ticks"]),
        "p50_ms": float(diag["lateness_p50_ms"]),
        "p99_ms": float(diag["lateness_p99_ms"]),
        "max_ms": float(diag["lateness_max_ms"]),
        "max_since_start_ms": float(diag["lateness_max_since_start_ms"]),
        "missed_ticks": int(diag["missed_ticks"]),
        "chunks_sent": sent,
        "transport_count": int(diag["chunk_transport_count"]),
        "transport_p50_ms": float(diag["chunk_transport_p50_ms"]),
        "transport_p99_ms": float(diag["chunk_transport_p99_ms"]),
        "transport_max_ms": float(diag["chunk_transport_max_ms"]),
        "publish_call_p50_ms": float(np.percentile(publish_call_ms, 50)),
        "publish_call_p99_ms": float(np.percentile(publish_call_ms, 99)),
        "merged": status.merged_count,
        "underruns": status.underrun_count,
        "rejected": status.rejected_count,
        "exit_code": exit_code,
        "loadavg_1min": (load_before, load_after),
        "log": log_path,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="30,100", help="comma-separated control rates, Hz")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per run")
    parser.add_argument("--realtime", default="true", help="comma-separated: true, false or both")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the executor to CPU 0")
    parser.add_argument("--sender-priority", type=int, default=0,
                        help="SCHED_FIFO priority of this process (the chunk sender); 0: normal, "
                             "like the policy node")
    parser.add_argument("--json", help="write the results here")
    opts = parser.parse_args()
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(100, 200)))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    log_dir = tempfile.mkdtemp(prefix="executor_ticks_")
    print(f"{os.cpu_count()} CPUs; executor pinned to CPU 0: {not opts.no_pin}; torch load on CPU "
          f"{os.cpu_count() - 1}; logs in {log_dir}", flush=True)
    results = []
    for realtime in [r.strip() == "true" for r in opts.realtime.split(",")]:
        for rate in [float(r) for r in opts.rates.split(",")]:
            r = measure(rate, opts.duration, realtime, pin=not opts.no_pin,
                        sender_priority=opts.sender_priority, log_dir=log_dir)
            ok = (r["p99_ms"] <= 1.0 and r["max_ms"] <= 5.0 and r["missed_ticks"] == 0
                  and r["transport_p99_ms"] <= 2.0)
            print(f"{rate:5.1f} Hz  control thread {r['scheduling']}; other threads "
                  f"{r['other_threads_scheduling']}; sender priority {r['sender_priority'] or 'normal'}\n"
                  f"  tick lateness ms  p50 {r['p50_ms']:.3f}  p99 {r['p99_ms']:.3f}  max {r['max_ms']:.3f}"
                  f"  over {r['window_ticks']} ticks; missed {r['missed_ticks']}\n"
                  f"  chunk transport ms  p50 {r['transport_p50_ms']:.3f}  p99 {r['transport_p99_ms']:.3f}"
                  f"  max {r['transport_max_ms']:.3f}  over {r['transport_count']} chunks "
                  f"(sender's stamp-to-publish()-return p50 {r['publish_call_p50_ms']:.3f} "
                  f"p99 {r['publish_call_p99_ms']:.3f})\n"
                  f"  sent {r['chunks_sent']}  merged {r['merged']}  rejected {r['rejected']}  underruns "
                  f"{r['underruns']}  exit {r['exit_code']}  1-min load average "
                  f"{r['loadavg_1min'][0]:.2f} -> {r['loadavg_1min'][1]:.2f}  {'PASS' if ok else 'FAIL'}", flush=True)
            results.append({**r, "pass": ok})
    if opts.json:
        with open(opts.json, "w") as out:
            json.dump(results, out, indent=2)


if __name__ == "__main__":
    main()
