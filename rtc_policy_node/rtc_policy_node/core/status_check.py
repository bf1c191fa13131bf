"""Is an executor status fit to plan with? Every field the scheduler decides with, checked before use.

Anything on the domain can publish rtc/executor_status; a NaN or infinite control rate, or a tick
count no executor reaches, would raise inside the policy node or anchor chunks nowhere. A status
that fails here is dropped (the node warns and counts it) and the last good one stays in force.
No rclpy: the node and tests call it with any object carrying the fields.
"""
from __future__ import annotations

import math

from rtc_policy_node.core.inference_scheduler import ExecutorReport

MAX_CONTROL_RATE_HZ = 10_000.0  # no servo bus runs a control loop faster
MAX_STEP = 2**53  # ticks stay exact as floats (the executor clock multiplies them by the period)
MAX_QUEUE_TICKS = 2**20  # remaining, index_in_chunk, last_d_real: a chunk of a million rows is no chunk
COUNTERS = ("merged_count", "rejected_count")


def status_problem(status: ExecutorReport) -> str | None:
    """Why `status` cannot be used (one line), or None when every field is in range."""
    rate = status.control_rate_hz
    if not (isinstance(rate, (int, float)) and math.isfinite(rate) and 0.0 < rate <= MAX_CONTROL_RATE_HZ):
        return f"control_rate_hz {rate!r} is not in (0, {MAX_CONTROL_RATE_HZ:g}]"
    checks = (("step", status.step, 0, MAX_STEP),
              ("remaining", status.remaining, 0, MAX_QUEUE_TICKS),
              ("index_in_chunk", status.index_in_chunk, 0, MAX_QUEUE_TICKS),
              ("last_d_real", status.last_d_real, -1, MAX_QUEUE_TICKS),
              ("active_chunk_id", status.active_chunk_id, 0, 2**64 - 1),
              ("epoch", status.epoch, 0, 2**32 - 1),
              *((name, getattr(status, name), 0, 2**64 - 1) for name in COUNTERS))
    for name, value, low, high in checks:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return f"{name} {value!r} is not an integer in [{low}, {high}]"
    if not isinstance(status.on_hold, bool):
        return f"on_hold {status.on_hold!r} is not a bool"
    return None
