"""Interpolated control: the sub-tick commands between policy rows (core.interpolation) and the
executor core ticking N times per policy tick with them (queue, guard and seams in policy ticks)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtc_executor.core.action_queue import ActionQueue
from rtc_executor.core.chunk_admission import ChunkAdmission
from rtc_executor.core.command_guard import CommandGuard, GuardLimits
from rtc_executor.core.executor_core import ExecutorCore
from rtc_executor.core.interpolation import Interpolator
from test_core_executor_core import JOINTS, RATE, START, chunk, make_core, ramp

UNBOUNDED = dict(max_velocity=[1e6], max_acceleration=[1e12], tolerance=0.05, max_seam=100.0)


def interpolated_core(factor: int, mode: str = "hermite", **guard) -> ExecutorCore:
    bounds = {**UNBOUNDED, **guard}
    limits = GuardLimits.from_parameters(3, RATE * factor, interpolation=factor, **bounds)
    return ExecutorCore(JOINTS, ActionQueue(3, "rtc", stall_ticks=6), CommandGuard(limits),
                        ChunkAdmission(max_length=50, source_timeout_s=1.0), Interpolator(factor, mode))


def play(core: ExecutorCore, ticks: int) -> np.ndarray:
    return np.array([core.tick().command for _ in range(ticks)])


def walk(rng: np.random.Generator, length: int) -> np.ndarray:
    return START + np.cumsum(rng.normal(0.0, 0.02, (length, 3)), axis=0)


@pytest.mark.parametrize("bad, words", [
    (dict(factor=0), "interpolation must be an integer >= 1"),
    (dict(factor=2.5), "interpolation must be an integer >= 1"),
    (dict(factor=True), "interpolation must be an integer >= 1"),
    (dict(factor=2, mode="spline"), "expected one of linear, hermite"),
])
def test_bad_arguments_say_what_is_allowed(bad, words):
    with pytest.raises(ValueError, match=words):
        Interpolator(**bad)
    with pytest.raises(ValueError, match=r"sub-tick k must be in \[0, 3\)"):
        Interpolator(3).command(3)


@pytest.mark.parametrize("mode", ["linear", "hermite"])
def test_factor_1_reproduces_the_commands_of_row_by_row_playback(mode):
    missed = np.random.default_rng(1).integers(0, 2, 10)
    plain, one = make_core(), interpolated_core(1, mode, max_velocity=[4.5], max_acceleration=[40.0],
                                                lower=[-1.0], upper=[1.0], max_seam=0.3)
    commands = {}
    for core in (plain, one):
        core.start_from(START)
        out = [core.tick()]
        rows = walk(np.random.default_rng(1), 40)
        out.append(core.receive(chunk(1, core.queue.step, rows), 0.0))
        out += [core.tick(missed=int(m)) for m in missed]
        out.append(core.receive(chunk(2, core.queue.step - 2, rows[5:]), 0.0))
        out += [core.tick() for _ in range(40)]  # into underrun
        commands[id(core)] = out
    for a, b in zip(commands[id(plain)], commands[id(one)]):
        if hasattr(a, "command"):
            assert np.array_equal(a.command, b.command) and a.seam == b.seam and a.popped == b.popped
            assert a.served[2:] == b.served[2:] and np.array_equal(a.served.command, b.served.command)
        else:
            assert a == b


@pytest.mark.parametrize("mode", ["linear", "hermite"])
def test_rows_commanded_at_sub_tick_0_and_points_between_after(mode):
    rows = walk(np.random.default_rng(2), 12)
    interpolator = Interpolator(4, mode)
    assert interpolator.command(1) is None  # nothing popped yet: hold
    for i in range(10):
        interpolator.start(rows[i], rows[i + 1:i + 3], continuous=i > 0)
        assert interpolator.command(0) == pytest.approx(rows[i], abs=1e-12)
        if mode == "linear":
            assert interpolator.command(2) == pytest.approx((rows[i] + rows[i + 1]) / 2)
    interpolator.start(rows[10], rows[11:11], continuous=True)  # nothing queued after the row
    assert interpolator.command(0) == pytest.approx(rows[10], abs=1e-12)
    if mode == "linear":
        assert np.array_equal(interpolator.command(3), rows[10])
    interpolator.start(None, rows[:0], continuous=True)  # underrun
    assert interpolator.command(2) is None


def velocity_jumps(commands: np.ndarray) -> np.ndarray:
    """Per sub-tick, the change of finite-difference velocity (a second difference)."""
    return np.abs(np.diff(commands, n=2, axis=0)).max(axis=1)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 5))
def test_hermite_is_c1_on_random_rows_and_linear_is_not(seed, factor):
    rows = walk(np.random.default_rng(seed), 30)
    for mode in ("hermite", "linear"):
        core = interpolated_core(factor, mode)
        core.start_from(START)
        core.tick()  # hold one sub-tick at the start
        for _ in range(factor - 1):
            core.tick()
        assert core.receive(chunk(1, core.queue.step, rows), 0.0).merged
        commands = play(core, factor * 25)
        assert np.isfinite(commands).all()
        assert commands[::factor] == pytest.approx(rows[:25], abs=1e-12)  # rows hit at sub-tick 0
        jumps = velocity_jumps(commands)
        # A cubic's second difference is O(h^2) everywhere: a velocity jump at a row would be O(h).
        # Hermite's stays within what the rows' own curvature gives (their second difference / N^2,
        # up to the cubic's factor); linear's at a row is the rows' second difference / N. The first
        # segment starts from rest (tangent 0): the Catmull-Rom tangent of a previous row mirroring
        # the next one, so that mirrored row belongs to the rows whose curvature bounds it.
        row_curvature = np.abs(np.diff(np.vstack([rows[1], rows[:26]]), n=2, axis=0)).max()
        if mode == "hermite":
            assert jumps.max() <= 3.0 * row_curvature / factor**2 + 1e-12
        else:
            assert jumps[factor - 1::factor].max() == pytest.approx(
                np.abs(np.diff(rows[:26], n=2, axis=0)).max() / factor)


def test_a_chunk_merged_mid_segment_gives_no_velocity_jump_at_the_seam_with_hermite():
    factor, d = 3, 2
    smooth = START + 0.3 * np.sin(np.arange(60)[:, None] * 0.15 + np.arange(3)[None, :])
    core = interpolated_core(factor)
    core.start_from(smooth[0])
    assert core.receive(chunk(1, core.queue.step, smooth[:30]), 0.0).merged
    commands = list(play(core, factor * 10 + 1))  # up to sub-tick 0 of policy tick 10
    # The next chunk was built from tick 10 - d on and arrives at tick 11 (d_real 3): RTC guidance
    # kept its rows up to the two queued next on the old chunk; its tail bends away from it.
    new = smooth[10 - d:40].copy()
    new[d + 3:] += 0.002 * np.arange(1, len(new) - d - 2)[:, None] ** 2
    assert core.receive(chunk(2, 10 - d, new), 0.0).merged
    seam = len(commands)
    commands = np.array(commands + list(play(core, factor * 12)))
    assert commands[seam + 2] == pytest.approx(new[3], abs=1e-12)  # the new chunk's rows are played
    jumps = velocity_jumps(commands)[factor:]  # from the first row on (the start from rest aside)
    # Second differences stay of the order of the rows' curvature / N^2: no O(1/N) velocity jump
    # (linear's at every row is the curvature / N).
    curvature = max(np.abs(np.diff(smooth[:30], n=2, axis=0)).max(), np.abs(np.diff(new, n=2, axis=0)).max())
    assert jumps.max() <= 1.5 * curvature / factor**2
    linear = interpolated_core(factor, "linear")
    linear.start_from(smooth[0])
    linear.receive(chunk(1, 0, smooth[:30]), 0.0)
    smooth_curvature = np.abs(np.diff(smooth[:30], n=2, axis=0)).max()
    assert velocity_jumps(play(linear, factor * 12))[factor:].max() > 2.0 * smooth_curvature / factor**2


def test_underrun_holds_and_missed_sub_ticks_keep_policy_tick_arithmetic():
    core = interpolated_core(3)
    core.start_from(START)
    ticks = [core.tick() for _ in range(3)]
    assert [t.popped for t in ticks] == [True, False, False] and core.queue.step == 1
    assert all(np.array_equal(t.command, START) for t in ticks)  # nothing queued: hold
    rows = ramp(10)
    assert core.receive(chunk(1, 1, rows), 0.0).merged
    first = core.tick()
    assert first.popped and first.seam and first.served.step == 1 and np.array_equal(first.command, rows[0])
    late = core.tick(missed=5)  # sub-ticks 1, 2 of tick 1 and all of tick 2 missed: tick 3 starts
    assert late.popped and late.served.step == 2 + 1 and late.served.index == 2  # tick 2's row dropped
    assert core.queue.step == 4 and core.queue.counters().missed == 1
    assert np.isfinite(late.command).all()


def test_guard_bound_per_second_is_unchanged_and_rows_are_judged_per_policy_tick():
    one = GuardLimits.from_parameters(3, RATE, max_velocity=[4.5], max_acceleration=[40.0])
    three = GuardLimits.from_parameters(3, RATE * 3, max_velocity=[4.5], max_acceleration=[40.0], interpolation=3)
    assert three.max_step * 3 * RATE == pytest.approx(one.max_step * RATE)
    assert three.max_step_change * (3 * RATE) ** 2 == pytest.approx(one.max_step_change * RATE**2)
    rows = ramp(6, slope=0.14)  # 4.2 rad/s: inside 4.5 rad/s at 30 rows per second
    assert CommandGuard(one).check_chunk(rows) is None and CommandGuard(three).check_chunk(rows) is None
    fast = ramp(6, slope=0.3)  # 9 rad/s
    for limits in (one, three):
        code, detail = CommandGuard(limits).check_chunk(fast)
        assert code == "step" and "per policy tick" in detail
    with pytest.raises(ValueError, match="interpolation must be an integer >= 1"):
        GuardLimits.from_parameters(3, RATE, interpolation=0)


@pytest.mark.parametrize("mode", ["linear", "hermite"])
def test_every_interpolated_command_is_inside_the_envelope(mode):
    rng = np.random.default_rng(5)
    bounds = dict(lower=[-1.0], upper=[1.0], max_velocity=[4.5], max_acceleration=[40.0], tolerance=0.05,
                  max_seam=0.3)
    core = interpolated_core(3, mode, **bounds)
    limits = core.guard.limits
    core.start_from(START)
    commands = [core.tick().command]
    for chunk_id in range(1, 12):
        rows = np.clip(START + np.cumsum(rng.normal(0.0, 0.12, (20, 3)), axis=0), -1.04, 1.04)
        core.receive(chunk(chunk_id, max(0, core.queue.step - 1), rows), 0.0)
        commands += [core.tick(missed=int(rng.random() < 0.1)).command for _ in range(int(rng.integers(3, 30)))]
    commands = np.array(commands)
    assert np.isfinite(commands).all()
    assert not limits.violations(commands[1:], previous=commands[0]).any()


def slowed_core(speed_scale: float, factor: int = 1, **guard) -> ExecutorCore:
    bounds = {**UNBOUNDED, **guard}
    limits = GuardLimits.from_parameters(3, RATE * factor, interpolation=factor, speed_scale=speed_scale, **bounds)
    return ExecutorCore(JOINTS, ActionQueue(3, "rtc", stall_ticks=6), CommandGuard(limits),
                        ChunkAdmission(max_length=50, source_timeout_s=1.0), Interpolator(factor, "linear"),
                        speed_scale=speed_scale)


@pytest.mark.parametrize("speed_scale, factor", [(0.5, 1), (0.25, 1), (0.3, 1), (0.5, 2)])
def test_speed_scale_plays_every_row_over_a_stretched_time_base(speed_scale, factor):
    """Each row is reached once per 1/speed_scale policy periods, the commands in between lie on the
    line between rows (linear mode), and the queue's steps count rows, not commands."""
    core = slowed_core(speed_scale, factor)
    core.start_from(START)
    rows = ramp(20)
    core.tick()
    assert core.receive(chunk(1, core.queue.step, rows), 0.0).merged
    per_row = factor / speed_scale
    commands, pops = [], 0
    for k in range(int(10 * per_row)):
        tick = core.tick()
        commands.append(tick.command)
        pops += tick.popped
    assert pops == pytest.approx(10, abs=1)  # ten rows in ten stretched periods
    commands = np.array(commands)
    progress = (commands[:, 0] - START[0]) / 0.01  # the ramp's row index, fractional
    start = int(np.argmax(progress > 0)) - 1  # the first row (START) is reached when the loop's next row tick comes
    np.testing.assert_allclose(np.diff(progress[start + 1:]), 1 / per_row, atol=1e-9)  # constant speed: rate x s
    assert core.queue.leftover().index == core.queue.step - 1  # steps count rows: one per stretched period


def test_speed_scale_scales_velocity_and_acceleration_bounds():
    full = GuardLimits.from_parameters(3, RATE, max_velocity=[3.0], max_acceleration=[30.0])
    half = GuardLimits.from_parameters(3, RATE, max_velocity=[3.0], max_acceleration=[30.0], speed_scale=0.5)
    np.testing.assert_allclose(half.max_step, full.max_step * 0.5)
    np.testing.assert_allclose(half.max_step_change, full.max_step_change * 0.5)
    # a chunk's rows are 1/s commands apart: the row-to-row step they may take is unchanged
    np.testing.assert_allclose(half.max_step * half.interpolation, full.max_step * full.interpolation)
    for bad in (0.0, 1.5, float("nan"), True):
        with pytest.raises(ValueError, match="speed_scale"):
            GuardLimits.from_parameters(3, RATE, speed_scale=bad)


@pytest.mark.parametrize("mode", ["linear", "hermite"])
@pytest.mark.parametrize("speed_scale", [1.0, 0.5, 0.3])
def test_a_chunk_inside_the_full_speed_envelope_is_slowed_not_clipped(speed_scale, mode):
    """A chunk that speeds up at 90 % of max_acceleration to 90 % of max_velocity: never clamped, and
    its speed is at most speed_scale x max_velocity."""
    velocity = np.minimum(0.9 * 3.0, 0.9 * 30.0 * np.arange(60) / RATE)  # rad/s per row
    rows = START + np.cumsum(velocity / RATE)[:, None] * np.ones(3)
    limits = GuardLimits.from_parameters(3, RATE, max_velocity=[3.0], max_acceleration=[30.0], max_seam=1.0,
                                         speed_scale=speed_scale)
    core = ExecutorCore(JOINTS, ActionQueue(3), CommandGuard(limits), ChunkAdmission(max_length=100),
                        Interpolator(1, mode), speed_scale=speed_scale)
    core.start_from(rows[0])
    core.tick()
    assert core.receive(chunk(1, core.queue.step, rows), 0.0).merged
    commands = np.array([core.tick().command for _ in range(round(40 / speed_scale))])
    assert core.guard.counters()[0] == 0
    assert np.abs(np.diff(commands, axis=0)).max() * RATE <= speed_scale * 3.0 + 1e-9


@pytest.mark.parametrize("bad", [0.0, -0.5, 1.01, 0.0001])
def test_speed_scale_out_of_range_is_refused(bad):
    with pytest.raises(ValueError, match="speed_scale"):
        slowed_core(1.0).__class__(JOINTS, ActionQueue(3), CommandGuard(GuardLimits.from_parameters(3, RATE)),
                                   ChunkAdmission(max_length=50, source_timeout_s=1.0), speed_scale=bad)
