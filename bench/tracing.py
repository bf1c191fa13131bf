"""Tracing on vs off on the simulated graph: what LTTng tracing costs the control loop and inference.

    python bench/tracing.py [--runs 2] [--duration 40] [--calls 20000]

Each run is `python -m rtc_bringup.run --sim --record BAG` (and `--trace DIR` when on), as a user
would start it; runs with and without tracing alternate so that machine load hits them alike. From
each bag: policy inference p50/p95 (/rtc/timing) and the executor's tick lateness p99 (its last
/diagnostics report, over lateness_window_s); from each trace: events per second and trace size
per minute of traced time (first to last event). First, the cost of one span call: with tracing
off, and recording into a live session (as root, the session daemon started if absent).
"""
from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rosbags.rosbag2 import Reader

from rtc_tools.bag_types import bag_typestore
from rtc_contract.topics import EXECUTOR_CONTROL_LOOP_STATUS
from rtc_tools.trace_report import read_trace
from rtc_tools.trace_session import TraceSession
from rtc_runtime.tracing import LOGGER_PREFIX, Tracer


def per_call_us(tracer: Tracer, calls: int) -> float:
    started = time.perf_counter()
    for i in range(calls):
        tracer.span("executor.tick", i, i + 1000, 7, i)
    return (time.perf_counter() - started) / calls * 1e6


def span_cost(calls: int, out: Path) -> None:
    off = per_call_us(Tracer("bench", None), calls)
    session = TraceSession(out / "span_cost")
    session.start()  # first: it starts the session daemon if absent, which the agent registers with
    import lttngust  # noqa: F401  (registers this process with the session daemon)

    logger = logging.getLogger(f"{LOGGER_PREFIX}.bench")
    logger.setLevel(logging.INFO)
    time.sleep(1.0)  # the agent attaches its handler when the session daemon enables the events
    try:
        on = per_call_us(Tracer("bench", logger), calls)
    finally:
        session.stop()
    recorded = sum(1 for e in read_trace(out / "span_cost").events if e.node == "bench")
    print(f"span call: off {off:.3f} us, recording {on:.1f} us ({recorded} of {calls} events in the trace)")


def bag_figures(bag: Path) -> dict[str, float]:
    inference, lateness_p99 = [], float("nan")
    with Reader(bag) as reader:
        store = bag_typestore(reader)
        for connection, _stamp, raw in reader.messages():
            if connection.topic not in ("/rtc/timing", "/diagnostics"):
                continue
            msg = store.deserialize_cdr(raw, connection.msgtype)
            if connection.topic == "/rtc/timing":
                inference.append(msg.policy_inference_ms)
                continue
            for status in msg.status:
                if status.name == EXECUTOR_CONTROL_LOOP_STATUS:
                    values = {kv.key: kv.value for kv in status.values}
                    lateness_p99 = float(values.get("lateness_p99_ms", "nan"))
    p50, p95 = np.percentile(inference, [50.0, 95.0]) if inference else (float("nan"),) * 2
    return {"inference_p50_ms": p50, "inference_p95_ms": p95, "chunks": len(inference),
            "lateness_p99_ms": lateness_p99}


def trace_figures(trace_dir: Path) -> dict[str, float]:
    events = read_trace(trace_dir).events
    span_s = (max(e.end_ns for e in events) - min(e.start_ns for e in events)) / 1e9
    size = sum(f.stat().st_size for f in trace_dir.rglob("*") if f.is_file())
    return {"events_per_s": len(events) / span_s, "mb_per_min": size / 1e6 / span_s * 60.0}


def run_once(out: Path, duration: float, traced: bool) -> dict[str, float]:
    bag, trace = out / "bag", out / "trace"
    command = [sys.executable, "-m", "rtc_bringup.run", "--sim", "--duration", str(duration), "--record", str(bag)]
    subprocess.run(command + (["--trace", str(trace)] if traced else []), check=True, capture_output=True,
                   timeout=duration + 300)
    figures = bag_figures(bag)
    if traced:
        figures.update(trace_figures(trace))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--duration", type=float, default=40.0, help="seconds per run (includes start-up)")
    parser.add_argument("--calls", type=int, default=20000, help="span calls timed per side")
    args = parser.parse_args()
    results: dict[bool, list[dict]] = {False: [], True: []}
    with tempfile.TemporaryDirectory(prefix="bench_tracing_") as tmp:
        span_cost(args.calls, Path(tmp))
        for i in range(args.runs):
            for traced in (False, True):
                figures = run_once(Path(tmp) / f"{i}_{int(traced)}", args.duration, traced)
                results[traced].append(figures)
                print(f"run {i + 1} tracing {'on' if traced else 'off'}: {figures}", flush=True)
    print(f"\n{args.runs} runs of {args.duration:g} s each, tracing off and on alternating")
    print(f"{'tracing':>8} {'chunks':>7} {'inference p50 ms':>17} {'p95 ms':>7} {'tick lateness p99 ms':>21}"
          f" {'events/s':>9} {'MB/min':>7}")
    for traced, runs in results.items():
        mean = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
        extra = f" {mean['events_per_s']:>9.0f} {mean['mb_per_min']:>7.2f}" if traced else f" {'-':>9} {'-':>7}"
        print(f"{'on' if traced else 'off':>8} {sum(r['chunks'] for r in runs):>7} {mean['inference_p50_ms']:>17.1f}"
              f" {mean['inference_p95_ms']:>7.1f} {mean['lateness_p99_ms']:>21.3f}{extra}")


if __name__ == "__main__":
    main()
