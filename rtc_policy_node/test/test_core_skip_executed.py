"""The executor skips only what the arm executed, and the policy side plans with the same rule.

A closed loop of the policy node's own InferenceScheduler and the executor's ActionQueue on
simulated ticks, with an ideal policy: each chunk continues the motion from the row after the last
one executed when it was planned, one unit of progress per row. A row that was never executed but
is skipped shows up as a jump in the executed progress. The tests are named after the failures
they prevent (LeRobot issue 4223: a slow first inference, then a steady one, jumped an SO-101).
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from rtc_executor.core.action_queue import ActionQueue
from rtc_policy_node.core.inference_scheduler import InferenceScheduler, SchedulerSettings

RATE = 30.0
CHUNK = 30  # rows per chunk, as the SO-101 run of issue 4223
INPUT = "camera"


def run_loop(latencies: list[int], ticks: int = 240, holds: range = range(0), trigger: int = 15):
    """Executed progress per tick (None while nothing was executed yet), and per merged chunk
    (assumed delay, d_real, rows skipped). latencies[i]: ticks chunk i takes (the last repeats);
    the executor is on hold during the ticks in `holds`."""
    queue = ActionQueue(1)
    scheduler = InferenceScheduler(SchedulerSettings(trigger_remaining=trigger), inputs=[INPUT])
    pending, executed, merges, last_d_real, last = None, [], [], -1, 0
    for tick in range(ticks):
        if pending is not None and pending[0] <= tick:
            _, chunk_id, actions, plan = pending
            result = queue.merge(chunk_id, actions, plan.source_step)
            assert result.accepted, result
            merges.append((plan.delay, result.d_real, result.skipped))
            last_d_real, pending = result.d_real, None
        (queue.hold if tick in holds else queue.resume)()
        view, counters = queue.leftover(), queue.counters()
        status = SimpleNamespace(step=view.step, control_rate_hz=RATE, active_chunk_id=view.chunk_id or 0,
                                 index_in_chunk=view.index, remaining=view.remaining, merged_count=counters.merged,
                                 rejected_count=sum(counters.rejected.values()), last_d_real=last_d_real,
                                 on_hold=queue.on_hold, epoch=0)
        now = tick / RATE
        scheduler.on_status(status, now)
        scheduler.on_input(INPUT, now)
        plan = scheduler.decide(now) if pending is None else None
        if plan is not None:
            # the ideal policy: row j continues from the row the executor serves next
            rows = (plan.leftover[0, 0] if plan.leftover is not None else last + 1) + np.arange(CHUNK, dtype=float)
            chunk_id = scheduler.next_chunk_id()
            latency = latencies[min(chunk_id - 1, len(latencies) - 1)]
            scheduler.on_published(plan, rows[:, None], now, now + latency / RATE)
            pending = (tick + latency, chunk_id, rows[:, None], plan)
        popped = queue.pop()
        if popped.action is not None:
            last = popped.action[0]
            executed.append(last)
        else:
            executed.append(None)
    return executed, merges


def assert_no_row_skipped(executed: list) -> None:
    """Progress moves by one row per tick or holds: no executed row is followed by a later one."""
    played = np.array([p for p in executed if p is not None])
    assert played.size and played[0] == 1, played[:5]
    steps = np.diff(played)
    assert set(steps.tolist()) <= {1.0}, np.flatnonzero(steps != 1)


@pytest.mark.parametrize("first_latency", [1, 6, 30])
def test_cold_start_does_not_jump_into_the_first_chunk(first_latency):
    executed, merges = run_loop([first_latency, 6])
    assert_no_row_skipped(executed)
    assert merges[0][2] == 0  # the first chunk plays from row 0, however long it took
    assert merges[0][0] == 0  # and the scheduler planned it so: nothing queued, nothing will be skipped


def test_hold_then_resume_does_not_jump_ahead():
    executed, merges = run_loop([6], holds=range(40, 100))
    assert_no_row_skipped(executed)
    assert all(skipped <= assumed for assumed, _, skipped in merges[1:]), merges  # the delay promise holds


def test_underrun_then_a_late_chunk_does_not_jump_ahead():
    executed, merges = run_loop([6, 6, 40, 6], trigger=5)  # chunk 3 arrives 40 ticks late: the queue runs dry
    assert None in executed[60:]
    assert_no_row_skipped(executed)


def test_warmup_spike_then_steady_inferences_lerobot_4223():
    """0.7 s first inference (21 ticks at 30 Hz), then 0.3 s (9 ticks): no jump, and after the
    second chunk the estimate is the steady latency's, not the warm-up's."""
    executed, merges = run_loop([21, 9])
    assert_no_row_skipped(executed)
    assert merges[0][1:] == (21, 0)
    steady = [assumed for assumed, _, _ in merges[2:]]
    assert steady and set(steady) == {9 + SchedulerSettings().delay_margin_ticks}, merges
    assert all(skipped <= assumed for assumed, _, skipped in merges[1:]), merges
