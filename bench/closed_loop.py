"""Closed-loop figures of the simulated graph: the real nodes over DDS, started by the runner.

    python bench/closed_loop.py [--duration 65] [--rates 30,100] [--policy-path DIR]

For each executor rate it runs `python -m rtc_bringup.run --sim` (emulator, driver, camera, policy
node inferring on the other core, executor) with the recorder, then prints from the bag:
- executor tick lateness p50/p99/max and missed ticks (the executor's own /diagnostics, a 60 s window);
- ActionChunk publish -> executor receive on the same host: the executor's own figures (receive
  time minus the chunk's `inference_end` stamp, set just before publishing), from its /diagnostics;
- observation -> chunk overhead outside the model: preprocessing + postprocessing + publish of
  InferenceTiming (decoding, unit conversion, message building);
- policy node start-up (process start to first chunk) and peak RSS (VmHWM).
Targets (issue figures): lateness p99 <= 1 ms, max <= 5 ms, 0 missed; transport p99 <= 2 ms;
overhead p95 <= 5 ms.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rosbags.rosbag2 import Reader

from rtc_tools.bag_types import bag_typestore
from rtc_contract.topics import EXECUTOR_CONTROL_LOOP_STATUS

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
TEST_HELPERS = str(Path(__file__).resolve().parents[1] / "rtc_bringup" / "test")  # on sys.path in main() only


def boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime"):
            return float(line.split()[1])
    raise RuntimeError("no btime in /proc/stat")


def process_start_wall(pid: int) -> float:
    start_ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    return boot_time() + start_ticks / CLOCK_TICKS


def peak_rss_mb(pid: int) -> float:
    """VmHWM in MB; 0 once the process is a zombie (its status no longer lists memory)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


def stamp_s(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def pct(values, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


def run(rate: float, duration: float, policy_path: str, out: Path) -> dict:
    from node_threads import node_processes

    bag = out / f"bag_{rate:g}hz"
    arguments = [f"control_rate_hz:={rate:g}"] + ([f"policy_path:={policy_path}"] if policy_path else [])
    log_path = out / f"run_{rate:g}hz.log"
    with open(log_path, "w") as log:
        runner = subprocess.Popen([sys.executable, "-m", "rtc_bringup.run", "--sim", "--duration", str(duration),
                                   "--record", str(bag), *arguments], stdout=log, stderr=subprocess.STDOUT)
        pid, start_wall, rss = None, None, 0.0
        while runner.poll() is None:
            pid = pid or node_processes(runner.pid).get("rtc_policy")
            if pid is not None:
                try:
                    start_wall = start_wall or process_start_wall(pid)
                    rss = max(rss, peak_rss_mb(pid))
                except OSError:
                    pass
            time.sleep(0.5)
    if runner.returncode != 0:
        raise RuntimeError(f"runner exited {runner.returncode}; see {log_path}")

    chunks, overhead_ms, first_chunk_wall, executor_diag = 0, [], None, {}
    with Reader(bag) as reader:
        store = bag_typestore(reader)
        for connection, _, raw in reader.messages():
            msg = store.deserialize_cdr(raw, connection.msgtype)
            if connection.topic == "/rtc/action_chunk":
                chunks += 1
                first_chunk_wall = first_chunk_wall or stamp_s(msg.inference_end)
            elif connection.topic == "/rtc/timing":
                overhead_ms.append(msg.preprocessing_ms + msg.postprocessing_ms + msg.publish_ms)
            elif connection.topic == "/diagnostics":
                for status in msg.status:
                    if status.name == EXECUTOR_CONTROL_LOOP_STATUS:
                        executor_diag = {kv.key: kv.value for kv in status.values}
    loaded = re.search(r"loaded .* in ([0-9.]+) s", log_path.read_text())
    return {
        "rate_hz": rate,
        "lateness_p50_ms": float(executor_diag.get("lateness_p50_ms", "nan")),
        "lateness_p99_ms": float(executor_diag.get("lateness_p99_ms", "nan")),
        "lateness_max_ms": float(executor_diag.get("lateness_max_ms", "nan")),
        "missed_ticks": int(executor_diag.get("missed_ticks", -1)),
        "scheduling": executor_diag.get("scheduling", "?"),
        "chunks": chunks,
        "transport_p50_ms": float(executor_diag.get("chunk_transport_p50_ms", "nan")),
        "transport_p99_ms": float(executor_diag.get("chunk_transport_p99_ms", "nan")),
        "transport_max_ms": float(executor_diag.get("chunk_transport_max_ms", "nan")),
        "overhead_p50_ms": pct(overhead_ms, 50),
        "overhead_p95_ms": pct(overhead_ms, 95),
        "policy_load_s": float(loaded.group(1)) if loaded else float("nan"),
        "startup_to_first_chunk_s": (first_chunk_wall - start_wall) if first_chunk_wall and start_wall
        else float("nan"),
        "policy_peak_rss_mb": rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=65.0, help="seconds per run (the lateness window is 60 s)")
    parser.add_argument("--rates", default="30,100", help="executor rates to run, Hz")
    parser.add_argument("--policy-path", default="", help="checkpoint dir; empty: the built-in one")
    parser.add_argument("--out", type=Path, help="where bags and logs go (default: a temporary dir)")
    args = parser.parse_args()
    sys.path.insert(0, TEST_HELPERS)
    out = args.out or Path(tempfile.mkdtemp(prefix="closed_loop_"))
    out.mkdir(parents=True, exist_ok=True)
    print(f"closed loop, simulated graph, {args.duration:g} s per rate, {os.cpu_count()} cores; bags in {out}")
    for rate in (float(r) for r in args.rates.split(",")):
        r = run(rate, args.duration, args.policy_path, out)
        print(f"\nexecutor at {r['rate_hz']:g} Hz ({r['scheduling']}), {r['chunks']} chunks")
        print(f"  tick lateness ms     p50 {r['lateness_p50_ms']:.3f}  p99 {r['lateness_p99_ms']:.3f}  "
              f"max {r['lateness_max_ms']:.3f}  missed {r['missed_ticks']}   (targets p99 <= 1, max <= 5, 0)")
        print(f"  chunk publish->recv  p50 {r['transport_p50_ms']:.3f}  p99 {r['transport_p99_ms']:.3f}  "
              f"max {r['transport_max_ms']:.3f} ms"
              "   (target p99 <= 2)")
        print(f"  obs->chunk overhead  p50 {r['overhead_p50_ms']:.3f}  p95 {r['overhead_p95_ms']:.3f} ms"
              " outside the model   (target p95 <= 5)")
        print(f"  policy node          load {r['policy_load_s']:.1f} s, start to first chunk "
              f"{r['startup_to_first_chunk_s']:.1f} s, peak RSS {r['policy_peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
