"""CommandGuard: unit cases, and properties over arbitrary chunks, seams, underruns and stalls: nothing
the executor's tick path emits ever leaves the envelope, whatever the queue holds."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtc_executor.core.action_queue import ActionQueue, MergeMode
from rtc_contract.rejections import RejectionCode
from rtc_executor.core.command_guard import (ACCELERATION, LIMITS, STEP, CommandGuard, GuardLimits,
                                                per_joint)

RATE = 30.0
JOINTS = 3


def limits(**overrides) -> GuardLimits:
    params = dict(lower=[-1.0, -2.0, -0.5], upper=[1.0, 2.0, 0.5], max_velocity=[3.0],
                  max_acceleration=[40.0], tolerance=0.05, max_seam=0.3)
    params.update(overrides)
    return GuardLimits.from_parameters(JOINTS, RATE, **params)


def envelope_ok(lim: GuardLimits, commands: list[np.ndarray]) -> bool:
    """Independent check of the documented envelope, written out joint by joint."""
    step_before = [0.0] * JOINTS
    for k, q in enumerate(commands):
        for j in range(JOINTS):
            if not lim.lower[j] - 1e-9 <= q[j] <= lim.upper[j] + 1e-9:
                return False
            if k == 0:
                continue
            step = q[j] - commands[k - 1][j]
            if abs(step) > lim.max_step[j] + 1e-9:
                return False
            change = lim.max_step_change[j]
            low = min(step_before[j] - change, 0.0)
            high = max(step_before[j] + change, 0.0)
            if not low - 1e-9 <= step <= high + 1e-9:
                return False
            step_before[j] = step
    return True


def test_parameters_broadcast_and_convert_to_ticks():
    lim = limits()
    assert lim.max_step == pytest.approx([0.1] * 3)
    assert lim.max_step_change == pytest.approx([40.0 / 900] * 3)
    assert np.isinf(GuardLimits.from_parameters(2, RATE).lower).all()  # empty: unbounded
    with pytest.raises(ValueError, match="max_velocity needs one value or one per joint"):
        limits(max_velocity=[1.0, 2.0])
    with pytest.raises(ValueError, match="above position_upper_limits"):
        limits(lower=[2.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="positive"):
        limits(max_acceleration=[0.0])
    with pytest.raises(ValueError, match="contains NaN"):
        per_joint("x", [math.nan], 2, 0.0)


def test_a_far_target_is_approached_at_bounded_speed_and_acceleration():
    guard = CommandGuard(limits())
    guard.reset(np.zeros(3))
    commands = [guard.apply(np.array([5.0, 5.0, 5.0])).command for _ in range(40)]
    assert envelope_ok(guard.limits, [np.zeros(3)] + commands)
    assert commands[-1] == pytest.approx([1.0, 2.0, 0.5])  # reaches the limits, never beyond
    steps = np.diff(np.vstack([np.zeros(3)] + commands), axis=0)
    assert steps[0] == pytest.approx([40.0 / 900] * 3)  # from rest: one acceleration step
    assert np.abs(steps).max() == pytest.approx(0.1)
    clamped_ticks, by_bound = guard.counters()
    assert clamped_ticks == 40 and by_bound[LIMITS] == 40 and by_bound[STEP] > 0 and by_bound[ACCELERATION] > 0


def test_hold_stops_at_once_and_reversal_passes_through_rest():
    guard = CommandGuard(limits())
    guard.reset(np.zeros(3))
    for k in range(1, 6):
        guard.apply(np.full(3, 0.02 * k))  # steady 0.6 rad/s
    held = guard.apply(None).command
    assert held == pytest.approx(np.full(3, 0.1))  # stopping is always allowed
    guard.reset(np.zeros(3))
    for k in range(1, 6):
        guard.apply(np.full(3, 0.05 * k))  # 1.5 rad/s
    back = guard.apply(np.full(3, 0.2)).command  # asks for a step of -0.05: a reversal
    assert back == pytest.approx(np.full(3, 0.25))  # held at rest this tick instead


def test_reset_starts_inside_the_limits():
    guard = CommandGuard(limits())
    assert guard.reset(np.array([3.0, 0.0, -3.0])) == pytest.approx([1.0, 0.0, -0.5])
    with pytest.raises(RuntimeError, match="before reset"):
        CommandGuard(limits()).apply(None)


def test_check_chunk_names_limits_and_step_beyond_the_tolerance():
    guard = CommandGuard(limits())
    ok = np.zeros((10, 3))
    ok[:, 0] = np.linspace(0.0, 0.9, 10)  # 0.1 rad per tick: at the bound
    assert guard.check_chunk(ok) is None
    slightly_out = ok.copy()
    slightly_out[:, 2] = np.linspace(0.1, 0.54, 10)  # 0.04 rad beyond the limit: clamped when played
    assert guard.check_chunk(slightly_out) is None
    out = ok.copy()
    out[3, 1] = 100.0
    reason, detail = guard.check_chunk(out)
    assert reason == LIMITS and "row 3 joint 1: 100 rad" in detail
    jumpy = ok.copy()
    jumpy[5:, 1] += 0.3
    reason, detail = guard.check_chunk(jumpy)
    assert reason == STEP and "rows 4->5 joint 1" in detail


def test_check_seam_compares_with_the_last_command_or_the_row_before():
    guard = CommandGuard(limits())
    assert guard.check_seam(np.ones(3), None) is None  # nothing commanded yet
    guard.reset(np.zeros(3))
    assert guard.check_seam(np.full(3, 0.25), None) is None
    assert "0.5 rad from the command before it" in guard.check_seam(np.array([0.0, 0.5, 0.0]), None)
    assert guard.check_seam(np.full(3, 0.9), np.full(3, 0.8)) is None


def test_violations_flags_each_bound():
    lim = limits()
    fine = np.array([[0.0, 0, 0], [0.04, 0, 0], [0.08, 0, 0], [0.1, 0, 0]])
    assert not lim.violations(fine, previous=np.zeros(3), previous_step=np.zeros(3)).any()
    assert lim.violations(np.array([[0.0, 0, 0], [0.0, 0, 0.6]])).tolist() == [False, True]
    assert lim.violations(np.array([[0.0, 0, 0], [0.2, 0, 0]])).tolist() == [False, True]
    # from rest straight to 0.09 rad per tick: the acceleration bound (0.044 per tick) is broken
    assert lim.violations(np.array([[0.0, 0, 0], [0.0, 0, 0], [0.09, 0, 0]])).tolist() == [False, False, True]
    assert lim.violations(np.array([[0.09, 0, 0]]), previous=np.zeros(3),
                          previous_step=np.zeros(3)).tolist() == [True]


finite = st.floats(-200.0, 200.0, allow_nan=False, width=32)


@st.composite
def events(draw):
    """A run of the executor's tick path: merges of arbitrary chunks, ticks (some after missed ticks)."""
    out = []
    for _ in range(draw(st.integers(1, 25))):
        kind = draw(st.sampled_from(["merge", "tick", "tick", "tick"]))
        if kind == "merge":
            length = draw(st.integers(1, 12))
            base = draw(st.sampled_from(["near", "far", "wild"]))
            if base == "wild":
                rows = draw(st.lists(st.lists(finite, min_size=JOINTS, max_size=JOINTS),
                                     min_size=length, max_size=length))
                rows = np.array(rows, dtype=np.float64)
            else:
                start = np.array(draw(st.lists(finite, min_size=JOINTS, max_size=JOINTS)))
                start = start / 400.0 if base == "near" else start
                slope = np.array(draw(st.lists(st.floats(-0.3, 0.3), min_size=JOINTS, max_size=JOINTS)))
                rows = start + np.arange(length)[:, None] * slope
            out.append(("merge", rows, draw(st.integers(0, 6))))
        else:
            out.append(("tick", draw(st.sampled_from([0, 0, 0, 1, 3, 20])), None))
    return out


@settings(max_examples=300, deadline=None)
@given(events(), st.sampled_from(list(MergeMode)), st.booleans())
def test_nothing_beyond_the_guard_is_ever_emitted(run, mode, check_at_merge):
    """The executor's path: chunk check, seam check in the merge, pop (after missed ticks), guard."""
    lim = limits()
    guard = CommandGuard(lim)
    queue = ActionQueue(JOINTS, mode, stall_ticks=10)
    emitted = [guard.reset(np.array([0.3, -0.1, 0.0]))]
    chunk_id = 0
    for kind, payload, extra in run:
        if kind == "merge":
            chunk_id += 1
            if check_at_merge and guard.check_chunk(payload) is not None:
                continue
            queue.merge(chunk_id, payload, max(0, queue.step - extra),
                        seam_check=guard.check_seam if check_at_merge else None)
        else:
            served = queue.pop(missed=payload)
            emitted.append(guard.apply(served.action).command)
    assert envelope_ok(lim, emitted)
    if len(emitted) > 1:
        assert not lim.violations(np.vstack(emitted[1:]), previous=emitted[0], previous_step=np.zeros(3)).any()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.lists(finite, min_size=JOINTS, max_size=JOINTS)), max_size=60))
def test_any_target_sequence_stays_inside(targets):
    guard = CommandGuard(limits())
    emitted = [guard.reset(np.zeros(3))]
    for target in targets:
        emitted.append(guard.apply(None if target is None else np.array(target)).command)
    assert envelope_ok(guard.limits, emitted)


def test_the_guard_rejects_at_merge_what_it_knows_then():
    """Whole-chunk rejection through the queue: the seam with the last command."""
    guard = CommandGuard(limits())
    guard.reset(np.zeros(3))
    queue = ActionQueue(JOINTS)
    jump = np.full((5, 3), 0.4)
    result = queue.merge(1, jump, 0, seam_check=guard.check_seam)
    assert result.reason is RejectionCode.STEP and "max seam" in result.detail
    assert queue.leftover().remaining == 0
