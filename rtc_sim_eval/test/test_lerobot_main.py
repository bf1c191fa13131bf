"""LeRobot main's merge and latency rules (rtc_sim_eval.lerobot_main) against their definitions:
the merge skips min(real_delay, consumed), the leftover handed to guidance is padded with its last
action, the first (cold) inference does not count toward the delay; where the rows consumed equal the
real delay, main's queue does what LeRobot 0.4.4's ActionQueue (the oracle) does."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from lerobot.policies.rtc.action_queue import ActionQueue
from lerobot.policies.rtc.configuration_rtc import RTCConfig

from rtc_sim_eval.lerobot_main import MainActionQueue, MainLatency, guidance_prefix, merge_skip

PERIOD = 1 / 30


def chunk(length: int, offset: float = 0.0) -> np.ndarray:
    return (np.arange(length * 2, dtype=np.float32).reshape(length, 2) + offset)


@pytest.mark.parametrize(("real", "consumed", "length", "skip"), [
    (6, 6, 50, 6), (6, 2, 50, 2), (6, 0, 50, 0), (2, 6, 50, 2), (60, 60, 50, 50), (-3, 4, 50, 0), (5, -1, 50, 0)])
def test_merge_skip_is_min_of_real_delay_and_consumed_within_the_chunk(real, consumed, length, skip) -> None:
    assert merge_skip(real, consumed, length) == skip


def test_the_first_chunk_plays_from_row_0_whatever_its_latency() -> None:
    queue = MainActionQueue()
    assert queue.get() is None and queue.qsize() == 0 and queue.get_left_over() is None
    assert queue.merge(chunk(50), chunk(50, 100), real_delay=30, index_before=queue.get_action_index()) == 0
    np.testing.assert_array_equal(queue.get(), chunk(50, 100)[0])  # 0.4.4 would have jumped to row 30


def test_an_underrun_during_inference_skips_only_what_was_consumed() -> None:
    queue = MainActionQueue()
    queue.merge(chunk(10), chunk(10), 0, 0)
    for _ in range(7):
        queue.get()
    before = queue.get_action_index()
    np.testing.assert_array_equal(queue.get_left_over(), chunk(10)[7:])
    for _ in range(6):  # 3 rows left, then the queue runs dry: 3 consumed during a 6-tick inference
        queue.get()
    assert queue.merge(chunk(50, 1000), chunk(50, 2000), real_delay=6, index_before=before) == 3
    assert queue.qsize() == 47
    np.testing.assert_array_equal(queue.get(), chunk(50, 2000)[3])
    np.testing.assert_array_equal(queue.get_left_over(), chunk(50, 1000)[4:])  # leftovers: the policy's output


def test_where_consumed_equals_the_real_delay_it_merges_as_lerobot_044() -> None:
    ours, theirs = MainActionQueue(), ActionQueue(RTCConfig(enabled=True))
    first = chunk(50)
    ours.merge(first, first + 1, 0, 0)
    theirs.merge(torch.from_numpy(first), torch.from_numpy(first + 1), 0, 0)
    before = (ours.get_action_index(), theirs.get_action_index())
    for _ in range(5):
        np.testing.assert_array_equal(ours.get(), theirs.get().numpy())
    second = chunk(50, 500)
    ours.merge(second, second + 1, 5, before[0])
    theirs.merge(torch.from_numpy(second), torch.from_numpy(second + 1), 5, before[1])
    np.testing.assert_array_equal(ours.get_left_over(), theirs.get_left_over().numpy())
    assert ours.qsize() == theirs.qsize() == 45
    np.testing.assert_array_equal(ours.get(), theirs.get().numpy())


def test_the_guidance_prefix_is_padded_with_the_last_action_or_cut() -> None:
    leftover = chunk(4)
    prefix = guidance_prefix(leftover, 10)
    assert prefix.shape == (10, 2)
    np.testing.assert_array_equal(prefix[:4], leftover)
    np.testing.assert_array_equal(prefix[4:], np.repeat(leftover[-1:], 6, axis=0))  # never zeros
    np.testing.assert_array_equal(guidance_prefix(chunk(30), 10), chunk(30)[:10])
    assert guidance_prefix(None, 10) is None and guidance_prefix(chunk(0), 10) is None


def test_the_cold_first_inference_is_excluded_from_the_delay_estimate() -> None:
    latency = MainLatency()
    assert latency.delay_ticks(PERIOD) == 0
    latency.add(30.5 * PERIOD)  # the cold start
    assert latency.delay_ticks(PERIOD) == 0
    latency.add(5.5 * PERIOD)
    latency.add(3.5 * PERIOD)
    assert latency.delay_ticks(PERIOD) == 6  # the largest since the cold one, in whole periods (ceil)
    latency.add(-1.0)  # ignored, as LatencyTracker.add ignores it
    assert latency.delay_ticks(PERIOD) == math.ceil(5.5)
