"""Why does a guided mode collide where unguided sampling does not? Pictures of the colliding episodes.

    python bench/collision_forensics.py --mode identity --first-chunk-guidance follow --seed 1001 --delay 4 \
        --episodes 60 --out docs/img

Runs `rtc_sim_eval`'s episodes of one mode and, for every episode that ends on the obstacle, draws
the tool tip seen from above: the executed path with its seams, and for every chunk the guided
chunk next to the unguided chunk from the same observation and noise; then, for the last seam
before the collision, the shoulder_pan row by row (leftover, unguided, guided, prefix mask) and
the denoising trace of that chunk. Prints, per chunk, how far the unguided chunk is from the
leftover (core.mode_choice's disagreement) and the guided chunk's clearance to the obstacle; and for
every episode, how far its chunk after the first is from that chunk's unguided sample (the figure
first_chunk_max_disagreement bounds; run with --first-chunk-max-disagreement 0 to see it unswitched).
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from rtc_policy_node.builtin_policy import default_checkpoint_path  # noqa: E402
from rtc_policy_node.core.guidance import RTCGuidance  # noqa: E402
from rtc_policy_node.core.schedules import prefix_weights  # noqa: E402
from rtc_policy_node.core.inference_scheduler import FIRST_CHUNK_GUIDANCE, SchedulerSettings  # noqa: E402
from rtc_policy_node.core.mode_choice import keep_or_follow, leftover_disagreement  # noqa: E402
from rtc_policy_node.denoise_trace import RecordingGuidance  # noqa: E402
from rtc_policy_node.lerobot_policy import GuidanceSettings  # noqa: E402
from rtc_sim_eval.latency_profiles import Fixed  # noqa: E402
from rtc_sim_eval.plots import plot_denoising  # noqa: E402
from rtc_sim_eval.rollout import LoopSettings, run_episode  # noqa: E402
from rtc_sim_eval.sim_policy import SimPolicy  # noqa: E402
from so100_driver.sim import sample_scene, tool_tip  # noqa: E402


@dataclass
class Inference:
    joint_positions: np.ndarray
    noise: np.ndarray
    leftover: np.ndarray | None
    delay: int
    guided: np.ndarray  # radians
    guided_output: np.ndarray  # normalised
    unguided: np.ndarray
    unguided_output: np.ndarray


class RecordingPolicy(SimPolicy):
    """SimPolicy that also samples every chunk unguided from the same observation and noise."""

    inferences: list[Inference]

    def infer(self, guidance, joint_positions, scene, noise, leftover, inference_delay, max_disagreement=0.0,
              **options):
        actions, sampled = super().infer(guidance, joint_positions, scene, noise, leftover, inference_delay,
                                         max_disagreement, **options)
        off = type(guidance)("off")
        plain, plain_sampled = super().infer(off, joint_positions, scene, noise, None, inference_delay)
        self.inferences.append(Inference(joint_positions.copy(), noise.copy(), leftover, inference_delay,
                                         actions, sampled.model_output, plain, plain_sampled.model_output))
        return actions, sampled


def report_after_first(episode: int, record, inferences: list[Inference]) -> list[float]:
    """Print how far the chunk after the first (the one first_chunk_max_disagreement judges) is from
    its unguided sample from row d on (core.mode_choice.keep_or_follow's figure); [] without one."""
    second = next((inference for inference in inferences if inference.leftover is not None), None)
    if second is None:
        return []
    gap = keep_or_follow(second.guided_output, second.unguided_output, second.delay, 1.0).disagreement
    print(f"episode {episode}: {'collision' if record.collided else 'no collision'}; chunk after the first "
          f"{gap:.2f} from its unguided sample")
    return [gap]


def clearance_cm(joint_positions: np.ndarray, scene) -> np.ndarray:
    tips = tool_tip(joint_positions)[:, :2]
    return (np.linalg.norm(tips - np.asarray(scene.obstacle_center), axis=1) - scene.obstacle_radius) * 100


def draw_episode(record, inferences: list[Inference], horizon: int, path: Path, title: str) -> None:
    scene = record.scene
    fig, (top, rows) = plt.subplots(1, 2, figsize=(10, 4.6), gridspec_kw={"width_ratios": [1, 1.3]})
    top.add_patch(plt.Circle(scene.obstacle_center[::-1], scene.obstacle_radius, color="0.55"))
    top.add_patch(plt.Circle(scene.target[::-1], scene.target_tolerance, color="tab:red", alpha=0.25))
    colours = plt.cm.tab10(np.arange(10))
    for index, inference in enumerate(inferences):
        colour = colours[index % 10]
        guided, plain = tool_tip(inference.guided)[:, :2], tool_tip(inference.unguided)[:, :2]
        top.plot(guided[:, 1], guided[:, 0], "-", color=colour, lw=1.2, label=f"chunk {index} guided")
        top.plot(plain[:, 1], plain[:, 0], ":", color=colour, lw=1.5, label=f"chunk {index} unguided")
    executed = tool_tip(np.asarray(record.positions))[:, :2]
    top.plot(executed[:, 1], executed[:, 0], "k-", lw=2.6, label="executed")
    ids = np.asarray(record.chunk_ids)
    seams = [k + 1 for k in range(1, len(ids)) if ids[k] >= 0 and ids[k - 1] >= 0 and ids[k] != ids[k - 1]]
    top.plot(executed[seams, 1], executed[seams, 0], "rx", ms=7, mew=2, label="seams")
    top.set_aspect("equal")
    top.set_xlim(0.09, -0.09)
    top.set_ylim(0.08, 0.25)
    top.set_xlabel("y (m, left positive)")
    top.set_ylabel("x (m)")
    top.legend(fontsize=5.5, loc="lower right")
    top.set_title("tool tip from above", fontsize=9)

    last = max(i for i, inference in enumerate(inferences) if inference.leftover is not None and i < len(record.merged))
    seam = inferences[last]
    row = np.arange(len(seam.guided_output))
    rows.plot(np.arange(len(seam.leftover)), seam.leftover[:, 0], "k--", lw=1.8, label="leftover")
    rows.plot(row, seam.unguided_output[:, 0], ":", color="tab:blue", lw=1.8, label="unguided (same noise)")
    rows.plot(row, seam.guided_output[:, 0], "-", color="tab:orange", lw=1.8, label="guided")
    weights = prefix_weights("LINEAR", seam.delay, min(horizon, len(seam.leftover)), len(row))
    twin = rows.twinx()
    twin.fill_between(row, weights, color="0.8", alpha=0.5, step="mid")
    twin.set_ylim(0, 4)
    twin.set_yticks([0, 1])
    twin.set_ylabel("prefix mask", fontsize=8)
    rows.axvline(seam.delay, color="tab:red", lw=0.8)
    rows.set_zorder(twin.get_zorder() + 1)
    rows.patch.set_visible(False)
    rows.set_xlabel("row of the chunk (the executor starts at row d, red)")
    rows.set_ylabel("shoulder_pan (normalised)")
    rows.legend(fontsize=7)
    rows.set_title(f"chunk {last}: the seam before the collision", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=70)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", default="identity")
    parser.add_argument("--mode-candidates", type=int, default=GuidanceSettings.mode_candidates)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--delay", type=int, default=6)
    parser.add_argument("--episodes", type=int, default=60)
    parser.add_argument("--only", type=str, default="", help="comma-separated episode indices to run")
    parser.add_argument("--out", type=Path, default=Path("forensics"))
    parser.add_argument("--first-chunk-guidance", default=SchedulerSettings.first_chunk_guidance,
                        choices=FIRST_CHUNK_GUIDANCE, help="the scheduler's setting (follow: the collisions' cause)")
    parser.add_argument("--first-chunk-max-disagreement", type=float,
                        default=SchedulerSettings.first_chunk_max_disagreement, help="the scheduler's setting")
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    policy = RecordingPolicy(default_checkpoint_path())
    settings = LoopSettings(guidance_settings=GuidanceSettings(mode_candidates=args.mode_candidates),
                            scheduler=SchedulerSettings(first_chunk_guidance=args.first_chunk_guidance,
                                                        first_chunk_max_disagreement=args.first_chunk_max_disagreement))
    episodes = [int(e) for e in args.only.split(",")] if args.only else range(args.episodes)
    after_first: list[float] = []
    for episode in episodes:
        scene = sample_scene(np.random.default_rng([args.seed, episode]))
        policy.inferences = []
        record = run_episode(policy, scene, args.mode, Fixed(args.delay), settings, args.seed, episode)
        after_first += report_after_first(episode, record, policy.inferences)
        if not record.collided:
            continue
        print(f"episode {episode}: collision at tick {len(record.positions) - 2}; chunks merged at ticks "
              f"{[chunk.arrival_step for chunk in record.merged]}")
        for index, inference in enumerate(policy.inferences):
            gap = "-"
            if inference.leftover is not None:
                value = leftover_disagreement(inference.unguided_output[None], inference.leftover,
                                              inference.delay, settings.guidance_settings.execution_horizon)[0]
                gap = f"{value:.2f}"
            rows = slice(inference.delay, inference.delay + 15)
            print(f"  chunk {index}: unguided-leftover disagreement {gap}; clearance over the next 15 rows (cm): "
                  f"guided {clearance_cm(inference.guided[rows], scene).min():.2f}, "
                  f"unguided {clearance_cm(inference.unguided[rows], scene).min():.2f}")
        name = f"collision_{args.mode}_seed{args.seed}_ep{episode}_d{args.delay}"
        guided_merged = [i for i, inf in enumerate(policy.inferences) if inf.leftover is not None and i < len(record.merged)]
        if not guided_merged:
            print("  no guided chunk was merged before the collision: the first chunk's own plan hit the obstacle")
            continue
        label = f"{args.mode} (no mode choice)" if args.mode_candidates == 0 else args.mode
        draw_episode(record, policy.inferences, settings.guidance_settings.execution_horizon, args.out / f"{name}.png",
                     f"{label}, seed {args.seed}, episode {episode}, delay {args.delay}: collision")
        seam = guided_merged[-1]
        inference = policy.inferences[seam]
        # The guided chunk's own noise (no mode choice), traced with the guidance and without it.
        plain = dataclasses.replace(settings.guidance(args.mode), mode_candidates=0)
        rtc_config = policy.policy(plain).rtc_config
        traces = []
        for mode in (args.mode, "off"):
            recorder = RecordingGuidance(RTCGuidance(rtc_config, mode=mode))
            SimPolicy.infer(policy, plain, inference.joint_positions, scene, inference.noise, inference.leftover,
                            inference.delay, guide_with=recorder)
            traces.append(recorder.steps)
        plot_denoising(traces[0], traces[1], inference.leftover, joint=0,
                       title=f"episode {episode}, chunk {seam}: shoulder_pan (normalised), {args.mode} vs none",
                       path=args.out / f"{name}_denoising.png")
    if after_first:
        print(f"chunk after the first, published vs unguided from row d on, over {len(after_first)} episodes: "
              f"median {np.median(after_first):.2f}, p90 {np.percentile(after_first, 90):.2f}, "
              f"max {np.max(after_first):.2f}")


if __name__ == "__main__":
    main()
