"""Soak: the simulated graph for a long run, every process's memory and the control loops' missed ticks.

    python bench/soak.py --minutes 60 [--interpolation 2] [--sample-s 10] [--sim-bus socket|pty]

The graph runs as a user starts it, in a ROS domain of its own (claimed as the tests claim theirs):
`python -m rtc_bringup.run --sim --record BAG --foxglove PORT interpolation:=N sim_bus:=B` (the driver
on the emulated bus at its configured 100 Hz, over a loopback socket by default: the pty's kernel
worker, which a loaded machine delays, is the stand-in's and not what a soak measures; `--sim-bus pty`
for the tty), the executor at control_rate_hz x N, the built-in policy, the simulated camera, the
recorder and the Foxglove server, with a Foxglove WebSocket client
(rtc_bringup/test/foxglove_client.py) subscribed to every channel for the whole run, as the Foxglove
app is, counting what it receives. Every `--sample-s` seconds the resident set size (RSS) of each of
the runner's processes (and its children) is read with psutil, and its anonymous part (RSS less the
file-backed and shared pages: the heap, Python's objects, torch's tensors) with it.

Printed per process: RSS and anonymous RSS averaged over the MEAN_S after minute one and over the
last MEAN_S of the run, the growth between them in %, the anonymous RSS's mean per 10 minutes (where
it levels off), and the CPU the process used between minute one and the end (% of one core). A leak
grows the anonymous part. Means, not single samples: the recorder's main heap saws (it falls by about
0.1 MB every 10 s and jumps back by 1 MB every 2-3 minutes; glibc's in-use bytes stay flat while it
cycles large buffers, a 1 MiB MCAP chunk every 10 s and every image), 2 % of its anonymous RSS, so
two single samples would compare the saw's phases. The file-backed part is the mapped code of the process's libraries (most
of the policy node's RSS is torch's): the kernel counts a page of it when the process first runs
that code and drops it when another process needs the memory, so it moves with the machine's load,
not with the process's allocations; the growth limit applies to the anonymous part.

From the bag's /diagnostics: the executor's missed ticks and the driver's missed cycles (cumulative
counters, last report), the garbage collections of their processes after start-up (count and longest
pause: a collection stops every thread of the process), and the most ticks over the period's budget in any reported window (the
`cadence` value: N/W ticks over budget in the last W); for the driver also its bus timeouts (replies
of the emulated bus later than its timeout). Beside the graph, bench/stall_probe.py notes the machine's
own stalls at three priorities (STALL_PROBES: a SCHED_FIFO thread waking late): of the intervals between
two reports in which a loop missed ticks, the soak says how many held a stall of each probe. At 99 no
scheduling of ours can beat it; at 49 (below the control loops) the CPUs were also taken by threads at
50 or above; at 39 (below the nodes' other threads) also by those; a miss with no stall at 49 had its
cause inside the loop's own process.
Exit code 1 when any process's mean anonymous RSS grew by GROWTH_LIMIT_PCT or more, or a control loop
missed a tick; 0 otherwise.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from rosbags.rosbag2 import Reader

from rtc_tools.bag_types import bag_typestore
from rtc_contract.topics import EXECUTOR_CONTROL_LOOP_STATUS
from so100_driver.topics import DRIVER_BUS_STATUS

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "rtc_bringup" / "test"), str(ROOT)]
from conftest import claim_domain_id  # noqa: E402  (the tests' ROS isolation: a domain of its own)
from foxglove_client import Received, connect_with_retry, free_port, receive  # noqa: E402

GROWTH_LIMIT_PCT = 2.0
BASELINE_S = 60.0  # RSS is compared from this long after the graph started (start-up allocations done)
MEAN_S = 300.0  # RSS is averaged over this long from BASELINE_S and before the end: longer than the recorder's saw
WINDOW_S = 600.0  # anonymous RSS is also averaged per window this long, from BASELINE_S: where it levels off
LOOPS = {  # /diagnostics status -> (its cumulative missed counter, what the loop is)
    DRIVER_BUS_STATUS: ("missed_cycles", "driver cycles"),
    EXECUTOR_CONTROL_LOOP_STATUS: ("missed_ticks", "executor ticks"),
}
_OVER_BUDGET = re.compile(r"(\d+)/(\d+) ticks over")
_STALL = re.compile(r"stall (\S+) (\S+)")
STALL_PROBES = (99, 49, 39)  # SCHED_FIFO priorities of bench/stall_probe.py beside the graph
_NODE_NAME = re.compile(r"__node:=(\S+)")


@dataclass
class Series:
    """One process's samples: (seconds since the graph started, RSS bytes, anonymous RSS bytes, CPU seconds)."""

    samples: list[tuple[float, int, int, float]] = field(default_factory=list)

    def mean(self, start: float, end: float) -> tuple[float, float]:
        """(RSS, anonymous RSS) averaged over the samples from `start` to `end` seconds."""
        window = [(rss, anon) for t, rss, anon, _cpu in self.samples if start <= t <= end]
        return sum(rss for rss, _ in window) / len(window), sum(anon for _, anon in window) / len(window)

    def cpu_percent(self, start: float) -> float:
        """CPU used from the first sample at or after `start` to the last one, in % of one core."""
        t0, cpu0 = next((t, cpu) for t, _rss, _anon, cpu in self.samples if t >= start)
        t1, cpu1 = self.samples[-1][0], self.samples[-1][3]
        return 100.0 * (cpu1 - cpu0) / (t1 - t0)

    def anon_means(self) -> list[float]:
        """Mean anonymous RSS per WINDOW_S from BASELINE_S on (the last window may be shorter)."""
        windows: dict[int, list[int]] = {}
        for t, _rss, anon, _cpu in self.samples:
            if t >= BASELINE_S:
                windows.setdefault(int((t - BASELINE_S) // WINDOW_S), []).append(anon)
        return [sum(values) / len(values) for _, values in sorted(windows.items())]


def process_name(proc: psutil.Process) -> str:
    """The graph's name of a runner child: its ROS node name, else recorder / its executable."""
    command = " ".join(proc.cmdline())
    node = _NODE_NAME.search(command)
    if node:
        return node.group(1)
    if "rtc_tools.recorder" in command:
        return "recorder"
    return Path(proc.cmdline()[0]).name


def tree_usage(proc: psutil.Process) -> tuple[int, int, float]:
    """RSS and anonymous RSS (bytes) and CPU time (user + system seconds) of a process and its
    descendants; what has exited counts nothing. Anonymous: RSS less the resident file-backed and
    shared pages (/proc/PID/statm's `shared`)."""
    rss = anon = 0
    cpu = 0.0
    for member in [proc, *proc.children(recursive=True)]:
        try:
            memory, times = member.memory_info(), member.cpu_times()
        except psutil.NoSuchProcess:
            continue
        rss += memory.rss
        anon += memory.rss - memory.shared
        cpu += times.user + times.system
    return rss, anon, cpu


def sample(runner: psutil.Process, started: float, series: dict[str, Series]) -> None:
    now = time.monotonic() - started
    for child in runner.children():
        try:
            series.setdefault(process_name(child), Series()).samples.append((now, *tree_usage(child)))
        except psutil.NoSuchProcess:
            pass


def loop_figures(bag: Path) -> dict[str, dict]:
    """Per control loop: missed (last cumulative count), the most ticks over budget in a window and, for
    the driver, its bus timeouts (last cumulative count: replies that came later than its timeout)."""
    figures = {status: {"missed": -1, "over_budget_max": 0, "reports": 0, "bus_timeouts": -1, "at": 0.0,
                        "missing_intervals": [], "gc_pauses": "not reported"} for status in LOOPS}
    with Reader(bag) as reader:
        store = bag_typestore(reader)
        connections = [c for c in reader.connections if c.topic == "/diagnostics"]
        for connection, stamp, raw in reader.messages(connections=connections):
            for status in store.deserialize_cdr(raw, connection.msgtype).status:
                if status.name not in LOOPS:
                    continue
                values = {kv.key: kv.value for kv in status.values}
                loop = figures[status.name]
                loop["reports"] += 1
                missed, at = int(values[LOOPS[status.name][0]]), stamp / 1e9
                if loop["reports"] > 1 and missed > loop["missed"]:  # ticks missed since the last report
                    loop["missing_intervals"].append((loop["at"], at))
                loop["missed"], loop["at"] = missed, at
                loop["bus_timeouts"] = int(values.get("bus_timeouts", -1))  # the driver's: replies later than its timeout
                loop["gc_pauses"] = values.get("gc_pauses", "not reported")  # its process's collections since start-up
                over = _OVER_BUDGET.search(values.get("cadence", ""))
                if over:
                    loop["over_budget_max"] = max(loop["over_budget_max"], int(over.group(1)))
    return figures


def stalls_in(intervals: list[tuple[float, float]], stalls: list[float]) -> int:
    """How many of the (start, end) wall-time intervals hold one of the stalls' wall times."""
    return sum(any(start <= t <= end for t in stalls) for start, end in intervals)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0, help="length of the run (from the graph's start)")
    parser.add_argument("--interpolation", type=int, default=2, help="executor commands per chunk row")
    parser.add_argument("--sample-s", type=float, default=10.0, help="seconds between RSS samples")
    parser.add_argument("--sim-bus", choices=("socket", "pty"), default="socket",
                        help="how the driver reaches the emulated bus (rtc_run's sim_bus)")
    args = parser.parse_args()
    duration = args.minutes * 60.0
    if duration < BASELINE_S + MEAN_S + args.sample_s:
        parser.error(f"--minutes must leave at least {(MEAN_S + args.sample_s) / 60:.1f} minutes after minute "
                     f"{BASELINE_S / 60:.0f} (the means' window)")
    os.environ["ROS_DOMAIN_ID"] = str(claim_domain_id())  # no other run's nodes join the graph
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    port = free_port()
    series: dict[str, Series] = {}
    client: list[Received] = []
    with tempfile.TemporaryDirectory(prefix="rtc_soak_") as out:
        bag, log = Path(out) / "bag", Path(out) / "run.log"
        command = [sys.executable, "-m", "rtc_bringup.run", "--sim", "--duration", str(duration),
                   "--record", str(bag), "--foxglove", str(port), f"interpolation:={args.interpolation}",
                   f"sim_bus:={args.sim_bus}"]
        print(f"soak: ROS_DOMAIN_ID={os.environ['ROS_DOMAIN_ID']} " + " ".join(command), flush=True)
        probes = {}
        for priority in STALL_PROBES:
            with open(Path(out) / f"stalls_{priority}.txt", "w") as probe_file:
                probes[priority] = subprocess.Popen([sys.executable, str(ROOT / "bench" / "stall_probe.py"),
                                                     "--priority", str(priority)], stdout=probe_file)
        with open(log, "w") as log_file:
            runner_proc = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
        started = time.monotonic()
        runner = psutil.Process(runner_proc.pid)

        def watch() -> None:
            connect_with_retry(port, timeout=120.0)
            client.append(receive(port, timeout=duration, keep=False))

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        next_sample = started + args.sample_s
        end_sampling = started + duration - args.sample_s / 2  # the last samples precede the graph's stop
        while runner_proc.poll() is None and time.monotonic() < end_sampling:
            time.sleep(max(0.0, next_sample - time.monotonic()))
            sample(runner, started, series)
            next_sample += args.sample_s
        code = runner_proc.wait(timeout=duration + 120)
        probe_lines, stalls = {}, {}
        for priority, probe in probes.items():
            probe.terminate()
            probe.wait(timeout=30)
            probe_lines[priority] = (Path(out) / f"stalls_{priority}.txt").read_text().splitlines()
            stalls[priority] = [float(m.group(1)) for m in map(_STALL.match, probe_lines[priority]) if m]
        watcher.join(timeout=30)
        if code:  # why the graph stopped: the nodes' errors
            print("".join(line for line in log.read_text().splitlines(keepends=True)
                          if "ERROR" in line or "exited" in line or "fatal" in line), end="")
        print(f"soak: runner exited {code} after {time.monotonic() - started:.0f} s; "
              f"bag {sum(f.stat().st_size for f in bag.rglob('*') if f.is_file()) / 1e6:.0f} MB")
        loops = loop_figures(bag)
    failed = code != 0
    print(f"\nRSS and anonymous RSS (MB), means over minutes {BASELINE_S / 60:.0f}-{(BASELINE_S + MEAN_S) / 60:.0f} "
          f"and over the last {MEAN_S / 60:.0f}; limit {GROWTH_LIMIT_PCT} % on the anonymous part; CPU from minute "
          f"{BASELINE_S / 60:.0f} to the end")
    print(f"{'process':<20}{'RSS first':>10}{'last':>8}{'growth %':>9}"
          f"{'anon first':>11}{'last':>8}{'growth %':>9}{'CPU %':>7}{'samples':>8}")
    for name, s in sorted(series.items()):
        end = s.samples[-1][0] if s.samples else 0.0
        if end < BASELINE_S + MEAN_S:
            print(f"{name:<20} too few samples")
            failed = True
            continue
        (rss_first, anon_first), (rss_last, anon_last) = s.mean(BASELINE_S, BASELINE_S + MEAN_S), s.mean(end - MEAN_S, end)
        rss_growth = 100.0 * (rss_last - rss_first) / rss_first
        anon_growth = 100.0 * (anon_last - anon_first) / anon_first
        failed |= anon_growth >= GROWTH_LIMIT_PCT
        print(f"{name:<20}{rss_first / 1e6:>10.1f}{rss_last / 1e6:>8.1f}{rss_growth:>9.2f}"
              f"{anon_first / 1e6:>11.1f}{anon_last / 1e6:>8.1f}{anon_growth:>9.2f}{s.cpu_percent(BASELINE_S):>7.1f}"
              f"{len(s.samples):>8}")
    print(f"\nanonymous RSS (MB), mean per {WINDOW_S / 60:.0f} minutes from minute {BASELINE_S / 60:.0f}")
    for name, s in sorted(series.items()):
        print(f"{name:<20}" + "".join(f"{mean / 1e6:>8.1f}" for mean in s.anon_means()))
    print("\ncontrol loops (from /diagnostics)")
    for status, figures in loops.items():
        failed |= figures["missed"] != 0
        print(f"{LOOPS[status][1]:<16} missed {figures['missed']:>6}   most over budget in a window "
              f"{figures['over_budget_max']:>4}   reports {figures['reports']}"
              + (f"   bus timeouts {figures['bus_timeouts']}" if figures["bus_timeouts"] >= 0 else ""))
        print(f"{'':<16} garbage collections in its process after start-up: {figures['gc_pauses']}")
        intervals = figures["missing_intervals"]
        print(f"{'':<16} missed ticks in {len(intervals)} intervals between reports; of them with a stall of "
              "the probe at " + ", ".join(f"{p}: {stalls_in(intervals, stalls[p])}" for p in STALL_PROBES))
    print()
    for priority in STALL_PROBES:
        print(probe_lines[priority][-1] if probe_lines[priority] else f"probe {priority}: no output")
    if client:
        counts = client[0].counts
        print(f"\nfoxglove client: {sum(counts.values())} messages on {len(counts)} topics")
    print("soak: " + ("FAILED" if failed else "passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
