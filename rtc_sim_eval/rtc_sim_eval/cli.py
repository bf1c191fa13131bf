"""rtc_sim_eval: closed-loop RTC evaluation of the built-in policy on the simulated SO-100 task.

    rtc_sim_eval --modes sync,naive,off,identity,vjp,prefix --delays 0,2,4,6,8 --episodes 20 \\
                 --json out/sim_eval.json --plots out/plots
    rtc_sim_eval --modes lerobot,identity --latency jitter:6,2,spikes:5,0.1,10,cold:30,6 --episodes 20
    rtc_sim_eval --world mujoco --modes naive,identity --delays 6 --episodes 10   # the arm is the MuJoCo twin
    rtc_sim_eval --world mujoco --task pick_place --modes sync --delays 0 --episodes 20   # the twin's task
    rtc_sim_eval --world mujoco --task pick_place --delays 0..20 --horizons 30,50 --carry-estimate \
                 --modes sync,naive,off,identity,vjp,prefix,lerobot,lerobot_main,rollforward \
                 --checkpoint DIR --json out/protocol.json --plots out/plots   # the protocol (docs/evaluation.md)
    python -m rtc_sim_eval.merge out/protocol.json out/part*.json --plot out/protocol.png   # run in parts

No ROS and no wall clock: every (mode, latency profile) runs the same seeded episodes (same scenes,
same sampling noise and true delay per chunk), so the same arguments give the same JSON.
`--world mujoco`: the arm is the MuJoCo twin's (docs/twin.md), its servos commanded as the driver
commands them and stepped in simulated time; positions, seams, jerk and success are then judged on
where the arm got, not on what it was told. `--task pick_place` (world mujoco): the twin's
pick-and-place task instead of the reaching task, episode e on layout seed e + --seed, the policy
seeing the twin's front camera, success from the physics (rtc_sim_eval.twin_task). The policy
side is the policy node's own InferenceScheduler with the node's parameters and defaults
(trigger_remaining, the delay estimator); the latency profiles (`--latency`, see
rtc_sim_eval.latency_profiles; `--delays D` is `fixed:D`) give the true delays, the assumed delay is
the scheduler's estimate. Modes: sync (the arm waits while each chunk is inferred), naive (async,
plain replace, no guidance), off (async, RTC merge that skips the d_real stale rows, no guidance),
identity / vjp / prefix (RTC merge + guidance), lerobot (LeRobot 0.4.4's own ActionQueue,
LatencyTracker and RTCProcessor as its real-robot example wires them; rtc_sim_eval.lerobot_pipeline),
lerobot_main (the same loop under LeRobot main's merge and latency rules; rtc_sim_eval.lerobot_main),
rollforward (the default guidance, the policy given the state at the chunk's first executed row;
rtc_sim_eval.rollforward). `--horizons 30,50`: the policy's chunk sliced to H rows
(rtc_sim_eval.protocol), one more level in the JSON: results[mode][H][latency profile].
`--carry-estimate`: each (mode, H, profile)'s episodes share one delay estimate, as one process would.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path

import numpy as np
import torch
from rtc_contract.modes import GuidanceMode
from tqdm import tqdm
from rtc_policy_node.builtin_policy import default_checkpoint_path
from rtc_policy_node.core.guidance import RTCGuidance
from rtc_policy_node.core.inference_scheduler import FIRST_CHUNK_GUIDANCE, SchedulerSettings
from rtc_policy_node.core.schedules import PrefixSchedule
from rtc_policy_node.lerobot_policy import GuidanceSettings
from so100_driver.arm import JOINT_NAMES
from so100_driver.sim import sample_scene
from so100_driver.worlds import WorldUnavailable, check_world_name

from rtc_policy_node.denoise_trace import RecordingGuidance
from rtc_sim_eval.latency_profiles import Fixed, LatencyProfile, parse_profiles
from rtc_sim_eval.lerobot_pipeline import LEROBOT_MODES, new_latency_estimate, run_lerobot_episode
from rtc_sim_eval.metrics import summarise
from rtc_sim_eval.protocol import Carried, SlicedPolicy, by_horizon, parse_ticks, settings_for_horizon
from rtc_sim_eval.rollout import CONTROL_RATE_HZ, EpisodeRecord, EvalMode, LoopSettings, chunk_noise, run_episode
from rtc_sim_eval.sim_policy import SimPolicy
from rtc_sim_eval.twin_task import PickPlaceScene

COLUMNS = (
    ("success_rate", "success"),
    ("collision_rate", "collide"),
    ("drop_rate", "drops"),
    ("peak_contact_force_n", "contact N"),
    ("seam_ratio", "seam"),
    ("seam_ratio_max", "seam max"),
    ("measured_seam_jerk_ratio", "m.jerk"),
    ("max_acceleration_rad_s2", "acc"),
    ("max_jerk_rad_s3", "jerk"),
    ("mode_switches_per_episode", "switches"),
    ("time_to_target_s", "t target"),
    ("late_chunk_rate", "d_real>d"),
    ("underruns_per_episode", "underruns"),
    ("assumed_delay_mean", "d mean"),
    ("fresh_plan_rate", "fresh"),
)
MODES = tuple(mode.value for mode in EvalMode)
TASKS = ("reach", "pick_place")
PICK_PLACE_MAX_TICKS = 450  # 15 s: the expert's episodes take 9-11 s
DEFAULT_DELAYS = [0, 2, 4, 6, 8]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="rtc_sim_eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--modes", default="sync,naive,off,identity,vjp,prefix")
    parser.add_argument("--delays", help="fixed inference delays in ticks, fixed:D each: a list, A..B or A..B:STEP "
                        f"(default {','.join(map(str, DEFAULT_DELAYS))} unless --latency is given)")
    parser.add_argument("--horizons", help="chunk lengths H (the policy's chunk sliced to its first H rows), "
                        "e.g. 30,50; adds a level to the JSON (default: the policy's own, no level)")
    parser.add_argument("--carry-estimate", action="store_true",
                        help="carry each pipeline's delay estimate from episode to episode, as a long-running node")
    parser.add_argument("--latency", default="", help="latency profiles in ticks, e.g. jitter:6,2,spikes:5,0.1,10,"
                        "cold:30,6,drift:2,10,replay:BAG (rtc_sim_eval.latency_profiles)")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", type=Path, help="small_flow checkpoint dir (default: the shipped one)")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--plots", type=Path, help="write PNG figures into this directory")
    parser.add_argument("--plot-delay", type=int, default=6, help="episodes of fixed:D are plotted")
    parser.add_argument("--max-ticks", type=int, help=f"episode length (default {LoopSettings.max_ticks}, "
                        f"pick_place {PICK_PLACE_MAX_TICKS})")
    parser.add_argument("--trigger-remaining", type=int, default=SchedulerSettings.trigger_remaining,
                        help="start an inference when the executor has this many actions left (node parameter)")
    parser.add_argument("--delay-margin-ticks", type=int, default=SchedulerSettings.delay_margin_ticks,
                        help="ticks added to the delay estimate (node parameter)")
    parser.add_argument("--first-chunk-guidance", default=SchedulerSettings.first_chunk_guidance,
                        choices=FIRST_CHUNK_GUIDANCE, help="how the chunk after the first after rest follows it "
                        "(node parameter first_chunk_guidance)")
    parser.add_argument("--first-chunk-max-disagreement", type=float,
                        default=SchedulerSettings.first_chunk_max_disagreement,
                        help="with executed: use the unguided chunk when the guided one differs more from the "
                        "delay's row on (normalised; 0: never; node parameter first_chunk_max_disagreement)")
    parser.add_argument("--guidance-horizon", type=int, default=GuidanceSettings.execution_horizon)
    parser.add_argument("--max-guidance-weight", type=float, default=GuidanceSettings.max_guidance_weight)
    parser.add_argument("--schedule", default=GuidanceSettings.schedule.name, choices=[s.name for s in PrefixSchedule])
    parser.add_argument("--mode-candidates", type=int, default=GuidanceSettings.mode_candidates,
                        help="unguided candidates a guided chunk is chosen from (0: plain guidance)")
    parser.add_argument("--max-mode-disagreement", type=float, default=GuidanceSettings.max_mode_disagreement,
                        help="gap (normalised) to the leftover within which a quarter of the candidates must lie "
                        "for the closest to be guided; else the first is used unguided")
    parser.add_argument("--switch-transition-rows", type=int, default=GuidanceSettings.switch_transition_rows,
                        help="rows from the executed ones onto the new plan when the chunk after a start switches "
                        "to its unguided sample")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 keeps results bit-identical)")
    parser.add_argument("--world", default="kinematic", help="what moves the arm: kinematic | mujoco (the MuJoCo twin)")
    parser.add_argument("--task", default="reach", choices=TASKS,
                        help="reach: the kinematic reaching task; pick_place: the twin's (needs --world mujoco)")
    args = parser.parse_args(argv)
    if args.task == "pick_place" and args.world != "mujoco":
        parser.error("--task pick_place needs --world mujoco")
    if args.task == "pick_place" and args.checkpoint is None:
        print("rtc_sim_eval: --task pick_place without --checkpoint runs the shipped policy, trained on the "
              "kinematic task: its success on the twin's task means nothing", file=sys.stderr)
    if args.max_ticks is None:
        args.max_ticks = PICK_PLACE_MAX_TICKS if args.task == "pick_place" else LoopSettings.max_ticks
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in args.modes if m not in MODES]
    if unknown:
        parser.error(f"unknown mode(s) {', '.join(unknown)}; choose from {', '.join(MODES)}")
    try:
        args.delays = None if args.delays is None else parse_ticks(args.delays)
        args.horizons = None if args.horizons is None else parse_ticks(args.horizons)
    except ValueError as error:
        parser.error(f"--delays/--horizons: {error} (delays must be >= 0 ticks)")
    if args.horizons is not None and min(args.horizons) < 1:
        parser.error("--horizons: a chunk has at least 1 row")
    delays = DEFAULT_DELAYS if args.delays is None and not args.latency else args.delays or []
    try:
        args.profiles = [Fixed(d) for d in delays] + (parse_profiles(args.latency, CONTROL_RATE_HZ)
                                                      if args.latency else [])
    except ValueError as error:
        parser.error(str(error))

    if args.mode_candidates < 0 or not args.max_mode_disagreement > 0:
        parser.error("--mode-candidates must be >= 0 and --max-mode-disagreement > 0")
    if args.switch_transition_rows < 1:
        parser.error("--switch-transition-rows must be >= 1")
    return args


def run_variant(policy: SimPolicy, scene, mode: str, latency: LatencyProfile, settings: LoopSettings, seed: int,
                episode: int, carried: Carried | None = None) -> EpisodeRecord:
    """One episode of `mode`: LeRobot's pipeline for LEROBOT_MODES, ours for the others; with
    `carried`, the delay estimate of the cell's earlier episodes is continued (and handed on)."""
    if EvalMode(mode) in LEROBOT_MODES:
        tracker = None
        if carried is not None:
            carried.tracker = tracker = carried.tracker or new_latency_estimate(mode)
        return run_lerobot_episode(policy, scene, latency, settings, seed, episode, mode, tracker)
    record = run_episode(policy, scene, mode, latency, settings, seed, episode,
                         carried.estimator if carried is not None else None)
    if carried is not None:
        carried.estimator = record.estimator
    return record


def loop_settings(args: argparse.Namespace) -> LoopSettings:
    """The node's parameters as the arguments give them (the trigger before it is scaled to a horizon)."""
    return LoopSettings(
        max_ticks=args.max_ticks,
        scheduler=SchedulerSettings(trigger_remaining=args.trigger_remaining,
                                    delay_margin_ticks=args.delay_margin_ticks,
                                    first_chunk_guidance=args.first_chunk_guidance,
                                    first_chunk_max_disagreement=args.first_chunk_max_disagreement),
        guidance_settings=GuidanceSettings(
            execution_horizon=args.guidance_horizon, max_guidance_weight=args.max_guidance_weight,
            schedule=args.schedule, mode_candidates=args.mode_candidates,
            max_mode_disagreement=args.max_mode_disagreement, switch_transition_rows=args.switch_transition_rows),
        world=args.world,
    )


def evaluate(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    policy = SimPolicy(args.checkpoint or default_checkpoint_path())
    settings = loop_settings(args)
    scenes = ([PickPlaceScene(args.seed + episode) for episode in range(args.episodes)] if args.task == "pick_place"
              else [sample_scene(np.random.default_rng([args.seed, episode])) for episode in range(args.episodes)])
    horizons = args.horizons or [None]  # None: the policy's own chunk, no horizon level in the JSON
    policies = {h: policy if h is None else SlicedPolicy(policy, h) for h in horizons}
    cell_settings = {h: settings_for_horizon(settings, h, policy.chunk_size) for h in horizons}
    triggers = {h: cell_settings[h].scheduler.trigger_remaining for h in horizons}
    results: dict[str, dict] = {}
    plotted: dict[str, EpisodeRecord] = {}
    progress = tqdm(total=len(args.modes) * len(horizons) * len(args.profiles) * len(scenes), unit="episode",
                    file=sys.stderr, mininterval=1.0 if sys.stderr.isatty() else 30.0, disable=not scenes)
    for mode in args.modes:
        results[mode] = {}
        for horizon in horizons:
            by_profile = results[mode] if horizon is None else results[mode].setdefault(str(horizon), {})
            for profile in args.profiles:
                carried = Carried() if args.carry_estimate else None
                records = []
                for episode, scene in enumerate(scenes):
                    progress.set_description(f"{mode} H={horizon or policy.chunk_size} {profile.spec}", refresh=False)
                    records.append(run_variant(policies[horizon], scene, mode, profile, cell_settings[horizon],
                                               args.seed, episode, carried))
                    progress.update()
                by_profile[profile.spec] = summarise(records)
                if profile == Fixed(args.plot_delay) and records and horizon == horizons[0]:
                    plotted[mode] = records[0]
                label = profile.spec if horizon is None else f"H{horizon} {profile.spec}"
                progress.write(_row(mode, label, by_profile[profile.spec]), file=sys.stdout)
    progress.close()
    guidance = settings.guidance_settings
    report = {
        "settings": {
            "modes": args.modes,
            "latency_profiles": [profile.spec for profile in args.profiles],
            # the keys below results[mode], outermost first; horizon: the policy's chunk sliced to H rows
            "levels": ["latency_profile"] if args.horizons is None else ["horizon", "latency_profile"],
            "horizons": args.horizons or [policy.chunk_size],
            "horizon_source": "the policy's own chunk" if args.horizons is None
            else "the policy's chunk sliced to its first H rows",
            "carry_estimate": args.carry_estimate,
            "trigger_remaining_by_horizon": {str(h or policy.chunk_size): t for h, t in triggers.items()},
            "episodes": args.episodes,
            "seed": args.seed,
            "chunk_size": policy.chunk_size,
            "num_inference_steps": policy.policy(settings.guidance(GuidanceMode.OFF)).num_inference_steps,
            "trigger_remaining": settings.scheduler.trigger_remaining,
            "delay_margin_ticks": settings.scheduler.delay_margin_ticks,
            "guidance_horizon": guidance.execution_horizon,
            "max_guidance_weight": guidance.max_guidance_weight,
            "schedule": guidance.schedule.name,
            "mode_candidates": guidance.mode_candidates,
            "max_mode_disagreement": guidance.max_mode_disagreement,
            "switch_transition_rows": guidance.switch_transition_rows,
            "max_ticks": settings.max_ticks,
            "world": settings.world,
            "task": args.task,
        },
        "results": results,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    if args.plots:
        _write_plots(args, policy, settings, scenes, plotted, report)
    return report


def _header() -> str:
    return f"{'mode':>12} {'latency':>16} " + " ".join(f"{title:>9}" for _, title in COLUMNS)


def _row(mode: str, latency: str, summary: dict) -> str:
    cells = ["-" if summary[key] is None else f"{summary[key]:.3g}" for key, _ in COLUMNS]
    return f"{mode:>12} {latency:>16} " + " ".join(f"{cell:>9}" for cell in cells)


def _write_plots(
    args: argparse.Namespace, policy: SimPolicy, settings: LoopSettings, scenes: list, plotted: dict[str, EpisodeRecord],
    report: dict,
) -> None:
    from rtc_sim_eval.plots import plot_assumed_delays, plot_denoising, plot_episode, plot_protocol

    args.plots.mkdir(parents=True, exist_ok=True)
    columns = by_horizon(report)
    plot_protocol(columns, args.plots / "protocol.png")
    if args.task != "reach":  # the rest draws the reaching task's scenes
        return
    plot_assumed_delays(columns[next(iter(columns))], args.plots / "assumed_delay.png")
    for mode, record in plotted.items():
        plot_episode(record, args.plots / f"episode_{mode}_delay{args.plot_delay}.png")
    # The second inference of episode 0: the arm under way, the first chunk's leftover to continue.
    # It starts when the first chunk (merged at tick `delay`) has trigger_remaining rows left.
    delay, start = args.plot_delay, policy.chunk_size - settings.scheduler.trigger_remaining
    if not scenes or start <= delay:
        return
    warmup = run_episode(policy, scenes[0], EvalMode.VJP, Fixed(delay), dataclasses.replace(settings, max_ticks=start),
                         args.seed, 0)
    if len(warmup.positions) <= start or not warmup.merged:
        return
    leftover = warmup.merged[0].model_output[start:]
    noise = chunk_noise(args.seed, 0, 1, (policy.chunk_size, policy.action_dim))
    guidance = settings.guidance(GuidanceMode.VJP)
    rtc_config = policy.policy(guidance).rtc_config
    traces = []
    for mode in (GuidanceMode.VJP, GuidanceMode.OFF):  # off inside a guided policy: the leftover is passed and ignored
        recorder = RecordingGuidance(RTCGuidance(rtc_config, mode=mode))
        policy.infer(guidance, warmup.positions[-1], scenes[0], noise, leftover, delay, guide_with=recorder)
        traces.append(recorder.steps)
    plot_denoising(
        traces[0],
        traces[1],
        leftover,
        joint=0,
        title=f"denoising the second chunk at delay {delay}: {JOINT_NAMES[0]} (normalised), vjp guidance vs none",
        path=args.plots / f"denoising_delay{delay}.png",
    )


def check_world(name: str) -> None:
    """WorldUnavailable (one line) unless `name` is a world that can run here."""
    check_world_name(name)
    if name == "mujoco":
        from so100_driver.twin.model import require_twin

        require_twin()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        check_world(args.world)
    except WorldUnavailable as exc:
        print(f"rtc_sim_eval: --world {args.world}: {exc}", file=sys.stderr)
        return 2
    # LeRobot's ActionQueue warns whenever its new_delay differs from the rows consumed meanwhile (at
    # every first chunk, when nothing was consumed); the figures count what matters, so keep the table readable.
    logging.getLogger("lerobot.policies.rtc.action_queue").setLevel(logging.ERROR)
    print(_header(), flush=True)
    evaluate(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
