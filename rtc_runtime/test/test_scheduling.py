"""Thread scheduling: SCHED_FIFO requests, their fallback, and a briefly raised section."""
from __future__ import annotations

import os
import threading

import pytest

from rtc_runtime.scheduling import Scheduling, realtime_section, request_realtime, request_realtime_process


def test_realtime_request_reports_what_it_got():
    got: list[Scheduling] = []
    thread = threading.Thread(target=lambda: got.append(request_realtime(10)))
    thread.start()
    thread.join()
    (sched,) = got
    assert sched.policy in ("SCHED_FIFO", "SCHED_OTHER")
    assert (sched.policy == "SCHED_FIFO") == (sched.detail == "granted")
    assert sched.policy in str(sched)


def _refuse(*_args):
    raise PermissionError(1, "Operation not permitted")


@pytest.mark.parametrize("request_fifo", [request_realtime, request_realtime_process])
def test_a_refused_request_falls_back_and_says_so(monkeypatch, request_fifo):
    monkeypatch.setattr("os.sched_setscheduler", _refuse)
    sched = request_fifo(40)
    assert sched.policy == "SCHED_OTHER" and "refused" in sched.detail


def test_realtime_for_the_process_asks_for_every_thread(monkeypatch):
    calls: list[tuple[int, int, int]] = []
    monkeypatch.setattr("os.sched_setscheduler", lambda tid, policy, param: calls.append(
        (tid, policy, param.sched_priority)))
    sched = request_realtime_process(40)
    thread_ids = sorted(int(tid) for tid in os.listdir("/proc/self/task"))
    assert sorted(tid for tid, _, _ in calls) == thread_ids
    assert {(policy, prio) for _, policy, prio in calls} == {(os.SCHED_FIFO, 40)}
    assert sched.policy == "SCHED_FIFO" and sched.priority == 40 and str(len(thread_ids)) in sched.detail


def test_realtime_section_raises_then_restores_normal_scheduling(monkeypatch):
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr("os.sched_setscheduler", lambda tid, policy, param: calls.append(
        (policy, param.sched_priority)))
    with realtime_section(30) as got:
        assert got.policy == "SCHED_FIFO" and calls == [(os.SCHED_FIFO, 30)]
    assert calls == [(os.SCHED_FIFO, 30), (os.SCHED_OTHER, 0)]
    calls.clear()
    with realtime_section(0) as got:
        assert got.policy == "SCHED_OTHER"
    assert calls == []
