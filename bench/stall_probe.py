"""The machine's own stalls: what no scheduling of ours can beat (bench/soak.py runs it beside the graph).

    python bench/stall_probe.py [--priority 99] [--period-ms 2] [--threshold-ms 10]

A thread under SCHED_FIFO `--priority` sleeps to absolute deadlines every `--period-ms` and notes each
wake-up later than `--threshold-ms`: the time the machine ran nothing of that priority. At 99, above
every thread of the graph: a vCPU the host did not run, a long kernel section, real-time throttling.
Just below a control loop's priority: also the CPUs taken by threads at or above it; a loop stalled
while such a probe was not had its cause in its own process (the GIL, a lock, a blocking call). Until SIGTERM
or SIGINT; then prints one line per stall, `stall WALL_TIME LATE_MS`, and a summary line with the
count, the worst lateness and the steal time /proc/stat counted over the run (a VM's vCPU not run).
Without SCHED_FIFO (not permitted) it says so in the summary: then its stalls include ordinary waits.
"""
from __future__ import annotations

import argparse
import os
import signal
import threading
import time

from rtc_runtime.scheduling import request_realtime

def steal_s() -> float:
    """The host's steal time of every vCPU so far (s): /proc/stat's 8th cpu field, in USER_HZ ticks."""
    with open("/proc/stat") as stat:
        fields = stat.readline().split()
    return int(fields[8]) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--priority", type=int, default=99, help="SCHED_FIFO priority of the probe")
    parser.add_argument("--period-ms", type=float, default=2.0)
    parser.add_argument("--threshold-ms", type=float, default=10.0)
    args = parser.parse_args()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    scheduling = request_realtime(args.priority)
    period, threshold = args.period_ms / 1e3, args.threshold_ms / 1e3
    stalls: list[tuple[float, float]] = []
    wakeups, worst, steal_before = 0, 0.0, steal_s()
    deadline = time.monotonic() + period
    while not stop.is_set():
        time.sleep(max(0.0, deadline - time.monotonic()))
        late = time.monotonic() - deadline
        wakeups += 1
        worst = max(worst, late)
        if late > threshold:
            stalls.append((time.time(), late * 1e3))
        deadline = max(deadline + period, time.monotonic())  # after a stall: on from now, no burst
    for wall, late_ms in stalls:
        print(f"stall {wall:.3f} {late_ms:.1f}")
    print(f"probe: {scheduling}; {wakeups} wake-ups every {args.period_ms:g} ms, {len(stalls)} later than "
          f"{args.threshold_ms:g} ms, worst {worst * 1e3:.1f} ms; steal {steal_s() - steal_before:.1f} s", flush=True)


if __name__ == "__main__":
    main()
