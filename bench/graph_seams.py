"""Chunk seams of the simulated graph over ROS 2 at an added latency, several runs per variant.

    python bench/graph_seams.py [--runs 5] [--duration 20] [--latency-ticks 6]

Each run is `python -m rtc_bringup.run --sim` with the recorder, judged by `rtc_bringup.report`
from the bag, as a user would. Variants: RTC with the default guidance, RTC with `vjp`, and naive
switching (no guidance, executor `replace`). Runs of the variants alternate, so that machine load
hits them alike. The worst seam of one run is a noisy statistic: min / median / max over the runs
are printed, with the guided merges whose real delay exceeded the promised one.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

VARIANTS = {
    "RTC (default: identity)": (),
    "RTC (vjp)": ("guidance_mode:=vjp",),
    "naive (off + replace)": ("guidance_mode:=off", "executor_mode:=replace"),
}


def run_once(out: Path, duration: float, arguments: tuple[str, ...]) -> dict:
    bag = out / "bag"
    subprocess.run([sys.executable, "-m", "rtc_bringup.run", "--sim", "--duration", str(duration),
                    "--record", str(bag), *arguments], check=True, capture_output=True, timeout=duration + 120)
    summary = out / "summary.json"
    subprocess.run([sys.executable, "-m", "rtc_bringup.report", str(bag), "--json", str(summary)],
                   check=True, capture_output=True, timeout=120)
    return json.loads(summary.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--latency-ticks", type=int, default=6)
    args = parser.parse_args()
    common = (f"extra_latency_ms:={args.latency_ticks * 1000 / 30:.0f}", "trigger_remaining:=40")
    results: dict[str, list[dict]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="graph_seams_") as tmp:
        for i in range(args.runs):
            for k, (name, extra) in enumerate(VARIANTS.items()):
                summary = run_once(Path(tmp) / f"{i}_{k}", args.duration, (*common, *extra))
                results[name].append(summary)
                print(f"run {i + 1} {name}: seam ratio {summary['seam_ratio']:.2f}", flush=True)
    print(f"\n{args.runs} runs of {args.duration:g} s per variant, {args.latency_ticks} ticks of added latency at 30 Hz")
    print(f"{'variant':>24} {'seam min':>9} {'median':>7} {'max':>6} {'merged':>7} {'d_real > d':>11} {'underruns':>10}")
    for name, summaries in results.items():
        ratios = np.array([s["seam_ratio"] for s in summaries])
        violations = sum(sum(real > assumed for assumed, real in s["delays"]) for s in summaries)
        guided = sum(len(s["delays"]) for s in summaries)
        merged = sum(s["merged"] for s in summaries)
        underruns = sum(s["underruns"] for s in summaries)
        print(f"{name:>24} {ratios.min():9.2f} {np.median(ratios):7.2f} {ratios.max():6.2f} {merged:7d} "
              f"{f'{violations} of {guided}':>11} {underruns:10d}")


if __name__ == "__main__":
    main()
