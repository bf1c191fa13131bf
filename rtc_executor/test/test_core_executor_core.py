"""ExecutorCore: the executor's decisions without ROS, each refusal by name, and the envelope over
arbitrary message sequences (ids, sources, lengths, contents, missed ticks)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtc_executor.core.action_queue import ActionQueue
from rtc_executor.core.chunk_admission import ChunkAdmission
from rtc_executor.core.command_guard import CommandGuard, GuardLimits
from rtc_executor.core.executor_core import ExecutorCore

JOINTS = ("a", "b", "c")
RATE = 30.0
START = np.array([0.1, -0.2, 0.3])


def make_core(mode: str = "rtc", stall_ticks: int = 6) -> ExecutorCore:
    limits = GuardLimits.from_parameters(3, RATE, lower=[-1.0], upper=[1.0], max_velocity=[4.5],
                                         max_acceleration=[40.0], tolerance=0.05, max_seam=0.3)
    return ExecutorCore(JOINTS, ActionQueue(3, mode, stall_ticks=stall_ticks), CommandGuard(limits),
                        ChunkAdmission(max_length=50, source_timeout_s=1.0))


def chunk(chunk_id: int, source_step: int, rows: np.ndarray, source: str = "policy", names=JOINTS):
    rows = np.asarray(rows, dtype=np.float64)
    return SimpleNamespace(chunk_id=chunk_id, source=source, source_step=source_step, joint_names=list(names),
                           length=rows.shape[0], action_dim=rows.shape[1], actions=rows.ravel().tolist())


def ramp(length: int, start: np.ndarray = START, slope: float = 0.01) -> np.ndarray:
    return start + slope * np.arange(length)[:, None]


def test_holds_the_measured_position_then_plays_a_chunk_row_per_tick():
    core = make_core()
    assert core.tick().command is None  # nothing known, nothing commanded
    assert core.receive(chunk(1, 1, ramp(10)), 0.0).code == "not_ready"
    core.start_from(START)
    held = core.tick()
    assert held.command == pytest.approx(START) and held.served.action is None
    step = core.queue.step
    decision = core.receive(chunk(2, step, ramp(10)), 0.0)
    assert decision.merged and decision.d_real == 0
    first = core.tick()
    assert first.seam and first.command == pytest.approx(START) and first.clamped_by == ()
    assert core.tick().command == pytest.approx(START + 0.01)


@pytest.mark.parametrize("rows, code", [
    (np.full((5, 3), 100.0), "limits"),
    (np.full((5, 3), -100.0), "limits"),
    (START + np.array([[0.0], [0.5], [0.0], [0.5], [0.0]]), "step"),  # zigzag inside the limits
    (START + np.array([0.0, 0.6, 0.0]) + np.zeros((5, 1)), "step"),  # a jump at the seam
])
def test_dangerous_chunks_are_rejected_whole(rows, code):
    core = make_core()
    core.start_from(START)
    core.tick()
    decision = core.receive(chunk(1, core.queue.step, rows), 0.0)
    assert not decision.merged and decision.code == code, decision
    assert core.tick().command == pytest.approx(START)  # nothing moved
    assert core.rejected_by_reason() == {code: 1}


def test_admission_refusals_come_first_and_are_counted():
    core = make_core()
    core.start_from(START)
    assert core.receive(chunk(1, 0, ramp(51)), 0.0).code == "too_long"
    assert core.receive(chunk(0, 0, ramp(5)), 0.0).code == "bad_id"
    assert core.receive(chunk(5, 0, ramp(5)), 0.0).merged
    assert core.receive(chunk(6, 0, ramp(5)), 0.0).code == "rate"  # same tick
    core.tick()
    assert core.receive(chunk(4, 1, ramp(5)), 0.1).code == "bad_id"
    assert core.receive(chunk(1, 1, ramp(5), source="intruder"), 0.1).code == "other_source"
    assert core.receive(chunk(7, 1, ramp(5), names=("a", "b", "x")), 0.1).code == "unknown_joint"
    assert core.rejected_by_reason() == {"too_long": 1, "bad_id": 2, "rate": 1, "other_source": 1,
                                         "unknown_joint": 1}


def test_a_flood_from_another_source_leaves_the_followed_policy_in_charge():
    core = make_core()
    core.start_from(START)
    assert core.receive(chunk(1, 0, ramp(40)), 0.0).merged
    for tick in range(30):
        for i in range(30):
            assert core.receive(chunk(1000 + 30 * tick + i, core.queue.step, np.zeros((5, 3)), "flood"),
                                tick / RATE).code == "other_source"
        core.tick()
    assert core.receive(chunk(2, core.queue.step, ramp(40, START + 0.3)), 1.0).merged
    assert core.rejected_by_reason() == {"other_source": 900}


def test_after_a_long_stall_only_a_fresh_chunk_moves_the_arm():
    core = make_core(stall_ticks=6)
    core.start_from(START)
    core.receive(chunk(1, 0, ramp(50)), 0.0)
    for _ in range(5):
        core.tick()
    moving = core.tick().command
    stalled = core.tick(missed=60)  # two seconds stopped
    assert stalled.served.action is None and stalled.command == pytest.approx(moving)
    old = core.receive(chunk(2, 40, ramp(50)), 2.1)
    assert old.code == "pre_stall" and "waiting for a fresh chunk" in old.reason
    assert core.receive(chunk(3, core.queue.step, ramp(50, moving)), 2.1).merged


def test_a_seam_inside_max_seam_is_clamped_and_counted():
    core = make_core()
    core.start_from(START)
    core.tick()
    core.receive(chunk(1, core.queue.step, ramp(20, START + np.array([0.0, 0.25, 0.0]), 0.0)), 0.0)
    tick = core.tick()
    assert tick.seam and tick.clamped_by and core.seam_clamps == 1
    assert abs(tick.command[1] - START[1]) <= 4.5 / RATE + 1e-12


finite = st.floats(-50.0, 50.0, allow_nan=False, width=32)


@st.composite
def messages(draw):
    out = []
    for _ in range(draw(st.integers(1, 30))):
        if draw(st.booleans()):
            length = draw(st.integers(1, 8))
            kind = draw(st.sampled_from(["smooth", "wild"]))
            if kind == "wild":
                rows = np.array(draw(st.lists(st.lists(finite, min_size=3, max_size=3), min_size=length,
                                              max_size=length)))
            else:
                start = np.array(draw(st.lists(st.floats(-1.2, 1.2), min_size=3, max_size=3)))
                rows = start + draw(st.floats(-0.2, 0.2)) * np.arange(length)[:, None]
            out.append(("chunk", draw(st.integers(0, 40)), draw(st.integers(-3, 8)), rows,
                        draw(st.sampled_from(["policy", "other"]))))
        else:
            out.append(("tick", draw(st.sampled_from([0, 0, 0, 2, 30])), None, None, None))
    return out


@settings(max_examples=300, deadline=None)
@given(messages(), st.sampled_from(["rtc", "append", "replace"]))
def test_every_command_is_inside_the_envelope(run, mode):
    core = make_core(mode)
    emitted = [core.start_from(START)]
    now = 0.0
    for kind, chunk_id, lag, rows, source in run:
        if kind == "chunk":
            core.receive(chunk(chunk_id, max(0, core.queue.step - lag), rows, source), now)
        else:
            emitted.append(core.tick(missed=chunk_id).command)
            now += (1 + chunk_id) / RATE
    if len(emitted) > 1:  # from the start position, at rest
        commands = np.vstack(emitted[1:])
        violations = core.guard.limits.violations(commands, previous=emitted[0], previous_step=np.zeros(3))
        assert not violations.any(), commands[violations]
