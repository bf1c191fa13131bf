"""ExecutorClock: the executor's tick from status arrival times, robust to late and bunched statuses."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtc_policy_node.core.executor_clock import ExecutorClock

T = 1 / 30


def status_time(step: int, t0: float = 5.0, phase: float = 0.001) -> float:
    """When the status naming `step` as the next tick is sent: just after tick step - 1 ran."""
    return t0 + (step - 1) * T + phase


def true_step(now: float, t0: float = 5.0) -> int:
    """The tick the executor serves next at `now` (ticks run at t0 + k * T)."""
    return int((now - t0) // T) + 1


def test_before_any_status_there_is_no_estimate():
    assert ExecutorClock().step_at(1.0) is None


def test_on_time_statuses_give_the_current_tick():
    clock = ExecutorClock()
    for step in range(100, 130):
        clock.observe(step, T, status_time(step) + 0.0005)
    for now in (status_time(130) - 0.01, status_time(131) + 0.01, status_time(134) + 0.02):
        assert clock.step_at(now) == true_step(now)


def test_a_burst_of_late_statuses_does_not_make_the_estimate_lag():
    # 150 ms of nothing, then the queued statuses arrive within 3 ms: the policy node must not take
    # the first of them as "now" (measured at start-up in the simulated graph).
    clock = ExecutorClock()
    for step in range(100, 120):
        clock.observe(step, T, status_time(step) + 0.001)
    burst_at = status_time(125) + 0.150
    for i, step in enumerate(range(120, 126)):
        clock.observe(step, T, burst_at + 0.0005 * i)
        assert clock.step_at(burst_at + 0.0005 * i) == true_step(burst_at + 0.0005 * i)
    assert clock.step_at(burst_at) - 120 >= 4


def test_the_estimate_is_never_ahead_of_the_executor():
    clock = ExecutorClock()
    for step in range(10, 40):
        clock.observe(step, T, status_time(step) + 0.0002)
        for dt in (0.0, 0.005, 0.02, 0.0332):
            now = status_time(step) + 0.0002 + dt
            assert clock.step_at(now) <= true_step(now)


def test_never_before_the_last_status_even_with_a_stale_window():
    clock = ExecutorClock()
    clock.observe(10, T, 1.0)
    clock.observe(11, T, 1.0 + T - 0.004)  # arrives a little early relative to the first
    assert clock.step_at(1.0 + T - 0.004) >= 11


def test_missed_deadlines_are_followed_once_the_window_has_passed():
    # The executor skips two deadlines: its ticks fall two periods behind the time grid.
    clock = ExecutorClock(window_s=1.0)
    for step in range(0, 60):
        clock.observe(step, T, status_time(step))
    for step in range(60, 120):
        clock.observe(step, T, status_time(step + 2))
    now = status_time(121) + 0.01
    assert clock.step_at(now) == true_step(now) - 2


def test_a_restarted_executor_or_a_new_rate_starts_over():
    clock = ExecutorClock()
    for step in range(500, 520):
        clock.observe(step, T, status_time(step))
    clock.observe(3, T, status_time(520))  # a new executor counts from 0 again
    assert clock.step_at(status_time(520) + 0.001) == 3
    clock.observe(4, 0.01, status_time(521))
    assert clock.step_at(status_time(521) + 0.015) == 5


def test_the_time_of_a_later_tick_is_on_the_grid_not_now_plus_whole_ticks():
    """The frame-aligned start compares a trigger tick's time with the next frame's: it must be the
    tick grid's time, whatever the phase of `now` within a tick."""
    clock = ExecutorClock()
    assert clock.time_of(10) is None
    for step in range(100, 130):
        clock.observe(step, T, status_time(step) + 0.0005)
    assert clock.time_of(140) == pytest.approx(status_time(140) + 0.0005)
    assert clock.step_at(clock.time_of(140) + 1e-6) == 140


@pytest.mark.parametrize("window_s", [0.0, -1.0, float("nan")])
def test_bad_window_is_an_error(window_s):
    with pytest.raises(ValueError, match="window_s"):
        ExecutorClock(window_s)


def test_bad_period_is_an_error():
    with pytest.raises(ValueError, match="period_s"):
        ExecutorClock().observe(1, 0.0, 1.0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=0.2), min_size=40, max_size=120))
def test_any_delivery_delays_give_an_estimate_between_the_last_status_and_the_truth(delays):
    """Any non-negative delays (arrival order kept): last status step <= estimate <= true tick."""
    clock = ExecutorClock()
    arrival = 0.0
    for i, delay in enumerate(delays):
        step = 100 + i
        arrival = max(arrival, status_time(step) + delay)  # one DDS reader delivers in order
        clock.observe(step, T, arrival)
        assert step <= clock.step_at(arrival) <= true_step(arrival)
