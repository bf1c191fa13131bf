"""Chunk seams of the simulated graph over ROS 2 under added latency profiles, several runs per variant.

    python bench/graph_seams.py [--runs 5] [--duration 20] [--latency fixed:6,jitter:6,2,spikes:5,0.1,10]

Latency profiles are rtc_sim_eval's (`rtc_sim_eval.latency_profiles`, ticks at 30 Hz): in each run
the policy node's n-th inference takes at least the profile's delay for chunk n (it waits out the
rest after the real inference: `extra_latency_sequence_ms`, drawn per chunk from (--seed, n);
`drift` assumes a chunk every 10 ticks, the trigger's cadence). The real delay adds transport and
the tick phase.

Each run is `python -m rtc_bringup.run --sim` with the recorder, judged by `rtc_tools.report`
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
from rtc_sim_eval.latency_profiles import ChunkStart, LatencyProfile, parse_profiles

RATE_HZ = 30.0
TRIGGER_REMAINING = 40
CHUNK_CADENCE_TICKS = 10  # the built-in policy's 50 rows less the trigger
SEQUENCE_CHUNKS = 200  # drawn per profile; the node cycles through them

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
    subprocess.run([sys.executable, "-m", "rtc_tools.report", str(bag), "--json", str(summary)],
                   check=True, capture_output=True, timeout=120)
    return json.loads(summary.read_text())


def latency_sequence_ms(profile: LatencyProfile, seed: int, duration_s: float) -> list[float]:
    """The added latency of each chunk of a run, in ms."""
    ticks = int(duration_s * RATE_HZ)
    return [profile.delay(ChunkStart(seed, 0, i, i * CHUNK_CADENCE_TICKS, ticks)) * 1000.0 / RATE_HZ
            for i in range(SEQUENCE_CHUNKS)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--latency", default="fixed:6", help="latency profiles, rtc_sim_eval's language")
    parser.add_argument("--seed", type=int, default=0, help="seeds the profiles' draws")
    args = parser.parse_args()
    for profile in parse_profiles(args.latency, RATE_HZ):
        sequence = latency_sequence_ms(profile, args.seed, args.duration)
        common = ("extra_latency_ms:=0", "extra_latency_sequence_ms:=" + ",".join(f"{ms:.1f}" for ms in sequence),
                  f"trigger_remaining:={TRIGGER_REMAINING}")
        results: dict[str, list[dict]] = {name: [] for name in VARIANTS}
        with tempfile.TemporaryDirectory(prefix="graph_seams_") as tmp:
            for i in range(args.runs):
                for k, (name, extra) in enumerate(VARIANTS.items()):
                    summary = run_once(Path(tmp) / f"{i}_{k}", args.duration, (*common, *extra))
                    results[name].append(summary)
                    print(f"{profile.spec} run {i + 1} {name}: seam ratio {summary['seam_ratio']:.2f}, fresh-plan "
                          f"seams {summary['fresh_plan_seams']} ({summary['fresh_plan_seam_ratio']:.2f})", flush=True)
        print(f"\n{profile.spec}: {args.runs} runs of {args.duration:g} s per variant, added latency in ticks at 30 Hz")
        print_table(results)


def print_table(results: dict[str, list[dict]]) -> None:
    print(f"{'variant':>24} {'seam min':>9} {'median':>7} {'max':>6} {'merged':>7} {'d_real > d':>11} {'underruns':>10} "
          f"{'fresh seams':>12}")
    for name, summaries in results.items():
        ratios = np.array([s["seam_ratio"] for s in summaries])
        violations = sum(sum(real > assumed for assumed, real in s["delays"]) for s in summaries)
        guided = sum(len(s["delays"]) for s in summaries)
        merged = sum(s["merged"] for s in summaries)
        underruns = sum(s["underruns"] for s in summaries)
        fresh = sum(s["fresh_plan_seams"] for s in summaries)
        print(f"{name:>24} {ratios.min():9.2f} {np.median(ratios):7.2f} {ratios.max():6.2f} {merged:7d} "
              f"{f'{violations} of {guided}':>11} {underruns:10d} {fresh:12d}", flush=True)


if __name__ == "__main__":
    main()
