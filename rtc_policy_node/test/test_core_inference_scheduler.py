"""InferenceScheduler directly, on a fake clock, with no processes: the trigger, start-up and pause
gating, the wait for a merge, error back-off, the delay estimate fed with the executor's d_real."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest

from rtc_policy_node.core.inference_scheduler import InferenceScheduler, Phase, SchedulerSettings

RATE = 30.0
T = 1.0 / RATE
CAMERA = "/camera"


@dataclass
class Status:
    step: int = 0
    control_rate_hz: float = RATE
    active_chunk_id: int = 0
    index_in_chunk: int = 0
    remaining: int = 0
    merged_count: int = 0
    rejected_count: int = 0
    last_d_real: int = -1
    on_hold: bool = False
    epoch: int = 0


def scheduler(**settings) -> InferenceScheduler:
    return InferenceScheduler(SchedulerSettings(**settings), inputs=[CAMERA])


def feed(s: InferenceScheduler, status: Status, now: float) -> None:
    s.on_status(status, now)
    s.on_input(CAMERA, now)


def test_nothing_before_the_executor_speaks_then_the_first_chunk_at_once():
    s = scheduler()
    assert s.decide(0.0) is None and s.phase is Phase.WAITING_FOR_EXECUTOR
    feed(s, Status(step=3), 3 * T)
    plan = s.decide(3 * T)
    assert plan is not None and plan.source_step == 3 and plan.leftover is None and plan.prev_chunk_id == 0
    assert plan.delay == 0  # nothing queued: the executor will skip nothing of this chunk


def test_start_up_waits_for_every_input_and_for_the_chunk_readers():
    s = scheduler(match_wait_s=1.0)
    s.on_status(Status(), 0.0)
    assert s.decide(0.0) is None and s.phase is Phase.WAITING_FOR_INPUTS and CAMERA in s.detail
    s.on_input(CAMERA, 0.0)
    assert s.decide(0.0, readers=(2, 1)) is None and s.phase is Phase.WAITING_FOR_READERS
    assert s.decide(0.5, readers=(2, 1)) is None  # one reader matched: wait at most match_wait_s
    s.on_status(Status(step=45), 1.5)
    s.on_input(CAMERA, 1.5)
    assert s.decide(1.5, readers=(2, 1)) is not None  # the other reader never matched: go anyway
    assert s.notices == ["1 of 2 subscribers of the chunk topic did not match in 1.0 s (incompatible QoS?); "
                         "publishing anyway"]


def test_trigger_remaining_counts_the_ticks_run_since_the_status():
    s = scheduler(trigger_remaining=10, first_chunk_guidance="follow")
    feed(s, Status(step=0), 0.0)
    plan = s.decide(0.0)
    s.on_published(plan, np.zeros((50, 2)), 0.0, 0.1)
    merged = Status(step=5, active_chunk_id=1, index_in_chunk=5, remaining=45, merged_count=1, last_d_real=5)
    feed(s, merged, 5 * T)
    assert s.decide(5 * T) is None and s.phase is Phase.IDLE
    feed(s, replace(merged, step=25, index_in_chunk=25, remaining=25), 25 * T)  # on time
    assert s.decide(25 * T) is None and s.phase is Phase.IDLE
    # The status of tick 30 (remaining 20) arrives late, at tick 41: 11 more ticks ran, 9 remain.
    late = replace(merged, step=30, index_in_chunk=30, remaining=20)
    s.on_status(late, 41 * T)
    s.on_input(CAMERA, 41 * T)
    plan = s.decide(41 * T)
    assert plan is not None and plan.source_step == 30 + plan.status_behind_ticks
    assert plan.status_behind_ticks == 11 and plan.prev_chunk_id == 1
    assert len(plan.leftover) == 50 - plan.source_step


def test_a_sent_chunk_is_waited_for_until_the_executor_decides():
    s = scheduler(trigger_remaining=25, merge_wait_s=2.0)
    feed(s, Status(), 0.0)
    plan = s.decide(0.0)
    s.on_published(plan, np.zeros((50, 2)), 0.0, 0.05)
    feed(s, Status(step=2), 2 * T)
    assert s.decide(2 * T) is None and s.phase is Phase.AWAITING_MERGE
    feed(s, Status(step=70), 70 * T)  # 2.3 s without a decision: the executor never took it
    assert s.decide(70 * T) is not None
    assert s.counts.latency_samples == 1 and s.counts.d_real_samples == 0


def test_a_merge_reported_before_on_published_is_not_lost():
    s = scheduler()
    feed(s, Status(), 0.0)
    plan = s.decide(0.0)
    s.on_status(Status(step=4, active_chunk_id=1, index_in_chunk=4, remaining=46, merged_count=1, last_d_real=4), 0.13)
    s.on_published(plan, np.zeros((50, 2)), 0.0, 0.12)
    assert s.counts.d_real_samples == 1 and s.phase is Phase.AWAITING_MERGE
    assert s.decide(0.14) is None and s.phase is Phase.IDLE  # decided: back to the trigger


def run_chunks(s: InferenceScheduler, wall_latency_ticks: int, real_delay_ticks: int, chunks: int) -> list[int]:
    """Chunks whose wall-clock latency says `wall_latency_ticks` but which the executor merges
    `real_delay_ticks` late (transport, tick phase); returns the delay each plan assumed."""
    assumed, step, merged = [], 0, 0
    feed(s, Status(step=step), step * T)
    for _ in range(chunks):
        plan = s.decide(step * T)
        assert plan is not None, s.phase
        assumed.append(plan.delay)
        s.on_published(plan, np.zeros((50, 2)), step * T, (step + wall_latency_ticks) * T)
        step += real_delay_ticks
        merged += 1
        status = Status(step=step, active_chunk_id=merged, index_in_chunk=real_delay_ticks, remaining=25,
                        merged_count=merged, last_d_real=real_delay_ticks)
        feed(s, status, step * T)
    return assumed


def test_a_systematic_under_estimate_is_corrected_by_d_real_within_a_few_chunks():
    s = scheduler(trigger_remaining=25, delay_margin_ticks=0, delay_warmup=1)
    assumed = run_chunks(s, wall_latency_ticks=2, real_delay_ticks=5, chunks=6)
    assert assumed[0] == 0  # nothing known
    assert all(d >= 5 for d in assumed[2:]), assumed  # the cold chunk is warm-up; the next ones hold
    assert s.counts.d_real_samples == 6 and s.counts.latency_samples == 0


def test_a_rejected_chunk_counts_its_wall_clock_latency():
    s = scheduler(delay_warmup=0, delay_margin_ticks=0)
    feed(s, Status(), 0.0)
    plan = s.decide(0.0)
    s.on_published(plan, np.zeros((50, 2)), 0.0, 7 * T)
    feed(s, Status(step=7, rejected_count=1), 7 * T)
    assert s.counts.latency_samples == 1 and s.delay_estimate == 7


def test_a_quiet_input_pauses_once_and_resumes():
    s = scheduler(observation_timeout_s=0.5)
    feed(s, Status(), 0.0)
    plan = s.decide(0.0)
    s.on_published(plan, np.zeros((50, 2)), 0.0, 0.1)
    s.on_status(Status(step=45, active_chunk_id=1, index_in_chunk=45, remaining=5, merged_count=1,
                       last_d_real=3), 1.5)
    assert s.decide(1.5) is None and s.phase is Phase.PAUSED and CAMERA in s.detail
    assert s.decide(1.6) is None and s.counts.paused == 1
    s.on_input(CAMERA, 1.7)
    s.on_status(Status(step=51, active_chunk_id=0, remaining=0, merged_count=1, last_d_real=3), 1.7)
    assert s.decide(1.7) is not None


def test_a_silent_executor_pauses_inference():
    s = scheduler(observation_timeout_s=0.5)
    feed(s, Status(), 0.0)
    s.decide(0.0)
    s.on_input(CAMERA, 2.0)
    assert s.decide(2.0) is None and s.phase is Phase.PAUSED and "executor status" in s.detail


def test_errors_back_off_and_only_a_new_error_is_reported_as_new():
    s = scheduler(error_backoff_s=1.0)
    feed(s, Status(), 0.0)
    assert s.decide(0.0) is not None
    assert s.on_error("RuntimeError: boom", 0.0) is True
    assert s.decide(0.5) is None and s.phase is Phase.BACKING_OFF
    feed(s, Status(step=35), 1.2)
    assert s.decide(1.2) is not None
    assert s.on_error("RuntimeError: boom", 1.2) is False  # the same error again: count it
    assert s.on_error("ValueError: other", 2.5) is True and s.counts.errors == 3


@pytest.mark.parametrize("bad", [dict(trigger_remaining=-1), dict(delay_window=0), dict(observation_timeout_s=-1.0),
                                 dict(delay_percentile=101.0), dict(merge_wait_s=float("nan"))])
def test_bad_settings_name_the_setting(bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        SchedulerSettings(**bad)


def test_with_a_frame_input_the_inference_starts_at_the_last_frame_before_the_trigger():
    frame_period = 0.040  # 25 fps against 30 Hz ticks: the two grids drift through every phase
    for offset in np.linspace(0.0, frame_period, 7, endpoint=False):
        s = InferenceScheduler(SchedulerSettings(trigger_remaining=10), inputs=[CAMERA], frame_input=CAMERA)
        s.on_status(Status(step=0), 0.0)
        s.on_input(CAMERA, 0.0)
        s.on_published(s.decide(0.0), np.zeros((50, 2)), 0.0, 0.01)
        events = sorted([(k * T, "tick", k) for k in range(1, 50)]
                        + [(offset + j * frame_period, "frame", j) for j in range(1, 40)])
        started = None
        for now, kind, k in events:
            if kind == "tick":
                s.on_status(Status(step=k, active_chunk_id=1, index_in_chunk=k, remaining=50 - k, merged_count=1,
                                   last_d_real=1), now)
            else:
                s.on_input(CAMERA, now)
            if s.decide(now) is not None:
                started = (now, kind)
                break
        trigger_at = 40 * T  # remaining 10 at tick 40
        assert started is not None
        start, _ = started
        # the newest frame at the start is the last one before the trigger, at most a frame period early
        frames = [offset + j * frame_period for j in range(1, 40)]
        assert start == pytest.approx(max(f for f in frames if f <= trigger_at + 1e-9)), (offset, started)


def test_input_ages_are_seconds_since_each_input_arrived():
    s = scheduler()
    assert s.input_ages(5.0) == {CAMERA: float("inf")}
    s.on_input(CAMERA, 4.25)
    assert s.input_ages(5.0) == {CAMERA: 0.75}


def chunk_after(s: InferenceScheduler, plan, step: int, now: float):
    """Publish `plan`'s chunk (50 rows), have the executor merge it at `step` and run it down to the
    trigger; the next plan."""
    chunk_id = s.on_published(plan, np.zeros((50, 2)), now, now + T)
    merged_count = chunk_id
    feed(s, Status(step=step, active_chunk_id=chunk_id, remaining=50, merged_count=merged_count, last_d_real=1),
         step * T)
    trigger = step + 50 - s.settings.trigger_remaining
    feed(s, Status(step=trigger, active_chunk_id=chunk_id, index_in_chunk=trigger - step,
                   remaining=s.settings.trigger_remaining, merged_count=merged_count, last_d_real=1), trigger * T)
    return s.decide(trigger * T), trigger


@pytest.mark.parametrize("guidance, rows", [("executed", 2), ("free", None), ("follow", 50 - 25)])
def test_the_chunk_after_the_first_after_rest_follows_it_as_configured(guidance: str, rows: int | None):
    # The first chunk had no motion to continue. "executed": the second follows only the rows the arm
    # runs before it arrives (the delay estimate, 2 here: d_real 1 + the margin); "free": none of it;
    # "follow": its whole leftover. The third follows the second in every case.
    s = scheduler(first_chunk_guidance=guidance, delay_warmup=0)
    feed(s, Status(step=0), 0.0)
    first = s.decide(0.0)
    assert first.leftover is None and not first.in_motion
    second, step = chunk_after(s, first, 1, T)
    assert second.in_motion
    assert (None if second.leftover is None else len(second.leftover)) == rows
    assert (second.prev_chunk_id, second.prev_chunk_row) == ((0, 0) if rows is None else (1, 25))  # row at the trigger
    # only an "executed" chunk is compared with its unguided sample (first_chunk_max_disagreement)
    assert second.max_disagreement == (s.settings.first_chunk_max_disagreement if guidance == "executed" else 0.0)
    assert first.max_disagreement == 0.0
    third, _ = chunk_after(s, second, step + 2, (step + 1) * T)
    assert third.leftover is not None and len(third.leftover) == 25 and third.prev_chunk_id == 2
    assert third.max_disagreement == 0.0


@pytest.mark.parametrize("value", [-0.1, float("nan"), float("inf")])
def test_first_chunk_max_disagreement_must_be_a_non_negative_number(value: float):
    with pytest.raises(ValueError, match="first_chunk_max_disagreement must be a non-negative number, got"):
        SchedulerSettings(first_chunk_max_disagreement=value)


def test_first_chunk_guidance_must_be_known():
    with pytest.raises(ValueError, match="first_chunk_guidance must be one of executed, free, follow"):
        SchedulerSettings(first_chunk_guidance="sometimes")


def test_the_delay_is_capped_by_the_rows_the_executor_has_queued():
    s = scheduler(trigger_remaining=10)
    feed(s, Status(step=0), 0.0)
    s.on_published(s.decide(0.0), np.zeros((20, 2)), 0.0, 0.0)
    for d_real in (8, 8):  # an estimate of 9 ticks (8 + margin 1) once the warm-up sample is out
        feed(s, Status(step=30, active_chunk_id=1, remaining=10, merged_count=s.counts.chunks, last_d_real=d_real), T)
        plan = s.decide(T)
        s.on_published(plan, np.zeros((20, 2)), T, T)
    assert s.delay_estimate == 9
    feed(s, Status(step=40, active_chunk_id=2, index_in_chunk=14, remaining=6, merged_count=3, last_d_real=8), 2 * T)
    plan = s.decide(2 * T)
    assert plan.delay == 6  # it cannot skip rows it does not have


def test_on_hold_the_rows_do_not_advance_between_statuses():
    s = scheduler(trigger_remaining=10, first_chunk_guidance="follow")
    feed(s, Status(step=0), 0.0)
    s.on_published(s.decide(0.0), np.zeros((40, 2)), 0.0, 0.0)
    status = Status(step=5, active_chunk_id=1, index_in_chunk=30, remaining=10, merged_count=1, last_d_real=0,
                    on_hold=True)
    feed(s, status, 5 * T)
    plan = s.decide(8 * T)  # three ticks after the status: on hold, still row 30
    assert plan.source_step == 8 and plan.prev_chunk_row == 30 and len(plan.leftover) == 10


def test_a_reset_forgets_the_chunk_awaiting_a_decision_and_outdates_plans():
    s = scheduler()
    feed(s, Status(step=0), 0.0)
    plan = s.decide(0.0)
    s.on_published(plan, np.zeros((20, 2)), 0.0, 0.0)
    assert s.decide(T) is None and s.phase is Phase.AWAITING_MERGE
    feed(s, Status(step=2, epoch=1), 2 * T)
    assert not s.current(plan)
    again = s.decide(2 * T)  # no wait for the chunk the reset refuses: a new one at once
    assert again is not None and again.epoch == 1 and s.current(again)
