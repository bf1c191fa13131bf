"""Where a control thread waits inside its ticks, and who releases it: the simulated graph under perf.

    python bench/control_thread_waits.py [--seconds 120] [--transports udp,default]

Needs perf and root (system-wide scheduler events). For each transport of the control loops
(rtc_bringup's `control_loop_transport`, one graph after the other): the graph as bench/soak.py runs
it (`rtc_run --sim --record BAG --foxglove PORT interpolation:=2 sim_bus:=socket`, a Foxglove client on
every channel), in a ROS domain of its own; after WARMUP_S, `perf record -e sched:sched_switch -e
sched:sched_wakeup` and the clock_nanosleep and futex system calls, system-wide, for `--seconds`.
The executor's and the driver's control thread is each one's SCHED_FIFO thread of the highest
priority. From the events, every interval that thread was off the CPU asleep, the system call it
slept in, and the thread whose wake-up ended it. The loop's own sleep to its next deadline is a
clock_nanosleep; a bus read is I/O; a futex is a lock, a condition or the GIL. Printed per
transport: the lock waits a thread ended (futex waits that did not time out: a timed-out wait is
woken by whatever ran when its timer fired), count, total and longest, and those released by a
thread of another process, which means a lock shared across processes, with the releasing threads' names.
"""
from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rtc_bringup.graph import CONTROL_LOOP_NODES

ROOT = Path(__file__).resolve().parents[1]
TEST_HELPERS = [str(ROOT / "rtc_bringup" / "test"), str(ROOT)]  # on sys.path in main() only (tests import this)

WARMUP_S = 60.0  # the policy loaded and chunks merging before perf starts
EVENTS = ("sched:sched_switch", "sched:sched_wakeup", "syscalls:sys_enter_clock_nanosleep",
          "syscalls:sys_exit_clock_nanosleep", "syscalls:sys_enter_futex", "syscalls:sys_exit_futex")
_EVENT = re.compile(r"^\s*(.+?)\s+(\d+)/(\d+)\s+(?:\[\d+\]\s+)?([\d.]+):\s+(?:sched:sched_|syscalls:sys_)(\w+):(.*)$")
ETIMEDOUT = 110
_SWITCH = re.compile(r"prev_pid=(\d+) .*==> next_comm=.* next_pid=(\d+)")
_WAKEUP = re.compile(r"\bpid=(\d+) ")


@dataclass
class Wait:
    """The control thread asleep from `start` for `seconds`, woken by `waker` of process `waker_pid`, in
    `call`: "clock_nanosleep" (the loop's sleep to its next deadline), "futex" (a lock, a condition, the
    GIL) or "" (anything else: I/O); `timed_out` for a futex wait that ended by its own timeout (the
    waker is then whatever ran when the timer fired, not a thread that let go of a lock)."""

    start: float
    seconds: float
    waker: str
    waker_pid: int
    call: str
    timed_out: bool = False

    @property
    def released(self) -> bool:
        """A wait on a lock that a thread let go of."""
        return self.call == "futex" and not self.timed_out


def sleeps(lines: Iterable[str], tid: int) -> list[Wait]:
    """Every interval thread `tid` was switched out and later woken, from `perf script` lines."""
    found, out_at, woken, call, since = [], None, None, "", ""
    for line in lines:
        event = _EVENT.match(line)
        if not event:
            continue
        comm, pid, thread, at, kind, rest = event.groups()
        if kind.startswith(("enter_", "exit_")):
            if int(thread) != tid:
                continue
            entering, name = kind.split("_", 1)
            call = name if entering == "enter" else ""
            if entering == "exit" and name == "futex" and since == "futex":  # the wait appended last
                value = int(rest.strip(), 16)
                found[-1].timed_out = value - (1 << 64) * (value >= 1 << 63) == -ETIMEDOUT
            since = ""
        elif kind == "switch":
            switch = _SWITCH.search(rest)
            if switch and int(switch.group(1)) == tid:
                out_at, woken, in_call = float(at), None, call
            elif switch and int(switch.group(2)) == tid and out_at is not None and woken is not None:
                found.append(Wait(out_at, float(at) - out_at, *woken, in_call))
                out_at, since = None, in_call
        elif out_at is not None and woken is None and (wake := _WAKEUP.search(rest)) and int(wake.group(1)) == tid:
            woken = (comm.strip(), int(pid))
    return found


def summary(waits: list[Wait], pid: int) -> str:
    def line(ws: list[Wait]) -> str:
        return (f"{len(ws)}, total {1e3 * sum(w.seconds for w in ws):.1f} ms, "
                f"longest {1e3 * max((w.seconds for w in ws), default=0.0):.2f} ms")
    other = [w for w in waits if w.waker_pid != pid]
    wakers = collections.Counter(re.sub(r"\d+$", "N", w.waker) for w in other).most_common(5)
    return (f"lock waits {line(waits)}\n  released by another process: {line(other)}"
            + (f" (by {', '.join(f'{name} x{n}' for name, n in wakers)})" if wakers else ""))


def control_thread(pid: int) -> int:
    """The process's SCHED_FIFO thread of the highest priority."""
    best = (0, 0)
    for task in Path(f"/proc/{pid}/task").iterdir():
        tid = int(task.name)
        try:
            if os.sched_getscheduler(tid) == os.SCHED_FIFO:
                best = max(best, (os.sched_getparam(tid).sched_priority, tid))
        except OSError:
            continue
    if not best[1]:
        raise RuntimeError(f"process {pid} has no SCHED_FIFO thread (run as root, or with an RLIMIT_RTPRIO)")
    return best[1]


def measure(transport: str, seconds: float, out: Path) -> str:
    """One graph with this transport: perf over `seconds` after the warm-up, each control loop's in-tick waits."""
    from foxglove_client import connect_with_retry, free_port, receive
    from node_threads import node_processes

    port = free_port()
    command = [sys.executable, "-m", "rtc_bringup.run", "--sim", "--duration", str(WARMUP_S + seconds + 30),
               "--record", str(out / f"bag_{transport}"), "--foxglove", str(port), "interpolation:=2",
               "sim_bus:=socket", f"control_loop_transport:={transport}"]
    with open(out / f"run_{transport}.log", "w") as log:
        runner = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    threading.Thread(target=lambda: (connect_with_retry(port, timeout=120.0),
                                     receive(port, timeout=WARMUP_S + seconds, keep=False)), daemon=True).start()
    try:
        time.sleep(WARMUP_S)
        pids = node_processes(runner.pid)
        missing = sorted(CONTROL_LOOP_NODES - set(pids))
        if missing:
            raise RuntimeError(f"no process of {', '.join(missing)} under runner {runner.pid}")
        threads = {node: (pids[node], control_thread(pids[node])) for node in sorted(CONTROL_LOOP_NODES)}
        data = out / f"perf_{transport}.data"
        subprocess.run(["perf", "record", "-q", "-o", str(data), *(f"-e{e}" for e in EVENTS), "-a", "--",
                        "sleep", str(seconds)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        lines = subprocess.run(["perf", "script", "-i", str(data), "-F", "comm,pid,tid,time,event,trace"],
                               capture_output=True, text=True, check=True).stdout.splitlines()
    finally:
        runner.terminate()
        runner.wait(timeout=120)
    report = []
    for node, (pid, tid) in threads.items():
        waits = sleeps(lines, tid)
        report.append(f"{transport}: {node} control thread {tid}, {len(waits)} sleeps in {seconds:.0f} s\n  "
                      + summary([w for w in waits if w.released], pid))
    return "\n".join(report)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=120.0, help="perf's recording per transport")
    parser.add_argument("--transports", default="udp,default", help="control_loop_transport values, in order")
    args = parser.parse_args()
    sys.path[:0] = TEST_HELPERS
    from conftest import claim_domain_id  # the tests' ROS isolation: a domain of its own

    os.environ["ROS_DOMAIN_ID"] = str(claim_domain_id())
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    with tempfile.TemporaryDirectory(prefix="rtc_waits_") as out:
        for transport in args.transports.split(","):
            print(measure(transport, args.seconds, Path(out)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
