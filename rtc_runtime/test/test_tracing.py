"""rtc_runtime.tracing: the event format round-trips, and tracing is off unless RTC_TRACE=1.

A live LTTng session reading these events back is rtc_bringup/test/test_system_trace.py."""
from __future__ import annotations

import logging

import pytest

from rtc_runtime.tracing import LOGGER_PREFIX, TRACE_ENV, TraceEvent, Tracer, parse_event, tracer


def test_a_span_is_one_log_record_that_parses_back_into_the_same_event(caplog):
    # The logger tracer() gives when the agent loads (loading it here would register pytest with LTTng).
    live = Tracer("rtc_executor", logging.getLogger(f"{LOGGER_PREFIX}.rtc_executor"))
    with caplog.at_level(logging.INFO, logger=LOGGER_PREFIX):
        live.span("get_actions.action_queue_merge", 1_000_000_000, 1_000_250_000, chunk_id=7, step=-1)
        live.span("executor.tick", 2_000_000_000, 2_000_040_000, chunk_id=7, step=123)
    assert [parse_event(r.name, r.getMessage()) for r in caplog.records] == [
        TraceEvent("rtc_executor", "get_actions.action_queue_merge", 7, -1, 1_000_000_000, 250_000),
        TraceEvent("rtc_executor", "executor.tick", 7, 123, 2_000_000_000, 40_000),
    ]
    assert parse_event("some.other.logger", "executor.tick chunk_id=1 step=1 start_ns=1 duration_ns=1") is None
    assert parse_event(f"{LOGGER_PREFIX}.x", "free text") is None


def test_without_rtc_trace_the_tracer_emits_nothing(monkeypatch, caplog):
    monkeypatch.delenv(TRACE_ENV, raising=False)
    silent = tracer("rtc_policy")
    assert not silent.enabled
    with caplog.at_level(logging.DEBUG):
        silent.span("get_actions.policy_inference", 0, 10, chunk_id=1, step=2)
    assert caplog.records == []


def test_a_profiled_span_is_recorded_and_traced_by_one_call(caplog):
    from rtc_runtime.profiling import (add_span_sink, clear_profiling_stats, disable_profiling, enable_profiling,
                                       get_profiling_samples, record_span, remove_span_sink)

    live = Tracer("rtc_policy", logging.getLogger(f"{LOGGER_PREFIX}.rtc_policy"))
    add_span_sink(live.span)
    enable_profiling()
    clear_profiling_stats()
    try:
        with caplog.at_level(logging.INFO, logger=LOGGER_PREFIX):
            record_span("get_actions.policy_inference", 5_000_000_000, 5_030_000_000, chunk_id=4, step=90)
        assert get_profiling_samples()["get_actions.policy_inference"] == [pytest.approx(0.03)]
        assert [parse_event(r.name, r.getMessage()) for r in caplog.records] == [
            TraceEvent("rtc_policy", "get_actions.policy_inference", 4, 90, 5_000_000_000, 30_000_000)]
        disable_profiling()  # profiling off: the trace still gets the span
        caplog.clear()
        with caplog.at_level(logging.INFO, logger=LOGGER_PREFIX):
            record_span("chunk.publish", 6_000_000_000, 6_000_100_000, chunk_id=4, step=90)
        assert len(caplog.records) == 1 and "chunk.publish" not in get_profiling_samples()
    finally:
        remove_span_sink(live.span)
        disable_profiling()
        clear_profiling_stats()
