"""Real-time scheduling of threads: SCHED_FIFO when the kernel grants it, a named fallback when not.

No rclpy import: the driver's and the executor's control loops and the policy's chunk hand-off use it.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

# A SCHED_FIFO thread still needs the GIL. A thread waiting for it asks the holder to let go after
# the switch interval (Python's default: 5 ms); processes with a real-time thread set this instead.
GIL_SWITCH_INTERVAL_S = 0.0005
# A process with a SCHED_FIFO control thread puts its other threads (ROS spin, DDS callbacks, the sim's
# bus emulator) this far below it, still above every normal task (request_realtime_process).
OTHER_THREADS_PRIORITY_BELOW = 10


@dataclass(frozen=True)
class Scheduling:
    """The scheduling a thread actually got."""

    policy: str  # "SCHED_FIFO" or "SCHED_OTHER"
    priority: int
    detail: str  # why, e.g. the reason a SCHED_FIFO request fell back

    def __str__(self) -> str:
        return f"{self.policy} priority {self.priority} ({self.detail})"


def request_realtime(priority: int, thread_id: int = 0) -> Scheduling:
    """Put a thread under SCHED_FIFO at `priority`; fall back to normal scheduling.

    On Linux, `thread_id` is a native thread id and 0 names the calling thread. Without
    CAP_SYS_NICE or an RLIMIT_RTPRIO that allows `priority`, the kernel refuses (EPERM) and the
    thread stays under SCHED_OTHER: the loop still works, only with more jitter under load.
    """
    if not hasattr(os, "sched_setscheduler"):
        return Scheduling("SCHED_OTHER", 0, "SCHED_FIFO not available on this platform")
    try:
        os.sched_setscheduler(thread_id, os.SCHED_FIFO, os.sched_param(priority))
    except (PermissionError, OSError) as err:
        return Scheduling("SCHED_OTHER", 0, f"SCHED_FIFO {priority} refused: {err.strerror or err}")
    return Scheduling("SCHED_FIFO", priority, "granted")


def request_realtime_process(priority: int) -> Scheduling:
    """Put every thread of this process under SCHED_FIFO at `priority` (threads made later inherit it).

    Why: in Python the control thread needs the GIL every tick. If a normal-priority thread of the
    same process (the ROS spin thread, a DDS thread calling into Python) holds the GIL and is
    preempted by some other busy process, the control thread waits for it however high its own
    priority is. With every thread of the process above normal tasks, the GIL holder runs on.
    """
    if not os.path.isdir("/proc/self/task"):
        return Scheduling("SCHED_OTHER", 0, "no /proc/self/task: cannot list this process's threads")
    thread_ids = [int(tid) for tid in os.listdir("/proc/self/task")]
    refused = [got for got in (request_realtime(priority, tid) for tid in thread_ids)
               if got.policy != "SCHED_FIFO"]
    if refused:
        return Scheduling("SCHED_OTHER", 0, f"{len(refused)} of {len(thread_ids)} threads: {refused[0].detail}")
    return Scheduling("SCHED_FIFO", priority, f"granted for {len(thread_ids)} threads")


@contextmanager
def realtime_section(priority: int) -> Iterator[Scheduling]:
    """Run a short section of the calling thread under SCHED_FIFO, then back to normal scheduling.

    For a thread that is mostly heavy and must stay normal (the policy's inference) but whose hand-off
    (publishing a chunk) should not be preempted by other processes. `priority` 0 does nothing.
    """
    if priority <= 0:
        yield normal_scheduling()
        return
    got = request_realtime(priority)
    try:
        yield got
    finally:
        if got.policy == "SCHED_FIFO":
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


def normal_scheduling() -> Scheduling:
    return Scheduling("SCHED_OTHER", 0, "realtime not requested")
