"""Report on an LTTng trace of a run: `rtc_trace_report TRACE_DIR [--png FILE] [--chunks-csv FILE]`.

Reads the trace with babeltrace2's Python bindings (`bt2`), keeps our nodes' spans
(rtc_runtime.tracing) and counts the ROS 2 tracepoints, then prints the per-component table (count,
p50, p95, max per node and component) and the per-chunk figures, joined across processes by
chunk_id: the policy's parts of each chunk (the same clock readings as /rtc/timing), its transport
to the executor and the step it merged at. `--png` draws the timeline: one lane per node, chunks as
spans from observation to merge, executor ticks and driver cycles as marks, seams (the first tick
served from a new chunk) as vertical lines.
"""
from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
from rtc_contract.timing_components import COMPONENTS, WHOLE
from rtc_runtime.tracing import TraceEvent, parse_event

PYTHON_AGENT_EVENT = "lttng_python:event"
ROS2_PREFIX = "ros2:"
# per-chunk column -> the policy's span of it (its /rtc/timing component)
POLICY_PARTS = {field: COMPONENTS[field] for field in ("preprocessing_ms", "policy_inference_ms", "guidance_ms",
                                                       "postprocessing_ms", "publish_ms", "end_to_end_ms")}
TICK = "executor.tick"
MERGE = "get_actions.action_queue_merge"
TRANSPORT = "chunk.transport"
OBSERVATION_TO_CHUNK = WHOLE


@dataclass
class Trace:
    events: list[TraceEvent]
    ros2_events: int = 0
    other_events: int = 0


@dataclass
class ChunkFigures:
    """One chunk across the graph, milliseconds (NaN: that part was not traced)."""

    chunk_id: int
    source_step: int
    preprocessing_ms: float = float("nan")
    policy_inference_ms: float = float("nan")
    guidance_ms: float = float("nan")
    postprocessing_ms: float = float("nan")
    publish_ms: float = float("nan")
    end_to_end_ms: float = float("nan")
    transport_ms: float = float("nan")
    merge_step: int = -1
    observation_to_merge_ms: float = float("nan")


def read_trace(trace_dir: Path) -> Trace:
    """Every span of our loggers in the trace, in time order, and how many ROS 2 tracepoints it holds."""
    import bt2

    trace = Trace(events=[])
    for message in bt2.TraceCollectionMessageIterator(str(trace_dir)):
        if type(message) is not bt2._EventMessageConst:
            continue
        event = message.event
        if event.name == PYTHON_AGENT_EVENT:
            span = parse_event(str(event.payload_field["logger_name"]), str(event.payload_field["msg"]))
            if span is not None:
                trace.events.append(span)
                continue
        if event.name.startswith(ROS2_PREFIX):
            trace.ros2_events += 1
        else:
            trace.other_events += 1
    trace.events.sort(key=lambda e: e.start_ns)
    return trace


def component_table(events: list[TraceEvent]) -> list[dict]:
    """Per (node, component): count, p50, p95, max of the span durations in ms."""
    durations: dict[tuple[str, str], list[float]] = defaultdict(list)
    for event in events:
        durations[(event.node, event.name)].append(event.duration_ns / 1e6)
    rows = []
    for (node, name), values in sorted(durations.items()):
        p50, p95 = np.percentile(values, [50.0, 95.0])
        rows.append({"node": node, "component": name, "count": len(values), "p50_ms": float(p50),
                     "p95_ms": float(p95), "max_ms": float(max(values))})
    return rows


def chunk_figures(events: list[TraceEvent]) -> list[ChunkFigures]:
    """The chunks the policy traced, each joined with the executor's spans of the same chunk_id."""
    chunks: dict[int, ChunkFigures] = {}
    observed_ns: dict[int, int] = {}
    for event in events:
        if event.name not in POLICY_PARTS.values() or not event.chunk_id:
            continue
        figures = chunks.setdefault(event.chunk_id, ChunkFigures(event.chunk_id, event.step))
        for column, name in POLICY_PARTS.items():
            if event.name == name:
                setattr(figures, column, event.duration_ns / 1e6)
        if event.name == OBSERVATION_TO_CHUNK:
            observed_ns[event.chunk_id] = event.start_ns
    for event in events:
        figures = chunks.get(event.chunk_id)
        if figures is None:
            continue
        if event.name == TRANSPORT:
            figures.transport_ms = event.duration_ns / 1e6
        elif event.name == MERGE:
            figures.merge_step = event.step
            if event.chunk_id in observed_ns:
                figures.observation_to_merge_ms = (event.end_ns - observed_ns[event.chunk_id]) / 1e6
    return [chunks[k] for k in sorted(chunks)]


def seams(events: list[TraceEvent]) -> list[TraceEvent]:
    """The executor ticks that served the first action of a new chunk."""
    found, previous = [], 0
    for event in events:
        if event.name != TICK or not event.chunk_id:
            continue
        if previous and event.chunk_id != previous:
            found.append(event)
        previous = event.chunk_id
    return found


def format_components(rows: list[dict]) -> str:
    lines = [f"{'node':<14} {'component':<32} {'count':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"]
    lines += [f"{r['node']:<14} {r['component']:<32} {r['count']:>6} {r['p50_ms']:>8.3f} {r['p95_ms']:>8.3f} "
              f"{r['max_ms']:>8.3f}" for r in rows]
    return "\n".join(lines)


def format_chunks(chunks: list[ChunkFigures]) -> str:
    if not chunks:
        return "no chunks traced"
    columns = ["policy_inference_ms", "end_to_end_ms", "transport_ms", "observation_to_merge_ms"]
    lines = [f"{len(chunks)} chunks; p50 / p95 / max ms:"]
    for column in columns:
        values = np.array([getattr(c, column) for c in chunks], float)
        values = values[np.isfinite(values)]
        if values.size:
            p50, p95 = np.percentile(values, [50.0, 95.0])
            lines.append(f"  {column:<26} {p50:8.2f} {p95:8.2f} {values.max():8.2f}  ({values.size} chunks)")
    return "\n".join(lines)


def write_chunks_csv(chunks: list[ChunkFigures], path: Path) -> None:
    names = [f.name for f in fields(ChunkFigures)]
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(names)
        for chunk in chunks:
            writer.writerow([getattr(chunk, n) for n in names])


def plot_timeline(events: list[TraceEvent], path: Path) -> None:
    """One lane per node plus a chunk lane: spans of work, chunks from observation to merge, seams."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = min(e.start_ns for e in events)
    nodes = sorted({e.node for e in events})
    lanes = {node: i + 1 for i, node in enumerate(nodes)}
    colors = {}
    figure, axes = plt.subplots(figsize=(16, 1.2 + 0.8 * (len(nodes) + 1)))
    for event in events:
        x, width = (event.start_ns - t0) / 1e9, event.duration_ns / 1e9
        y = lanes[event.node]
        if event.name in (TICK, "robot.cycle", "camera.render_publish"):
            axes.plot([x, x], [y - 0.3, y + 0.3], color="0.6", linewidth=0.3)
            continue
        if event.name == OBSERVATION_TO_CHUNK:
            continue
        color = colors.setdefault(event.name, f"C{len(colors) % 10}")
        axes.broken_barh([(x, max(width, 1e-4))], (y - 0.35, 0.7), color=color,
                         label=event.name if event.name not in axes.get_legend_handles_labels()[1] else None)
    merged_at = {e.chunk_id: e.end_ns for e in events if e.name == MERGE}
    for event in events:
        if event.name == OBSERVATION_TO_CHUNK and event.chunk_id in merged_at:
            x = (event.start_ns - t0) / 1e9
            axes.broken_barh([(x, (merged_at[event.chunk_id] - event.start_ns) / 1e9)], (-0.35, 0.7),
                             color="C9", alpha=0.6)
            axes.text(x, 0.0, str(event.chunk_id), fontsize=6, va="center")
    for seam in seams(events):
        axes.axvline((seam.start_ns - t0) / 1e9, color="red", linewidth=0.5, alpha=0.6)
    axes.set_yticks([0, *lanes.values()], ["chunks (obs -> merge)", *lanes.keys()])
    axes.set_xlabel("time since first event [s] (red: seams)")
    if colors:
        axes.legend(loc="upper right", fontsize=7, ncol=3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rtc_trace_report", description=__doc__.split("\n\n")[0])
    parser.add_argument("trace_dir", type=Path)
    parser.add_argument("--png", type=Path, help="write the timeline here")
    parser.add_argument("--chunks-csv", type=Path, help="write the per-chunk figures here")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not args.trace_dir.is_dir():
        print(f"rtc_trace_report: {args.trace_dir} is not a directory", file=sys.stderr)
        return 2
    try:
        trace = read_trace(args.trace_dir)
    except Exception as exc:  # bt2 raises its own error types for unreadable traces
        print(f"rtc_trace_report: cannot read a trace in {args.trace_dir}: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return 2
    if not trace.events:
        print(f"rtc_trace_report: no rtc_trace events in {args.trace_dir} (ROS 2 tracepoints: "
              f"{trace.ros2_events}); was the graph started with trace:=true?", file=sys.stderr)
        return 1
    print(format_components(component_table(trace.events)))
    print()
    chunks = chunk_figures(trace.events)
    print(format_chunks(chunks))
    span_s = (max(e.end_ns for e in trace.events) - min(e.start_ns for e in trace.events)) / 1e9
    print(f"\n{len(trace.events)} events over {span_s:.1f} s ({len(trace.events) / max(span_s, 1e-9):.0f}/s); "
          f"ROS 2 tracepoints: {trace.ros2_events}; seams: {len(seams(trace.events))}")
    if args.chunks_csv:
        write_chunks_csv(chunks, args.chunks_csv)
    if args.png:
        plot_timeline(trace.events, args.png)
        print(f"timeline: {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
