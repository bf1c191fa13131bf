"""ActionQueue: unit cases, LeRobot's ActionQueue as the oracle, properties, threads, no torch."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtc_contract.modes import MergeMode
from rtc_contract.rejections import RejectionCode
from rtc_executor.core.action_queue import CONSUMED_HISTORY_TICKS, ActionQueue

DIM = 3


def tagged_chunk(chunk_id: int, source_step: int, length: int) -> np.ndarray:
    """Rows tagged with the tick they are meant for (column 0) and their chunk (column 1)."""
    chunk = np.zeros((length, DIM))
    chunk[:, 0] = source_step + np.arange(length)
    chunk[:, 1] = chunk_id
    chunk[:, 2] = np.random.default_rng(chunk_id).normal(size=length)
    return chunk


def test_rtc_merge_skips_the_rows_whose_tick_passed():
    queue = ActionQueue(DIM)
    assert queue.merge(1, tagged_chunk(1, 0, 10), source_step=0, step_now=0).accepted
    for _ in range(4):
        queue.pop()
    result = queue.merge(2, tagged_chunk(2, 1, 10), source_step=1)  # arrives at step 4
    assert result[:3] == (True, 3, None)
    assert queue.leftover() == (4, 2, 3, 7)
    popped = queue.pop()
    assert popped.step == 4 and popped.chunk_id == 2 and popped.index == 3
    assert popped.action[0] == 4


@pytest.mark.parametrize("mode", list(MergeMode))
def test_every_uint64_chunk_id_is_kept_exactly(mode):
    """ActionChunk.chunk_id is uint64: the largest (a hostile chunk's) neither raises nor wraps."""
    queue = ActionQueue(DIM, mode=mode)
    top = 2**64 - 1
    assert queue.merge(top - 1, tagged_chunk(1, 0, 3), source_step=0, step_now=0).accepted
    assert queue.merge(top, tagged_chunk(2, 0, 3), source_step=0, step_now=0).accepted
    assert {queue.pop().chunk_id for _ in range(6 if mode is MergeMode.APPEND else 3)} >= {top}
    assert queue.leftover().chunk_id is None


def test_rejections_are_counted_with_reasons():
    queue = ActionQueue(DIM, start_step=100)
    assert queue.merge(1, tagged_chunk(1, 95, 10), 95).accepted
    assert queue.merge(2, tagged_chunk(2, 90, 20), 90).reason is RejectionCode.OUT_OF_ORDER
    assert queue.merge(1, tagged_chunk(1, 95, 10), 95).reason is RejectionCode.OUT_OF_ORDER
    assert queue.merge(3, tagged_chunk(3, 101, 10), 101).reason is RejectionCode.FUTURE
    assert queue.merge(4, tagged_chunk(4, 96, 4), 96)[:3] == (False, 4, RejectionCode.STALE)
    bad = tagged_chunk(5, 99, 10)
    bad[2, 1] = np.nan
    assert queue.merge(5, bad, 99).reason is RejectionCode.NON_FINITE
    counters = queue.counters()
    assert counters.merged == 1
    assert counters.rejected == {"out_of_order": 2, "future": 1, "stale": 1, "non_finite": 1}
    assert queue.leftover().chunk_id == 1


def test_wrong_shape_is_an_error():
    queue = ActionQueue(DIM)
    for shape in ((10, DIM + 1), (0, DIM), (DIM,)):
        with pytest.raises(ValueError, match=r"actions must be \(length >= 1, 3\)"):
            queue.merge(1, np.zeros(shape), 0)
    with pytest.raises(ValueError, match="merge mode"):
        ActionQueue(DIM, mode="blend")


def test_underrun_holds_the_last_action_and_counts():
    queue = ActionQueue(DIM)
    first = queue.pop()
    assert first.action is None and first.command is None  # nothing to hold yet, not an underrun
    queue.merge(1, tagged_chunk(1, 1, 2), 1)
    last = [queue.pop(), queue.pop()][-1]
    for _ in range(3):
        held = queue.pop()
        assert held.action is None
        np.testing.assert_array_equal(held.command, last.action)
    assert queue.counters().underruns == 3
    np.testing.assert_array_equal(queue.last_action, last.action)
    assert queue.leftover() == (6, None, 0, 0)


def test_append_and_replace_modes():
    append = ActionQueue(DIM, MergeMode.APPEND)
    append.merge(1, tagged_chunk(1, 0, 4), 0)
    append.pop()
    append.merge(2, tagged_chunk(2, 0, 4), 1)  # d_real 1, nothing skipped
    assert append.leftover() == (1, 1, 1, 7)
    tags = [tuple(append.pop().action[:2]) for _ in range(7)]
    assert tags == [(1, 1), (2, 1), (3, 1), (0, 2), (1, 2), (2, 2), (3, 2)]
    replace = ActionQueue(DIM, MergeMode.REPLACE, start_step=5)
    replace.merge(1, tagged_chunk(1, 3, 4), 3)
    assert replace.leftover() == (5, 1, 0, 4)
    assert replace.merge(2, tagged_chunk(2, 0, 2), 0).reason is RejectionCode.OUT_OF_ORDER
    assert replace.merge(3, tagged_chunk(3, 4, 2), 4, step_now=50).accepted  # no staleness without skipping
    assert replace.pop().action[0] == 4  # row 0 first: 46 ticks late, by design of this mode


# ----------------------------------------------------------------------------------------------
# LeRobot's ActionQueue as the oracle


def lerobot_queue(enabled: bool):
    action_queue = pytest.importorskip("lerobot.policies.rtc.action_queue")
    from lerobot.policies.rtc.configuration_rtc import RTCConfig

    return action_queue.ActionQueue(RTCConfig(enabled=enabled))


@pytest.mark.parametrize("mode", [MergeMode.RTC, MergeMode.APPEND])
def test_same_pops_as_lerobot_given_lerobot_mains_clamped_delay(mode):
    """LeRobot 0.4.4's queue, merged with the delay LeRobot main (PR 4454) clamps it to,
    min(real_delay, actions consumed since the inference started), pops what ours pops."""
    torch = pytest.importorskip("torch")
    theirs = lerobot_queue(enabled=mode is MergeMode.RTC)
    ours = ActionQueue(DIM, mode)
    rng = np.random.default_rng(7)
    chunk_id, last_source, consumed_before = 0, 0, [0]  # consumed_before[k]: actions served before tick k
    for _ in range(400):
        step = ours.step
        if rng.random() < 0.15:
            length = int(rng.integers(1, 12))
            source = int(rng.integers(last_source, step + 1))
            clamped = min(step - source, consumed_before[step] - consumed_before[source])
            if mode is MergeMode.RTC and clamped >= length:
                continue  # stale: LeRobot would empty its queue, we reject (tested below)
            chunk_id, last_source = chunk_id + 1, source
            chunk = tagged_chunk(chunk_id, source, length)
            assert ours.merge(chunk_id, chunk, source).accepted
            tensor = torch.from_numpy(chunk)
            theirs.merge(tensor, tensor, clamped, action_index_before_inference=None)
        expected = theirs.get()
        got = ours.pop().action
        consumed_before.append(consumed_before[-1] + (got is not None))
        assert (got is None) == (expected is None)
        if got is not None:
            np.testing.assert_array_equal(got, expected.numpy())
        assert ours.leftover().remaining == theirs.qsize()


def test_cold_start_plays_the_first_chunk_from_row_0():
    """LeRobot issue 4223: the arm stood still while the first (slow) inference ran; skipping its
    d_real rows would command a pose 0.7 s deep into the chunk from standstill."""
    queue = ActionQueue(DIM)
    for _ in range(21):
        assert queue.pop().action is None  # no chunk yet: nothing consumed
    result = queue.merge(1, tagged_chunk(1, 0, 30), source_step=0)
    assert result.accepted and (result.d_real, result.skipped) == (21, 0)
    assert queue.pop().index == 0 and queue.leftover().remaining == 29


def test_hold_then_resume_skips_only_the_rows_played():
    queue = ActionQueue(DIM)
    queue.merge(1, tagged_chunk(1, 0, 20), 0)
    queue.pop(), queue.pop()  # rows 0, 1
    queue.hold()
    held = [queue.pop() for _ in range(5)]  # ticks 2..6: the arm holds row 1
    assert all(p.action is None and p.command[0] == 0 + 1 for p in held)
    assert queue.leftover() == (7, 1, 2, 18)  # the hold kept the queue
    queue.resume()
    assert queue.pop().index == 2  # tick 7 plays row 2: nothing was skipped
    # a chunk planned at tick 3 (on hold, leftover from row 2) arrives at tick 8: one row was played since
    result = queue.merge(2, tagged_chunk(2, 3, 20), source_step=3)
    assert (result.d_real, result.skipped) == (5, 1)
    assert queue.pop().index == 1
    counters = queue.counters()
    assert (counters.held, counters.underruns) == (5, 0)


def test_an_underrun_skips_only_the_rows_played_before_it():
    queue = ActionQueue(DIM)
    queue.merge(1, tagged_chunk(1, 0, 3), 0)
    for _ in range(6):
        queue.pop()  # rows 0..2, then three ticks of underrun
    result = queue.merge(2, tagged_chunk(2, 1, 10), source_step=1)  # planned at tick 1, 2 rows left
    assert (result.d_real, result.skipped) == (5, 2)


def test_reset_empties_the_queue_and_refuses_chunks_built_before_it():
    queue = ActionQueue(DIM)
    queue.merge(1, tagged_chunk(1, 0, 20), 0)
    queue.pop(), queue.pop()
    queue.reset()  # between ticks 1 and 2: the status of tick 2 was out already
    held = queue.pop()
    assert held.action is None and held.command[0] == 1 and queue.leftover().remaining == 0
    assert queue.merge(2, tagged_chunk(2, 2, 20), 2).reason is RejectionCode.PRE_RESET
    result = queue.merge(3, tagged_chunk(3, 3, 20), 3)
    assert result.accepted and result.skipped == 0
    counters = queue.counters()
    assert (counters.resets, counters.underruns, counters.rejected) == (1, 1, {"pre_reset": 1})


def test_a_source_step_older_than_the_history_counts_as_consumed():
    queue = ActionQueue(DIM)
    queue.merge(1, tagged_chunk(1, 0, 20), 0)
    for _ in range(CONSUMED_HISTORY_TICKS + 5):
        queue.pop()
    result = queue.merge(2, tagged_chunk(2, 2, CONSUMED_HISTORY_TICKS + 10), 2)
    assert result.skipped == result.d_real == CONSUMED_HISTORY_TICKS + 3


def test_differs_from_lerobot_on_purpose_when_the_estimate_is_wrong():
    """LeRobot skips its *estimated* delay; we skip the measured one, so we never replay the past."""
    torch = pytest.importorskip("torch")
    theirs, ours = lerobot_queue(enabled=True), ActionQueue(DIM, start_step=20)
    chunk = tagged_chunk(1, 15, 12)  # inference started at step 15, arrives at step 20
    estimated_delay = 3
    theirs.merge(torch.from_numpy(chunk), torch.from_numpy(chunk), estimated_delay, None)
    ours.merge(1, chunk, source_step=15)
    for _ in range(4):
        popped = ours.pop()
        assert popped.action[0] == popped.step  # the row meant for this tick
        assert theirs.get()[0].item() == popped.step - 2  # two ticks in the past: a jump back
    # And a stale chunk empties LeRobot's queue, while we keep executing the previous one.
    theirs.merge(torch.from_numpy(chunk[:3]), torch.from_numpy(chunk[:3]), 5, None)
    assert theirs.get() is None
    assert not ours.merge(2, tagged_chunk(2, 19, 3), 19, step_now=24).accepted
    assert ours.pop().action is not None


# ----------------------------------------------------------------------------------------------
# Properties

operations = st.lists(
    st.one_of(
        st.tuples(st.just("pop"), st.integers(1, 3)),
        st.tuples(st.just("merge"), st.integers(0, 12), st.integers(1, 15)),  # lag, length
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(mode=st.sampled_from(list(MergeMode)), ops=operations)
def test_queue_properties(mode, ops):
    queue = ActionQueue(DIM, mode, start_step=10)
    remaining, last_source, next_id, last_command, underruns = 0, None, 1, None, 0
    consumed = {10: 0}  # rows served before each tick
    for op in ops:
        if op[0] == "merge":
            _, lag, length = op
            source = queue.step - lag
            # rows played since source_step: all of them before the queue's first tick
            played = queue.step - source if source < 10 else consumed[queue.step] - consumed[source]
            skip = min(lag, played) if mode is MergeMode.RTC else 0
            result = queue.merge(next_id, tagged_chunk(next_id, source, length), source)
            expect_accept = (last_source is None or source >= last_source) and skip < length
            assert result.accepted == expect_accept and result.d_real == lag
            if result.accepted:
                assert result.skipped == skip
                last_source = source
                remaining = {MergeMode.RTC: length - skip, MergeMode.REPLACE: length}.get(mode, remaining + length)
            next_id += 1
        else:
            for _ in range(op[1]):
                popped = queue.pop()
                consumed[queue.step] = consumed[popped.step] + (popped.action is not None)
                if popped.action is None:
                    assert remaining == 0
                    underruns += last_command is not None
                    # Never jump on underrun: hold exactly what was commanded last.
                    assert (popped.command is None) == (last_command is None)
                    if last_command is not None:
                        np.testing.assert_array_equal(popped.command, last_command)
                else:
                    remaining -= 1
                    if mode is MergeMode.RTC:  # never an action from the past: at most its tick
                        assert popped.action[0] <= popped.step
                    assert popped.action[1] == popped.chunk_id
                    assert popped.action[0] == last_source_of(popped) + popped.index
                last_command = popped.command
        leftover = queue.leftover()
        assert leftover.remaining == remaining
        assert queue.counters().underruns == underruns


def last_source_of(popped) -> int:
    """source_step of the popped row's chunk, recovered from its tag."""
    return int(popped.action[0]) - popped.index


def test_one_producer_one_consumer_threads():
    queue, chunks, errors, held = ActionQueue(DIM), 300, [], False

    def produce():
        rng = np.random.default_rng(1)
        for chunk_id in range(1, chunks + 1):
            source = max(queue.step - int(rng.integers(0, 4)), 0)
            queue.merge(chunk_id, tagged_chunk(chunk_id, source, 20), source)

    queue.merge(0, tagged_chunk(0, 0, 20), 0)  # in motion from tick 0: each tick then plays its own row
    producer = threading.Thread(target=produce)
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # interleave the two threads finely
    try:
        producer.start()
        while producer.is_alive():
            popped = queue.pop()
            held = held or popped.action is None  # after a hold, rows are played later than their tick
            if popped.action is not None and popped.action[0] > popped.step or not held and popped.action[0] != popped.step:
                errors.append((popped.step, popped.action[0]))
        producer.join()
    finally:
        sys.setswitchinterval(switch_interval)
    counters = queue.counters()
    assert not errors
    assert counters.merged + sum(counters.rejected.values()) == chunks + 1
    assert counters.merged > 0 and counters.pops > 0


def test_missed_ticks_advance_the_step_and_discard_their_rows():
    queue = ActionQueue(DIM)
    queue.merge(1, tagged_chunk(1, 0, 20), 0)
    queue.pop()
    popped = queue.pop(missed=3)  # ticks 1, 2, 3 were missed
    assert popped.step == 4 and popped.index == 4 and popped.action[0] == 4  # row k at tick k
    counters = queue.counters()
    assert (counters.missed, counters.dropped, counters.stalls) == (3, 3, 0)


def test_missed_rows_can_be_kept_and_played_late():
    queue = ActionQueue(DIM, missed_rows="keep")
    queue.merge(1, tagged_chunk(1, 0, 20), 0)
    queue.pop()
    popped = queue.pop(missed=3)
    assert popped.step == 4 and popped.index == 1  # late by the 3 missed ticks
    assert queue.merge(2, tagged_chunk(2, 4, 20), 4).accepted  # the next rtc merge re-anchors
    assert queue.pop().index == 1 and queue.pop().step == 6


def test_a_long_stall_empties_the_queue_until_a_fresh_chunk():
    queue = ActionQueue(DIM, stall_ticks=10)
    queue.merge(1, tagged_chunk(1, 0, 50), 0)
    queue.pop()
    held = queue.pop(missed=60)  # two seconds at 30 Hz
    assert held.action is None and held.step == 61 and queue.leftover().remaining == 0
    assert queue.merge(2, tagged_chunk(2, 40, 50), 40).reason is RejectionCode.PRE_STALL
    assert queue.merge(3, tagged_chunk(3, 61, 50), 61).accepted
    counters = queue.counters()
    assert counters.stalls == 1 and counters.dropped == 49 and counters.rejected == {"pre_stall": 1}


def test_bad_missed_rows_or_stall_ticks():
    with pytest.raises(ValueError, match="unknown missed_rows"):
        ActionQueue(DIM, missed_rows="replay")
    with pytest.raises(ValueError, match="stall_ticks"):
        ActionQueue(DIM, stall_ticks=0)


def test_a_merge_is_timed_as_action_queue_merge_while_profiling(profiler):
    queue = ActionQueue(DIM)
    assert queue.merge(1, tagged_chunk(1, 0, 10), source_step=0, step_now=0).accepted
    stats = profiler.get_profiling_stats()
    assert stats["get_actions.action_queue_merge"]["count"] == 1
