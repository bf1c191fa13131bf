"""FrameClock and the start-at-a-frame decision (pure, no wall clock)."""
from __future__ import annotations

import pytest

from rtc_policy_node.core.frame_clock import FrameClock, starts_at_this_frame



def test_frame_period_is_the_median_interval_and_a_late_frame_does_not_move_it():
    clock = FrameClock(intervals=5)
    assert clock.next_arrival() is None
    for k in range(6):
        clock.observe(10.0 + k * 0.033)
    assert clock.period_s == pytest.approx(0.033)
    clock.observe(10.0 + 5 * 0.033 + 0.120)  # one frame 120 ms late
    assert clock.period_s == pytest.approx(0.033)
    assert clock.next_arrival() == pytest.approx(10.0 + 5 * 0.033 + 0.120 + 0.033)


def test_a_repeated_or_older_arrival_adds_no_interval():
    clock = FrameClock()
    clock.observe(1.0)
    clock.observe(1.0)
    assert clock.period_s is None
    clock.observe(1.05)
    assert clock.period_s == pytest.approx(0.05)


def test_starts_at_the_last_frame_before_the_trigger():
    # trigger at remaining 25; its tick comes at 66.7 ms; frames every 33 ms
    assert not starts_at_this_frame(27, 25, trigger_at_s=0.0667, next_frame_s=0.033)
    # the trigger tick comes at 33.3 ms and the next frame in 40 ms: this frame is the last before it
    assert starts_at_this_frame(26, 25, trigger_at_s=0.0333, next_frame_s=0.040)
    # the next frame comes first (20 ms): wait for it
    assert not starts_at_this_frame(26, 25, trigger_at_s=0.0333, next_frame_s=0.020)


def test_at_or_past_the_trigger_it_always_starts_and_unknown_timing_never_starts_early():
    assert starts_at_this_frame(25, 25, trigger_at_s=None, next_frame_s=None)
    assert starts_at_this_frame(3, 25, trigger_at_s=1.0, next_frame_s=0.001)
    assert not starts_at_this_frame(26, 25, trigger_at_s=None, next_frame_s=0.04)
    assert not starts_at_this_frame(26, 25, trigger_at_s=0.03, next_frame_s=None)
