"""SO-100 driver read+write cycles against the servo-bus emulator at a fixed rate.

Starts `rtc_bus_emulator` as its own process (replies delayed by their transmission time at the
emulated baud rate), connects the driver exactly as driver_node does (its default bus timeout
and retries), then runs the control cycle (one sync read of position+velocity, one sync write
of the goal, a health read once a second) from a loop sleeping to absolute deadlines,
commanding a slow sine on every joint. As in driver_node, the loop runs under SCHED_FIFO 50
when permitted (--no-realtime: normal scheduling); so does the emulator, which stands in for
servo hardware that answers whatever the host's load.

Reports: lateness of each cycle start against its deadline (p50/p99/max), missed cycles
(deadlines skipped because a cycle overran, plus cycles whose bus transaction failed), cycle
duration, and the bytes on the wire per cycle against what a 1 Mbaud bus carries in one period.

Usage (in the project's environment, `source tools/env.sh`):
  python bench/driver.py [--duration 60] [--rate 100] [--no-realtime] [--json OUT]
Targets: lateness p99 <= 1 ms, zero missed cycles.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from so100_driver.arm import JOINT_NAMES, default_calibration_path, load_calibration
from so100_driver.arm_driver import ArmDriver
from so100_driver.bus import FeetechBus
from so100_driver.safety import CommandGate
from rtc_runtime.deadline_loop import Ticker
from rtc_runtime.scheduling import request_realtime

BITS_PER_BYTE = 10  # 8N1: start bit, 8 data bits, stop bit
PRIORITY = 50  # driver_node's default realtime_priority


def start_emulator(link: Path, baudrate: int, realtime: bool) -> subprocess.Popen:
    args = [sys.executable, "-m", "so100_driver.emulator", "--link", str(link),
            "--calibration", str(default_calibration_path()), "--baudrate", str(baudrate)]
    # Threads inherit the policy, so the emulator's serving thread runs under SCHED_FIFO too.
    setup = (lambda: request_realtime(PRIORITY)) if realtime else None
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=setup)
    proc.stdout.readline()  # the emulator prints its port once it serves
    return proc


def percentiles(values: list[float]) -> dict[str, float]:
    data = np.asarray(values) * 1e3
    return {"p50_ms": float(np.percentile(data, 50)), "p99_ms": float(np.percentile(data, 99)),
            "max_ms": float(data.max())}


def run(duration_s: float, rate_hz: float, baudrate: int, realtime: bool) -> dict:
    calibration = load_calibration(default_calibration_path())
    with tempfile.TemporaryDirectory() as tmp:
        emulator = start_emulator(Path(tmp) / "so100", baudrate, realtime)
        try:
            gate = CommandGate(calibration, max_relative_target=0.25, command_timeout_s=0.5)
            bus = FeetechBus(str(Path(tmp) / "so100"), baudrate)
            driver = ArmDriver(bus, calibration, gate)
            driver.connect()
            scheduling = f"SCHED_FIFO {PRIORITY}" if realtime and request_realtime(PRIORITY).policy == "SCHED_FIFO" else "normal"
            start_bytes = bus.stats.bytes_written + bus.stats.bytes_read
            start_transactions = bus.stats.transactions
            ticker = Ticker(rate_hz, window_ticks=int(duration_s * rate_hz) + 1)  # the driver node's loop
            durations, failed = [], 0
            amplitude = {j: 0.3 * min(abs(x) for x in calibration.limits_radians(j)) for j in JOINT_NAMES}
            stop = threading.Event()
            threading.Timer(duration_s, stop.set).start()

            def cycle(tick: int, _missed: int) -> None:
                nonlocal failed
                began = time.monotonic()
                phase = 2 * math.pi * 0.25 * began
                gate.set_array([amplitude[j] * math.sin(phase) for j in JOINT_NAMES], began)
                if driver.cycle(read_health=tick % int(rate_hz) == 0) is None:
                    failed += 1
                durations.append(time.monotonic() - began)

            ticker.run(cycle, stop)
            stats = ticker.stats()
            driver.torque_off()
            bus.close()
        finally:
            os.killpg(emulator.pid, signal.SIGTERM)
            emulator.wait(timeout=5)
    cycles = stats.ticks
    wire_bytes = (bus.stats.bytes_written + bus.stats.bytes_read - start_bytes) / cycles
    wire_time = wire_bytes * BITS_PER_BYTE / baudrate
    return {
        "duration_s": duration_s, "rate_hz": rate_hz, "baudrate": baudrate, "scheduling": scheduling,
        "cycles": cycles, "missed_deadlines": stats.missed, "failed_cycles": failed,
        "bus_retries": bus.stats.retries, "transactions_per_cycle": (bus.stats.transactions - start_transactions) / cycles,
        "lateness": {"p50_ms": stats.p50_ms, "p99_ms": stats.p99_ms, "max_ms": stats.max_ms},
        "cycle_duration": percentiles(durations),
        "bytes_per_cycle": wire_bytes, "wire_time_per_cycle_ms": wire_time * 1e3,
        "wire_share_of_period": wire_time * rate_hz,
        "load_average_1min_at_end": os.getloadavg()[0], "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of cycles (default 60)")
    parser.add_argument("--rate", type=float, default=100.0, help="cycles per second (default 100)")
    parser.add_argument("--baudrate", type=int, default=1_000_000, help="emulated bus speed (default 1 Mbaud)")
    parser.add_argument("--realtime", action=argparse.BooleanOptionalAction, default=True,
                        help=f"run the loop and the emulator under SCHED_FIFO {PRIORITY} if permitted (default on)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    result = run(args.duration, args.rate, args.baudrate, args.realtime)
    late, took = result["lateness"], result["cycle_duration"]
    print(f"{result['cycles']} cycles at {args.rate:g} Hz for {args.duration:g} s, {result['scheduling']} scheduling")
    print(f"lateness      p50 {late['p50_ms']:.3f} ms  p99 {late['p99_ms']:.3f} ms  max {late['max_ms']:.3f} ms")
    print(f"cycle time    p50 {took['p50_ms']:.3f} ms  p99 {took['p99_ms']:.3f} ms  max {took['max_ms']:.3f} ms")
    print(f"missed        {result['missed_deadlines']} deadlines, {result['failed_cycles']} failed cycles, "
          f"{result['bus_retries']} retries")
    print(f"wire          {result['bytes_per_cycle']:.1f} bytes/cycle = {result['wire_time_per_cycle_ms']:.3f} ms "
          f"at {args.baudrate} baud = {100 * result['wire_share_of_period']:.1f}% of the {1e3 / args.rate:g} ms period")
    print(f"host          {result['cpus']} CPUs, load average {result['load_average_1min_at_end']:.2f} at the end")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
