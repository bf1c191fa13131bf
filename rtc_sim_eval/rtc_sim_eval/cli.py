"""rtc_sim_eval: closed-loop RTC evaluation of the built-in policy on the simulated SO-100 task.

    rtc_sim_eval --modes sync,naive,off,identity,vjp,prefix --delays 0,2,4,6,8 --episodes 20 \\
                 --json out/sim_eval.json --plots out/plots

No ROS and no wall clock: every (mode, delay) runs the same seeded episodes (same scenes, same
sampling noise per chunk), so the same arguments give the same JSON. The policy side is the policy
node's own InferenceScheduler with the node's parameters and defaults (trigger_remaining, the delay
estimator); `--delays` are the true inference latencies, the assumed delay is the scheduler's
estimate. Modes: sync (the arm waits while each chunk is inferred), naive (async, plain replace, no
guidance), off (async, RTC merge that skips the d_real stale rows, no guidance), identity / vjp /
prefix (RTC merge + guidance).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import torch
from rtc_policy_node.builtin_policy import default_checkpoint_path
from rtc_policy_node.core import RTCGuidance
from rtc_policy_node.core.inference_scheduler import SchedulerSettings
from so100_driver.arm import JOINT_NAMES
from so100_driver.sim import sample_scene

from rtc_sim_eval.denoise_trace import RecordingGuidance
from rtc_sim_eval.metrics import summarise
from rtc_sim_eval.rollout import EVAL_MODES, EpisodeRecord, LoopSettings, chunk_noise, run_episode
from rtc_sim_eval.sim_policy import SimPolicy

COLUMNS = (
    ("success_rate", "success"),
    ("collision_rate", "collide"),
    ("seam_ratio", "seam"),
    ("seam_ratio_max", "seam max"),
    ("max_acceleration_rad_s2", "acc"),
    ("max_jerk_rad_s3", "jerk"),
    ("mode_switches_per_episode", "switches"),
    ("time_to_target_s", "t target"),
)


def _int_list(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="rtc_sim_eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--modes", default="sync,naive,off,identity,vjp,prefix")
    parser.add_argument("--delays", type=_int_list, default=[0, 2, 4, 6, 8], help="inference delays in ticks")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", type=Path, help="small_flow checkpoint dir (default: the shipped one)")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--plots", type=Path, help="write PNG figures into this directory")
    parser.add_argument("--plot-delay", type=int, default=6, help="delay of the plotted episodes")
    parser.add_argument("--max-ticks", type=int, default=LoopSettings.max_ticks)
    parser.add_argument("--trigger-remaining", type=int, default=SchedulerSettings.trigger_remaining,
                        help="start an inference when the executor has this many actions left (node parameter)")
    parser.add_argument("--delay-margin-ticks", type=int, default=SchedulerSettings.delay_margin_ticks,
                        help="ticks added to the delay estimate (node parameter)")
    parser.add_argument("--guidance-horizon", type=int, default=LoopSettings.guidance_horizon)
    parser.add_argument("--max-guidance-weight", type=float, default=LoopSettings.max_guidance_weight)
    parser.add_argument("--schedule", default=LoopSettings.schedule, choices=("ZEROS", "ONES", "LINEAR", "EXP"))
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 keeps results bit-identical)")
    args = parser.parse_args(argv)
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in args.modes if m not in EVAL_MODES]
    if unknown:
        parser.error(f"unknown mode(s) {', '.join(unknown)}; choose from {', '.join(EVAL_MODES)}")
    if any(d < 0 for d in args.delays):
        parser.error("delays must be >= 0 ticks")
    return args


def evaluate(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    policy = SimPolicy(args.checkpoint or default_checkpoint_path())
    settings = LoopSettings(
        max_ticks=args.max_ticks,
        scheduler=SchedulerSettings(trigger_remaining=args.trigger_remaining,
                                    delay_margin_ticks=args.delay_margin_ticks),
        guidance_horizon=args.guidance_horizon,
        max_guidance_weight=args.max_guidance_weight,
        schedule=args.schedule,
    )
    scenes = [sample_scene(np.random.default_rng([args.seed, episode])) for episode in range(args.episodes)]
    results: dict[str, dict[str, dict]] = {}
    plotted: dict[str, EpisodeRecord] = {}
    for mode in args.modes:
        results[mode] = {}
        for delay in args.delays:
            records = [
                run_episode(policy, scene, mode, delay, settings, args.seed, episode)
                for episode, scene in enumerate(scenes)
            ]
            results[mode][str(delay)] = summarise(records)
            if delay == args.plot_delay and records:
                plotted[mode] = records[0]
            print(_row(mode, delay, results[mode][str(delay)]), flush=True)
    report = {
        "settings": {
            "modes": args.modes,
            "delays": args.delays,
            "episodes": args.episodes,
            "seed": args.seed,
            "chunk_size": policy.chunk_size,
            "num_inference_steps": policy.policy(settings.guidance("off")).config.num_inference_steps,
            "trigger_remaining": settings.scheduler.trigger_remaining,
            "delay_margin_ticks": settings.scheduler.delay_margin_ticks,
            "guidance_horizon": settings.guidance_horizon,
            "max_guidance_weight": settings.max_guidance_weight,
            "schedule": settings.schedule,
            "max_ticks": settings.max_ticks,
        },
        "results": results,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    if args.plots:
        _write_plots(args, policy, settings, scenes, plotted)
    return report


def _header() -> str:
    return f"{'mode':>8} {'delay':>5} " + " ".join(f"{title:>9}" for _, title in COLUMNS)


def _row(mode: str, delay: int, summary: dict) -> str:
    cells = ["-" if summary[key] is None else f"{summary[key]:.3g}" for key, _ in COLUMNS]
    return f"{mode:>8} {delay:>5} " + " ".join(f"{cell:>9}" for cell in cells)


def _write_plots(
    args: argparse.Namespace, policy: SimPolicy, settings: LoopSettings, scenes: list, plotted: dict[str, EpisodeRecord]
) -> None:
    from rtc_sim_eval.plots import plot_denoising, plot_episode

    args.plots.mkdir(parents=True, exist_ok=True)
    for mode, record in plotted.items():
        plot_episode(record, args.plots / f"episode_{mode}_delay{args.plot_delay}.png")
    # The second inference of episode 0: the arm under way, the first chunk's leftover to continue.
    # It starts when the first chunk (merged at tick `delay`) has trigger_remaining rows left.
    delay, start = args.plot_delay, policy.chunk_size - settings.scheduler.trigger_remaining
    if not scenes or start <= delay:
        return
    warmup = run_episode(policy, scenes[0], "vjp", delay, dataclasses.replace(settings, max_ticks=start), args.seed, 0)
    if len(warmup.positions) <= start or not warmup.merged:
        return
    leftover = warmup.merged[0].model_output[start:]
    noise = chunk_noise(args.seed, 0, 1, (policy.chunk_size, policy.action_dim))
    guided = policy.policy(settings.guidance("vjp"))
    installed = guided.guidance
    traces = []
    for mode in ("vjp", "off"):  # "off" inside a guided policy: the leftover is passed and ignored
        recorder = RecordingGuidance(RTCGuidance(installed.rtc_config, mode=mode))
        guided.use_guidance(recorder)
        policy.infer(settings.guidance("vjp"), warmup.positions[-1], scenes[0], noise, leftover, delay)
        traces.append(recorder.steps)
    guided.use_guidance(installed)
    plot_denoising(
        traces[0],
        traces[1],
        leftover,
        joint=0,
        title=f"denoising the second chunk at delay {delay}: {JOINT_NAMES[0]} (normalised), vjp guidance vs none",
        path=args.plots / f"denoising_delay{delay}.png",
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(_header(), flush=True)
    evaluate(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
