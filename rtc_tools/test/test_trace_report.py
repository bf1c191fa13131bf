"""rtc_trace_report's figures from spans (the reading of a real trace: test_system_trace.py)."""
from __future__ import annotations

import math

import pytest

from rtc_tools.trace_report import chunk_figures, component_table, seams
from rtc_runtime.tracing import TraceEvent

MS = 1_000_000


def policy_chunk(chunk_id: int, source_step: int, t0: int) -> list[TraceEvent]:
    """A chunk observed at t0 ms: 2 ms preprocessing, 20 ms inference, 1 ms post, 0.5 ms publish."""
    e = lambda name, start, end: TraceEvent("rtc_policy", name, chunk_id, source_step, start * MS, (end - start) * MS)  # noqa: E731
    return [e("obs_to_chunk", t0, t0 + 40), e("get_actions.preprocessing", t0 + 16, t0 + 18),
            e("get_actions.policy_inference", t0 + 18, t0 + 38), e("rtc.guidance", t0 + 18, t0 + 21),
            e("get_actions.postprocessing", t0 + 38, t0 + 39), TraceEvent("rtc_policy", "chunk.publish", chunk_id,
                                                                      source_step, (t0 + 39) * MS, MS // 2)]


def test_chunks_join_the_policy_and_executor_spans_by_chunk_id():
    events = policy_chunk(1, 10, 0) + policy_chunk(2, 40, 1000) + [
        TraceEvent("rtc_executor", "chunk.transport", 1, 10, 39 * MS + MS // 2, MS),
        TraceEvent("rtc_executor", "get_actions.action_queue_merge", 1, 12, 41 * MS, MS // 10),
    ]
    first, second = chunk_figures(sorted(events, key=lambda e: e.start_ns))
    assert (first.chunk_id, first.source_step, first.merge_step) == (1, 10, 12)
    assert first.preprocessing_ms == pytest.approx(2.0) and first.policy_inference_ms == pytest.approx(20.0)
    assert first.guidance_ms == pytest.approx(3.0) and first.publish_ms == pytest.approx(0.5)
    assert first.end_to_end_ms == pytest.approx(40.0) and first.transport_ms == pytest.approx(1.0)
    assert first.observation_to_merge_ms == pytest.approx(41.1)
    assert second.merge_step == -1 and math.isnan(second.transport_ms)  # never reached the executor


def test_component_table_and_seams():
    ticks = [TraceEvent("rtc_executor", "executor.tick", chunk, step, step * 33 * MS, MS // 20)
             for step, chunk in enumerate([0, 0, 1, 1, 1, 2, 2, 3])]
    rows = {(r["node"], r["component"]): r for r in component_table(ticks + policy_chunk(1, 0, 0))}
    assert rows[("rtc_executor", "executor.tick")]["count"] == 8
    assert rows[("rtc_policy", "get_actions.policy_inference")]["p50_ms"] == pytest.approx(20.0)
    assert [s.step for s in seams(ticks)] == [5, 7]  # chunk 1 was the first: no seam before it
