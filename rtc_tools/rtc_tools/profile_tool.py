"""rtc_profile: how much RTC guidance costs on a policy, mode against mode, side by side (no ROS graph).

    rtc_profile [--policy_path PATH_OR_HUB_ID] [--device cpu] [--num_iterations 50] \\
                [--execution_horizon 25] [--modes off,identity,vjp,prefix] [--compare-lerobot] \\
                [--enable_detailed_profiling] [--use_torch_compile [--torch_compile_backend inductor]
                [--torch_compile_mode default]] [--json FILE] [--png FILE]

LeRobot's RTC profiling guide's comparison script, for any LeRobot policy (the built-in checkpoint by
default), with the guide's flag spellings. The policy is loaded once; each mode installs its guidance
(`off`: no leftover, as "without RTC"; `identity`, `vjp`, `prefix`: this project's RTCGuidance;
`lerobot` with --compare-lerobot: LeRobot's own RTCProcessor) and samples on the same made-up
observation, its previous chunk's rows from `execution_horizon` on as the leftover. Modes run in
rounds, one iteration of each in turn, so that a busy machine's load falls on all of them alike; a
verdict compares round by round. Warm-up iterations are timed and reported apart. Output: a table
with one column per mode (mean, min, max, p95, iterations per second, the breakdown into the guide's
components), one verdict per mode against the first mode, optional JSON and a PNG bar chart.
--enable_detailed_profiling adds per-method timings inside the policy (embedding, each denoising
step, the denoiser, guidance) through rtc_runtime.profiling, one summary per mode. A policy that
cannot be loaded: one line, exit 2.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rtc_runtime.profiling import (
    clear_profiling_stats,
    disable_profiling,
    enable_profiling,
    format_profiling_summary,
    get_profiling_samples,
    percentile,
    profile_method,
    profile_section,
    record_timing,
    stats_of,
    synchronized_clock,
)

from rtc_contract.modes import LEROBOT_MODE, GuidanceMode
from rtc_policy_node.policy_methods import TORCH_COMPILE_MODES, compile_policy, wrap_methods

MODES = tuple(mode.value for mode in GuidanceMode)
NOISE_FLOOR_PCT = 5.0  # the guide's "similar" band; a wider 95 % interval of the difference widens it
BREAKDOWN = ("get_actions.preprocessing", "get_actions.policy_inference", "rtc.guidance",
             "get_actions.postprocessing")


class TimedGuidance:
    """Any guidance with LeRobot's `RTCProcessor.denoise_step` interface (ours, or LeRobot's own),
    timed: `seconds` is the time spent in denoise_step outside the denoiser since `reset_timing()`;
    with profiling enabled every step is also recorded as rtc.denoise_step, its denoiser call as
    rtc.denoise_step.base_denoising and the rest as rtc.guidance."""

    def __init__(self, inner: Any, device: Any = None) -> None:
        self.inner = inner
        self.device = device
        self.mode = getattr(inner, "mode", "identity")  # LeRobot's RTCProcessor computes identity
        self.seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def reset_timing(self) -> None:
        self.seconds = 0.0

    def denoise_step(self, x_t, prev_chunk_left_over, inference_delay, time, original_denoise_step_partial,
                     execution_horizon=None):
        denoiser_s = 0.0

        def denoiser(x):
            nonlocal denoiser_s
            started = synchronized_clock(self.device)
            velocity = original_denoise_step_partial(x)
            denoiser_s += synchronized_clock(self.device) - started
            return velocity

        started = synchronized_clock(self.device)
        velocity = self.inner.denoise_step(x_t, prev_chunk_left_over, inference_delay, time, denoiser,
                                           execution_horizon=execution_horizon)
        total = synchronized_clock(self.device) - started
        self.seconds += total - denoiser_s
        record_timing("rtc.denoise_step", total)
        record_timing("rtc.denoise_step.base_denoising", denoiser_s)
        record_timing("rtc.guidance", total - denoiser_s)
        return velocity


@dataclass
class ModeResult:
    """One mode's timings in milliseconds, and its detailed samples in seconds by component."""

    mode: str
    times_ms: list[float] = field(default_factory=list)
    warmup_ms: list[float] = field(default_factory=list)
    breakdown_ms: dict[str, list[float]] = field(default_factory=lambda: {name: [] for name in BREAKDOWN})
    samples: dict[str, list[float]] = field(default_factory=dict)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.times_ms)

    def detailed(self) -> dict[str, dict[str, float]]:
        return {name: stats_of(values) for name, values in self.samples.items() if values}

    def figures(self) -> dict[str, float]:
        t = self.times_ms
        return {"mean_ms": self.mean, "min_ms": min(t), "max_ms": max(t), "p95_ms": percentile(t, 95),
                "std_ms": statistics.pstdev(t), "iterations_per_s": 1000.0 * len(t) / sum(t),
                **{f"{name}_ms": statistics.fmean(v) for name, v in self.breakdown_ms.items()},
                "warmup_iterations": len(self.warmup_ms),
                "warmup_mean_ms": statistics.fmean(self.warmup_ms) if self.warmup_ms else math.nan,
                "first_iteration_ms": self.warmup_ms[0] if self.warmup_ms else math.nan}


def verdict(result: ModeResult, base: ModeResult) -> str:
    """One line in plain words: `result` against the baseline mode, and where added time went."""
    if result is base:
        return f"{result.mode}: baseline, {result.mean:.1f} ms per chunk"
    diff = result.mean - base.mean
    pct = 100.0 * diff / base.mean
    # Modes run in turn within each round, so a round's difference cancels the load of that moment.
    paired = [a - b for a, b in zip(result.times_ms, base.times_ms)]
    sem = statistics.stdev(paired) / math.sqrt(len(paired)) if len(paired) > 1 else math.inf
    noise = max(NOISE_FLOOR_PCT, 100.0 * 2.0 * sem / base.mean)
    head = f"{result.mode}: {pct:+.1f} % over {base.mode}"
    if abs(pct) <= noise:
        return f"{head}, within noise (+-{noise:.0f} %)"
    if pct < 0:
        return f"{result.mode}: {pct:+.1f} % vs {base.mode}, faster"
    added = {name: statistics.fmean(result.breakdown_ms[name]) - statistics.fmean(base.breakdown_ms[name])
             for name in BREAKDOWN}
    if added["rtc.guidance"] >= 0.5 * diff:
        advice = "try --use_torch_compile" if result.mode == GuidanceMode.IDENTITY else "try identity or --use_torch_compile"
        return f"{head}, guidance dominates ({added['rtc.guidance']:.1f} of {diff:.1f} ms): {advice}"
    largest = max(added, key=added.get)
    if largest == "get_actions.preprocessing":
        return f"{head}, preprocessing dominates: fewer or smaller images"
    return f"{head}, the denoiser's own calls take longer ({added['get_actions.policy_inference']:.1f} ms " \
           "more inference): try --use_torch_compile"


def lerobot_comparison(results: list[ModeResult]) -> str | None:
    """LeRobot's RTCProcessor against our identity mode, which computes the same correction."""
    by_mode = {r.mode: r for r in results}
    identity = GuidanceMode.IDENTITY.value
    if LEROBOT_MODE not in by_mode or identity not in by_mode:
        return None
    theirs, ours = (statistics.fmean(by_mode[m].breakdown_ms["rtc.guidance"]) for m in (LEROBOT_MODE, identity))
    total = 100.0 * (by_mode[identity].mean - by_mode[LEROBOT_MODE].mean) / by_mode[LEROBOT_MODE].mean
    return (f"identity vs LeRobot's RTCProcessor (the same correction): guidance {ours:.2f} vs {theirs:.2f} ms "
            f"per chunk, whole chunk {total:+.1f} %")


def format_table(results: list[ModeResult]) -> str:
    rows = [("mean (ms)", "mean_ms"), ("min (ms)", "min_ms"), ("max (ms)", "max_ms"), ("p95 (ms)", "p95_ms"),
            ("std (ms)", "std_ms"), ("iterations/s", "iterations_per_s"),
            *((f"{name} (ms)", f"{name}_ms") for name in BREAKDOWN),
            ("warm-up iterations", "warmup_iterations"), ("warm-up mean (ms)", "warmup_mean_ms"),
            ("first iteration (ms)", "first_iteration_ms")]
    figures = [r.figures() for r in results]
    width = max(len(label) for label, _ in rows) + 2
    lines = [f"{'':<{width}}" + "".join(f"{r.mode:>12}" for r in results)]
    for label, key in rows:
        cells = "".join(f"{f[key]:>12d}" if isinstance(f[key], int) else f"{f[key]:>12.2f}" for f in figures)
        lines.append(f"{label:<{width}}{cells}")
    return "\n".join(lines)


def plot(results: list[ModeResult], path: Path, title: str) -> None:
    """Stacked bars of each mode's mean breakdown, with the p95 of the whole as a mark."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parts = {"preprocessing": [], "denoiser": [], "guidance": [], "postprocessing": []}
    for r in results:
        mean = {name: statistics.fmean(v) for name, v in r.breakdown_ms.items()}
        parts["preprocessing"].append(mean["get_actions.preprocessing"])
        parts["denoiser"].append(mean["get_actions.policy_inference"] - mean["rtc.guidance"])
        parts["guidance"].append(mean["rtc.guidance"])
        parts["postprocessing"].append(mean["get_actions.postprocessing"])
    fig, ax = plt.subplots(figsize=(1.6 * len(results) + 3, 4))
    x = range(len(results))
    bottom = [0.0] * len(results)
    for label, values in parts.items():
        ax.bar(x, values, bottom=bottom, label=label)
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.plot(x, [r.figures()["p95_ms"] for r in results], "k_", ms=30, mew=2, label="p95 of the whole")
    ax.set_xticks(list(x), [r.mode for r in results])
    ax.set_ylabel("ms per chunk")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rtc_profile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy_path", default="", help="checkpoint dir or hub id (default: the built-in one)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--num_iterations", type=int, default=50, help="timed iterations per mode")
    parser.add_argument("--warmup_iterations", type=int, default=5, help="untimed-in-the-table iterations per mode")
    parser.add_argument("--execution_horizon", type=int, default=25)
    parser.add_argument("--inference_delay", type=int, default=4, help="delay handed to guidance, ticks")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated; the first is the baseline")
    parser.add_argument("--compare-lerobot", "--compare_lerobot", dest="compare_lerobot", action="store_true",
                        help="also run LeRobot's own RTCProcessor on the same policy")
    parser.add_argument("--enable_detailed_profiling", action="store_true")
    parser.add_argument("--use_torch_compile", action="store_true",
                        help="torch.compile the policy's embedding and denoiser methods")
    parser.add_argument("--torch_compile_backend", default="inductor", help="torch.compile backend (LeRobot's name)")
    parser.add_argument("--torch_compile_mode", default="default", choices=TORCH_COMPILE_MODES,
                        help="torch.compile mode (LeRobot's name)")
    parser.add_argument("--task", default="pick up the object", help="for policies that take a language task")
    parser.add_argument("--threads", type=int, default=0, help="torch threads; 0: torch's default")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write the figures and verdicts as JSON")
    parser.add_argument("--png", type=Path, help="write a bar chart of the breakdown")
    args = parser.parse_args(argv)
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in args.modes if m not in MODES]
    if unknown or not args.modes:
        parser.error(f"unknown mode(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(MODES)}")
    if args.compare_lerobot:
        args.modes.append(LEROBOT_MODE)
    if args.num_iterations < 1 or args.warmup_iterations < 0:
        parser.error("--num_iterations must be >= 1 and --warmup_iterations >= 0")
    if args.execution_horizon < 1 or args.inference_delay < 0:
        parser.error("--execution_horizon must be >= 1 and --inference_delay >= 0")
    return args


def load_policy(args: argparse.Namespace):
    """The policy, loaded as the policy node loads it; guided modes need an rtc_processor."""
    from rtc_policy_node.builtin_policy import default_checkpoint_path
    from rtc_policy_node.lerobot_policy import GuidanceSettings, LeRobotPolicy

    load_mode = next((m for m in args.modes if m != GuidanceMode.OFF), GuidanceMode.OFF)
    load_mode = GuidanceMode.IDENTITY if load_mode == LEROBOT_MODE else load_mode
    path = args.policy_path or str(default_checkpoint_path())
    return LeRobotPolicy(path, args.device, GuidanceSettings(load_mode, args.execution_horizon), task=args.task)


def guidance_for(mode: str, policy) -> TimedGuidance:
    from rtc_policy_node.core.guidance import RTCGuidance

    if mode == LEROBOT_MODE:
        from lerobot.policies.rtc.modeling_rtc import RTCProcessor

        return TimedGuidance(RTCProcessor(policy.rtc_config), policy.device)
    return TimedGuidance(RTCGuidance(policy.rtc_config, mode=mode), policy.device)


def run_rounds(policy, modes: list[str], observation: tuple, args: argparse.Namespace) -> list[ModeResult]:
    """Warm-up and timed iterations in rounds, each round running every mode once in turn, so
    that the load of a shared machine falls on every mode alike."""
    state, images = observation
    guidances = {mode: guidance_for(mode, policy) for mode in modes}
    results = {mode: ModeResult(mode) for mode in modes}
    leftovers: dict[str, Any] = {mode: None for mode in modes}
    for i in range(args.warmup_iterations + args.num_iterations):
        for mode in modes:
            result = results[mode]
            clear_profiling_stats()
            started = time.perf_counter()
            with profile_section("get_actions"):
                chunk = policy.sample(state, images, leftovers[mode], args.inference_delay, guide_with=guidances[mode])
            elapsed_ms = (time.perf_counter() - started) * 1e3
            if mode != GuidanceMode.OFF and chunk.model_output.shape[0] > args.execution_horizon:
                leftovers[mode] = chunk.model_output[args.execution_horizon:]
            if i < args.warmup_iterations:
                result.warmup_ms.append(elapsed_ms)
                continue
            result.times_ms.append(elapsed_ms)
            parts = zip(BREAKDOWN, (chunk.preprocessing_s, chunk.inference_s, chunk.guidance_s,
                                    chunk.postprocessing_s))
            for name, seconds in parts:
                result.breakdown_ms[name].append(seconds * 1e3)
                if name != "rtc.guidance":  # TimedGuidance records guidance per step itself
                    record_timing(name, seconds)
            for name, values in get_profiling_samples().items():
                result.samples.setdefault(name, []).extend(values)
    return list(results.values())


def made_up_observation(policy, seed: int) -> tuple:
    """A state and images of the shapes the policy's config declares (feature units, uint8 HxWx3)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    state = rng.normal(size=policy.state_dim) * 10.0
    images = {}
    for key in policy.image_keys:
        channels, height, width = policy.image_shapes[key]
        images[key] = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
    return state, images


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    try:
        policy = load_policy(args)
    except Exception as exc:  # a bad path, a hub id that cannot be fetched, a broken checkpoint
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())
        print(f"rtc_profile: cannot load policy {args.policy_path or '(built-in)'!r}: {reason}", file=sys.stderr)
        return 2
    if args.use_torch_compile:  # the model's methods; guidance stays eager (it reads numpy schedules)
        try:
            compiled = compile_policy(policy, args.torch_compile_backend, args.torch_compile_mode)
        except ValueError as exc:
            print(f"rtc_profile: {exc}", file=sys.stderr)
            return 2
        print(f"torch.compile: {', '.join(compiled) or 'no known policy methods'}")
    if args.enable_detailed_profiling:
        enable_profiling(device=args.device)
        found = wrap_methods(policy, lambda method, name: profile_method(method, name=name))
        print(f"detailed profiling: {', '.join(found) or 'no known policy methods'}, plus rtc.* per denoising step")
    observation = made_up_observation(policy, args.seed)
    title = (f"{policy.type} from {args.policy_path or 'built-in checkpoint'} on {args.device}, "
             f"{args.num_iterations} iterations, horizon {args.execution_horizon}, delay {args.inference_delay}")
    print(f"rtc_profile: {title}; warm-up {args.warmup_iterations} per mode")

    results = run_rounds(policy, args.modes, observation, args)
    disable_profiling()
    if args.enable_detailed_profiling:
        for result in results:
            print(format_profiling_summary(result.detailed(), whole="get_actions",
                                           title=f"DETAILED PROFILE: {result.mode}"))
            print()

    print(format_table(results))
    print()
    verdicts = [verdict(r, results[0]) for r in results]
    verdicts += [line for line in [lerobot_comparison(results)] if line]
    print("\n".join(verdicts))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "policy": args.policy_path or "built-in", "policy_type": policy.type, "device": args.device,
            "num_iterations": args.num_iterations, "warmup_iterations": args.warmup_iterations,
            "execution_horizon": args.execution_horizon, "inference_delay": args.inference_delay,
            "use_torch_compile": args.use_torch_compile, "verdicts": verdicts,
            "modes": {r.mode: {**r.figures(), "times_ms": r.times_ms, "warmup_ms": r.warmup_ms,
                               "breakdown_ms": r.breakdown_ms, "detailed": r.detailed()} for r in results}},
            indent=2))
        print(f"json: {args.json}")
    if args.png:
        plot(results, args.png, title)
        print(f"png: {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
