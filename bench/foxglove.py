"""What the live Foxglove server costs the executor: tick lateness with and without it.

    python bench/foxglove.py [--pairs 3] [--duration 60]

Each run is `python -m rtc_bringup.run --sim --record BAG` as a user starts it, and with
`--foxglove PORT` in the runs with the server, where a WebSocket client (the tests' client,
rtc_bringup/test/foxglove_client.py) subscribes to every channel for the whole run, as the Foxglove
app does with the layout open. Runs without and with the server alternate (the order flips every
pair) so that the machine's load hits both alike. From each bag (bench/tracing.py's reading): the
executor's tick lateness p99 (its last /diagnostics report, over lateness_window_s) and policy
inference p50/p95; from the client: messages and megabytes per second forwarded.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
from tracing import bag_figures  # bench/tracing.py: the same figures from a bag

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rtc_bringup" / "test"))
from foxglove_client import Received, connect_with_retry, free_port, receive  # noqa: E402


def run_once(out: Path, duration: float, served: bool) -> dict[str, float]:
    bag, port = out / "bag", free_port()
    command = [sys.executable, "-m", "rtc_bringup.run", "--sim", "--duration", str(duration), "--record", str(bag)]
    got: list[Received] = []

    def watch() -> None:
        connect_with_retry(port, timeout=duration)
        got.append(receive(port, timeout=duration))

    watcher = threading.Thread(target=watch, daemon=True)
    runner = subprocess.Popen(command + (["--foxglove", str(port)] if served else []), stdout=subprocess.DEVNULL,
                              stderr=subprocess.STDOUT)
    if served:
        watcher.start()
    if runner.wait(timeout=duration + 300) != 0:
        raise RuntimeError(f"runner exited {runner.returncode}")
    figures = bag_figures(bag)
    if served:
        watcher.join(timeout=30)
        messages = got[0].messages if got else {}
        figures["forwarded_per_s"] = sum(len(m) for m in messages.values()) / duration
        figures["forwarded_mb_per_s"] = sum(len(p) for m in messages.values() for p in m) / 1e6 / duration
        figures["topics"] = len(messages)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per run (includes start-up)")
    args = parser.parse_args()
    results: dict[bool, list[dict]] = {False: [], True: []}
    with tempfile.TemporaryDirectory(prefix="bench_foxglove_") as tmp:
        for i in range(args.pairs):
            for served in ((False, True) if i % 2 == 0 else (True, False)):
                figures = run_once(Path(tmp) / f"{i}_{int(served)}", args.duration, served)
                results[served].append(figures)
                print(f"pair {i + 1} server {'on ' if served else 'off'}: "
                      + ", ".join(f"{k} {v:.3f}" for k, v in figures.items()), flush=True)
    print(f"\n{args.pairs} pairs of {args.duration:g} s runs, without and with the Foxglove server, alternating")
    print(f"{'server':>7} {'tick lateness p99 ms: each run':>32} {'median':>7} {'chunks':>7} {'inference p50 ms':>17}"
          f" {'forwarded msg/s':>16} {'MB/s':>6}")
    for served, runs in results.items():
        lateness = [r["lateness_p99_ms"] for r in runs]
        forwarded = (f" {np.mean([r['forwarded_per_s'] for r in runs]):>16.0f}"
                     f" {np.mean([r['forwarded_mb_per_s'] for r in runs]):>6.2f}") if served else f" {'-':>16} {'-':>6}"
        print(f"{'on' if served else 'off':>7} {' '.join(f'{v:.3f}' for v in lateness):>32} {np.median(lateness):>7.3f}"
              f" {sum(r['chunks'] for r in runs):>7} {np.median([r['inference_p50_ms'] for r in runs]):>17.1f}"
              f"{forwarded}")


if __name__ == "__main__":
    main()
