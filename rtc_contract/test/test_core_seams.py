"""rtc_contract.seams: the one seam definition of the evaluation and the report, on commanded steps and on
measured motion, checked on signals whose answers are known."""
import numpy as np
import pytest

from rtc_contract.seams import (
    SERVO_RESOLUTION_RAD,
    measured_motion,
    near_seams,
    seam_and_inner_steps,
    seam_jerk,
    seam_ratio,
)

TICK = SERVO_RESOLUTION_RAD


def test_steps_split_at_chunk_changes_on_the_largest_joint():
    actions = np.array([[0.0, 0.0], [0.01, 0.0], [0.02, -0.05], [0.03, -0.05], [0.03, -0.04]])
    seams, inner = seam_and_inner_steps(actions, [1, 1, 2, 2, 2])
    np.testing.assert_allclose(seams, [0.05])
    np.testing.assert_allclose(inner, [0.01, 0.01, 0.01])


def test_ratio_is_largest_seam_over_p99_inner_and_nan_without_inner_steps():
    assert seam_ratio(0.05, np.full(100, 0.01)) == pytest.approx(5.0)
    assert np.isnan(seam_ratio(0.05, np.empty(0)))


def test_a_long_rest_does_not_turn_a_smooth_seam_into_a_jump():
    # 9 s of motion in 0.01 rad steps, then ten minutes holding with sub-tick command jitter
    rng = np.random.default_rng(0)
    inner = np.concatenate([np.full(270, 0.01), rng.uniform(0, 0.3 * TICK, 18_000)])
    assert seam_ratio(0.01, inner) == pytest.approx(1.0)
    assert seam_ratio(0.5 * TICK, inner[270:]) <= 1.0  # all at rest: the floor, not the jitter, divides


def test_too_short_and_mismatched_inputs():
    seams, inner = seam_and_inner_steps(np.zeros((1, 6)), [3])
    assert seams.size == 0 and inner.size == 0
    with pytest.raises(ValueError, match="3 actions but 2 chunk ids"):
        seam_and_inner_steps(np.zeros((3, 6)), [1, 2])


def _uneven_stamps(duration: float, rate: float, seed: int = 0) -> np.ndarray:
    """Stamps of a `rate` Hz publisher with 20 % jitter, some repeated (a message published twice)."""
    rng = np.random.default_rng(seed)
    times = np.arange(0.0, duration, 1 / rate) + rng.uniform(-0.1, 0.1, int(np.ceil(duration * rate))) / rate
    return np.sort(np.concatenate([times, times[::17]]))


def test_constant_acceleration_reads_its_acceleration_and_no_jerk_despite_uneven_stamps():
    times = _uneven_stamps(3.0, 100.0)
    positions = np.column_stack([0.5 * 2.0 * times**2, 0.3 - 0.5 * 0.4 * times**2])  # 2 and -0.4 rad/s^2
    motion = measured_motion(times[::-1], positions[::-1])  # arrival order does not matter
    assert motion.interval_s == pytest.approx(0.01, rel=0.05)
    np.testing.assert_allclose(motion.velocity[:, 0], 2.0 * motion.times, atol=0.01)
    np.testing.assert_allclose(motion.acceleration, np.tile([2.0, -0.4], (len(motion.times), 1)), atol=0.1)
    assert np.abs(motion.jerk).max() < 0.05 * motion.jerk_floor
    # an exact grid reads exactly: the fit is exact on cubics
    exact = measured_motion(np.arange(300) / 100, (np.arange(300) / 100)[:, None] ** 3)
    np.testing.assert_allclose(exact.jerk, 6.0, rtol=1e-6)


def test_a_step_at_a_seam_reads_as_a_jump_and_is_located_there():
    times = np.arange(0.0, 4.0, 0.01)
    positions = np.where(times < 2.0, 0.0, 0.1)[:, None] + 0.02 * times[:, None]  # steady motion, one jump
    motion = measured_motion(times, positions)
    jerk = seam_jerk(motion, np.array([1.0, 2.0, 3.0]))
    assert jerk.ratio > 10 and jerk.seam_max > 10 * motion.jerk_floor
    peak = motion.times[np.argmax(np.abs(motion.jerk[:, 0]))]
    assert abs(peak - 2.0) <= 0.05
    # the same seam left out of the count: the others are as smooth as the motion between them
    assert seam_jerk(motion, np.array([1.0, 2.0, 3.0]), np.array([True, False, True])).ratio <= 1.0


def test_rest_with_one_tick_of_noise_is_not_a_jump():
    # a servo holding between two encoder ticks: readings flicker by one tick at random
    rng = np.random.default_rng(1)
    times = _uneven_stamps(10.0, 100.0, seed=1)
    positions = (1000 + rng.integers(0, 2, (len(times), 6))) * TICK
    motion = measured_motion(times, positions)
    assert np.abs(motion.velocity).max() <= motion.velocity_floor
    assert np.abs(motion.jerk).max() <= motion.jerk_floor
    assert seam_jerk(motion, np.arange(0.5, 10.0, 0.5)).ratio <= 1.0
    # the same flicker on 30 Hz commands, chunks of 15
    commands = (1000 + rng.integers(0, 2, (300, 6))) * TICK
    seams, inner = seam_and_inner_steps(commands, np.arange(300) // 15)
    assert seam_ratio(seams.max(), inner) <= 1.0


def test_gaps_split_the_signal_and_bad_samples_are_dropped():
    times = np.concatenate([np.arange(0.0, 1.0, 0.01), np.arange(3.0, 4.0, 0.01)])  # a 2 s silence
    positions = np.column_stack([times * 0.5])
    positions[50] = np.nan
    motion = measured_motion(times, positions)
    assert not ((motion.times > 1.0) & (motion.times < 3.0)).any()  # nothing invented in the gap
    np.testing.assert_allclose(motion.velocity, 0.5, atol=1e-9)
    assert np.isfinite(motion.jerk).all()
    with pytest.raises(ValueError, match=r"shape \(3,\) for 3 times"):
        measured_motion(np.arange(3.0), np.zeros(3))
    empty = measured_motion(np.empty(0), np.empty((0, 6)))
    assert empty.times.size == 0 and empty.jerk.shape == (0, 6)
    assert np.isnan(seam_jerk(empty, np.array([1.0])).ratio)


def test_a_seam_window_reaches_further_after_the_seam_than_before():
    times = np.arange(0.025, 3.0, 0.05)  # no sample on a window's edge
    near = near_seams(times, np.array([2.0, 1.0]), (0.1, 0.3))
    np.testing.assert_array_equal(near, ((times > 0.9) & (times < 1.3)) | ((times > 1.9) & (times < 2.3)))
    assert not near_seams(times, np.empty(0)).any()
