"""Chunk seams of the simulated graph over ROS 2 under added latency profiles, several runs per variant,
on either world, judged by the same measured-jerk metric as rtc_sim_eval.

    python bench/graph_seams.py [--runs 5] [--duration 20] [--latency fixed:6,jitter:6,2,spikes:5,0.1,10]
    python bench/graph_seams.py --world mujoco --duration 60 [--policy-path DIR] \\
        [--json out/graph.json] [--offline out/sim_eval.json --plot out/graph_vs_offline.png]
    python bench/graph_seams.py --replot out/graph.json [out/graph2.json ...] --offline ... --plot ...

Latency profiles are rtc_sim_eval's (`rtc_sim_eval.latency_profiles`, ticks at 30 Hz): in each run
the policy node's n-th inference takes at least the profile's delay for chunk n (it waits out the
rest after the real inference: `extra_latency_sequence_ms`, drawn per chunk from (--seed, n);
`drift` assumes a chunk every 10 ticks, the trigger's cadence). The real delay adds transport and
the tick phase.

Each run is `python -m rtc_bringup.run --sim [--world W]` with the recorder for `--duration` s (policy
start-up included: give the twin, whose policy loads beside the physics, 60 s), judged by
`rtc_tools.report` from the bag, as a user would. Variants: RTC with the default guidance, RTC with
`vjp`, and naive switching (no guidance, executor `replace`). Runs of the variants alternate, so that
machine load hits them alike. The worst seam of one run is a noisy statistic: min / median / max over
the runs are printed, with the guided merges whose real delay exceeded the promised one.

Two seam figures per run: the commanded seam ratio (largest step at a seam over the p99 step within
chunks) and the measured seam jerk ratio, the arm's jerk from /joint_states around the seams over its
jerk within chunks (rtc_contract.seams.seam_jerk, the report's `measured_seam_jerk_ratio`: the same
definition rtc_sim_eval applies to its simulated joint positions), with its absolute seam jerk. On
`--world mujoco` the joints are the twin's physics, and each run's pick-and-place outcome is printed.

`--offline` reads an `rtc_sim_eval --json` result (its `results[mode][latency]`, or with a further
level such as the chunk length, `results[mode][H][latency]`, one line per mode and level) and
`--plot` draws one figure: the measured seam jerk ratio against the delay in ticks, rtc_sim_eval's
modes as lines, the live graph's variants as points at their profile's delay, side by side (min-max
over runs as error bars; fixed profiles only), in the colour of the matching mode (identity, vjp,
naive). `--replot` prints the table and draws the figure from runs a
previous `--json` saved (several files: their runs pooled) instead of running the graph.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from rtc_sim_eval.latency_profiles import ChunkStart, Fixed, LatencyProfile, parse_profiles

RATE_HZ = 30.0
TRIGGER_REMAINING = 40
CHUNK_CADENCE_TICKS = 10  # the built-in policy's 50 rows less the trigger
SEQUENCE_CHUNKS = 200  # drawn per profile; the node cycles through them

VARIANTS = {
    "RTC (default: identity)": (),
    "RTC (vjp)": ("guidance_mode:=vjp",),
    "naive (off + replace)": ("guidance_mode:=off", "executor_mode:=replace"),
}
OFFLINE_MODE = {"RTC (default: identity)": "identity", "RTC (vjp)": "vjp", "naive (off + replace)": "naive"}


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


def seam_jerk(summary: dict) -> float:
    """The run's largest measured jerk near a counted seam, rad/s^3 (NaN without one)."""
    measured = summary.get("measured") or {}
    value = measured.get("seam_jerk_max_rad_s3")
    return float("nan") if value is None else float(value)


def run_line(spec: str, i: int, name: str, summary: dict) -> str:
    outcome = summary.get("task_outcome")
    task = ""
    if outcome:
        task = (f"; cube placed after {outcome['success_after_s']:.1f} s" if outcome["success"] else
                "; cube dropped outside the zone" if outcome["dropped_outside_zone"] else "; cube not placed") + \
            f", peak contact {outcome['peak_contact_force_n']:.1f} N"
    return (f"{spec} run {i + 1} {name}: merged {summary['merged']}, rejected {summary['rejected']}, seam ratio "
            f"{summary['seam_ratio']:.2f}, measured seam jerk ratio {summary['measured_seam_jerk_ratio']:.2f} "
            f"({seam_jerk(summary):.1f} rad/s^3), fresh-plan seams {summary['fresh_plan_seams']}{task}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per run, the policy's start-up included")
    parser.add_argument("--latency", default="fixed:6", help="latency profiles, rtc_sim_eval's language")
    parser.add_argument("--seed", type=int, default=0, help="seeds the profiles' draws")
    parser.add_argument("--world", default="kinematic", choices=("kinematic", "mujoco"))
    parser.add_argument("--policy-path", default="", help="the policy's checkpoint (default: the graph's)")
    parser.add_argument("--json", type=Path, help="write every run's report summary here")
    parser.add_argument("--offline", type=Path, help="an rtc_sim_eval --json result to compare with")
    parser.add_argument("--plot", type=Path, help="the figure of live and offline measured seam jerk")
    parser.add_argument("--replot", type=Path, nargs="+", metavar="JSON", help="saved runs (--json) to show again")
    args = parser.parse_args()
    offline = json.loads(args.offline.read_text()) if args.offline else None
    if args.replot:
        saved = [json.loads(path.read_text()) for path in args.replot]
        live = pooled([s["results"] for s in saved])
        for spec, results in live.items():
            print(f"{spec}: {', '.join(f'{len(v)} runs' for v in results.values())} per variant on the "
                  f"{saved[0]['world']} world (saved)")
            print_table(results)
        if args.plot:
            print(f"figure  {plot(live, offline, args.plot, saved[0]['world'])}")
        return
    world = (f"world:={args.world}",) + ((f"policy_path:={args.policy_path}",) if args.policy_path else ())
    live: dict[str, dict[str, list[dict]]] = {}
    for profile in parse_profiles(args.latency, RATE_HZ):
        sequence = latency_sequence_ms(profile, args.seed, args.duration)
        common = ("extra_latency_ms:=0", "extra_latency_sequence_ms:=" + ",".join(f"{ms:.1f}" for ms in sequence),
                  f"trigger_remaining:={TRIGGER_REMAINING}", *world)
        results: dict[str, list[dict]] = {name: [] for name in VARIANTS}
        with tempfile.TemporaryDirectory(prefix="graph_seams_") as tmp:
            for i in range(args.runs):
                for k, (name, extra) in enumerate(VARIANTS.items()):
                    summary = run_once(Path(tmp) / f"{i}_{k}", args.duration, (*common, *extra))
                    results[name].append(summary)
                    print(run_line(profile.spec, i, name, summary), flush=True)
        print(f"\n{profile.spec}: {args.runs} runs of {args.duration:g} s per variant on the {args.world} world, added "
              "latency in ticks at 30 Hz")
        print_table(results)
        live[profile.spec] = results
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"world": args.world, "policy_path": args.policy_path, "runs": args.runs,
                                         "duration_s": args.duration, "results": live}, indent=2, default=float))
    if args.plot:
        print(f"figure  {plot(live, offline, args.plot, args.world)}")


def pooled(saved: list[dict[str, dict[str, list[dict]]]]) -> dict[str, dict[str, list[dict]]]:
    """The runs of several saved results, per profile and variant."""
    live: dict[str, dict[str, list[dict]]] = {}
    for results in saved:
        for spec, variants in results.items():
            for name, summaries in variants.items():
                live.setdefault(spec, {}).setdefault(name, []).extend(summaries)
    return live


def print_table(results: dict[str, list[dict]]) -> None:
    print(f"{'variant':>24} {'seam min':>9} {'median':>7} {'max':>6} {'m.jerk min':>10} {'median':>7} {'max':>6} "
          f"{'seam jerk':>10} {'merged':>7} {'rejected':>8} {'d_real > d':>11} {'underruns':>10} {'fresh':>6} "
          f"{'placed':>7}")
    for name, summaries in results.items():
        ratios = np.array([s["seam_ratio"] for s in summaries], float)
        jerk_ratios = np.array([s["measured_seam_jerk_ratio"] for s in summaries], float)
        jerks = np.array([seam_jerk(s) for s in summaries])
        violations = sum(sum(real > assumed for assumed, real in s["delays"]) for s in summaries)
        guided = sum(len(s["delays"]) for s in summaries)
        merged = sum(s["merged"] for s in summaries)
        rejected = sum(s["rejected"] for s in summaries)
        underruns = sum(s["underruns"] for s in summaries)
        fresh = sum(s["fresh_plan_seams"] for s in summaries)
        outcomes = [s["task_outcome"] for s in summaries if s.get("task_outcome")]
        placed = f"{sum(o['success'] for o in outcomes)}/{len(outcomes)}" if outcomes else "-"
        print(f"{name:>24} {_spread(ratios, 9, 7, 6)} {_spread(jerk_ratios, 10, 7, 6)} {_median(jerks):10.1f} "
              f"{merged:7d} {rejected:8d} {f'{violations} of {guided}':>11} {underruns:10d} {fresh:6d} {placed:>7}",
              flush=True)


def _spread(values: np.ndarray, *widths: int) -> str:
    finite = values[np.isfinite(values)]
    cells = (finite.min(), np.median(finite), finite.max()) if len(finite) else (np.nan,) * 3
    return " ".join(f"{cell:{width}.2f}" for cell, width in zip(cells, widths))


def _median(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if len(finite) else float("nan")


def offline_lines(offline: dict) -> dict[str, list[tuple[float, float]]]:
    """(delay ticks, measured seam jerk ratio) per mode (and per further level, e.g. a chunk length)
    of an rtc_sim_eval result, for its fixed-delay profiles."""
    lines: dict[str, list[tuple[float, float]]] = {}

    def add(label: str, spec: str, figures: dict) -> None:
        value = figures.get("measured_seam_jerk_ratio")
        delay = _fixed_delay(spec)
        if value is not None and delay is not None:
            lines.setdefault(label, []).append((delay, float(value)))

    for mode, by_key in offline.get("results", {}).items():
        for key, figures in by_key.items():
            if "measured_seam_jerk_ratio" in figures:
                add(mode, key, figures)
                continue
            for inner_key, inner in figures.items():  # one more swept level, above or below the latency
                if isinstance(inner, dict):
                    level, spec = (key, inner_key) if ":" in inner_key else (inner_key, key)
                    add(f"{mode} (H={level})" if level.isdigit() else f"{mode} ({level})", spec, inner)
    return {label: sorted(points) for label, points in lines.items()}


def _fixed_delay(spec: str) -> float | None:
    """The delay in ticks of a fixed profile (`fixed:6`); None for the others."""
    try:
        profile = parse_profiles(spec, RATE_HZ)[0]
    except (ValueError, IndexError):
        return None
    return float(profile.ticks) if isinstance(profile, Fixed) else None


def plot(live: dict[str, dict[str, list[dict]]], offline: dict | None, out: Path, world: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"identity": "tab:blue", "vjp": "tab:orange", "naive": "tab:red"}
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for label, points in (offline_lines(offline) if offline else {}).items():
        mode = label.split(" ")[0]
        delays, values = zip(*points)
        ax.plot(delays, values, "-", marker=".", lw=1.2, color=colours.get(mode), alpha=0.9 if mode in colours else 0.4,
                label=f"rtc_sim_eval {label}")
    for spec, results in live.items():
        delay = _fixed_delay(spec)
        if delay is None:
            continue
        for k, (name, summaries) in enumerate(results.items()):
            values = np.array([s["measured_seam_jerk_ratio"] for s in summaries], float)
            values = values[np.isfinite(values)]
            if not len(values):
                continue
            median = float(np.median(values))
            spread = [[median - values.min()], [values.max() - median]]
            ax.errorbar([delay + 0.15 * (k - 1)], [median], yerr=spread, fmt="D", ms=7, capsize=4,
                        color=colours.get(OFFLINE_MODE[name]), mec="black", label=f"live graph {name} ({len(values)} runs)")
    ax.axhline(1.0, color="grey", lw=0.6, ls=":")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("delay [ticks at 30 Hz] (live: the added latency; the real delay adds inference and transport)")
    ax.set_ylabel("measured seam jerk ratio")
    ax.set_title(f"Measured seam jerk on the {world} world: rtc_sim_eval (lines) and the live ROS graph (points)",
                 fontsize=10)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


if __name__ == "__main__":
    main()
