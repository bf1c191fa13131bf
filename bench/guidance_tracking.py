"""How closely each guidance mode makes a new chunk continue the leftover, on the built-in policy.

Runs `rtc_sim_eval`'s closed loop (simulated ticks, deterministic) at one delay and prints, per mode:
the seam ratio (mean and worst episode), and the gap |new chunk - old chunk| at the same tick for
the first rows of each new chunk, in units of the p99 within-chunk step (rows < delay are the ones
guidance holds at full weight; the executor switches at row d_real = delay). Then the gain of the
denoiser's Jacobian, |(d x1 / d x_t)^T e| / |e| for a random e on the first rows, at several flow
times: vjp guidance moves x1 by that gain times what identity guidance moves it. Last, vjp's seam
ratio against the weight clip `max_guidance_weight`.

    python bench/guidance_tracking.py [--episodes 20] [--delay 6] [--weights 5,10,20,50]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from rtc_contract.modes import GuidanceMode
from rtc_policy_node.builtin_policy import CAMERA_KEY, default_checkpoint_path
from rtc_sim_eval.latency_profiles import Fixed
from rtc_sim_eval.metrics import summarise
from rtc_sim_eval.rollout import LoopSettings, run_episode
from rtc_sim_eval.sim_policy import SimPolicy
from rtc_policy_node.lerobot_policy import GuidanceSettings
from so100_driver.sim import render, sample_scene, start_joint_positions

GAP_ROWS = 10


def leftover_gaps(records, p99: float) -> np.ndarray:
    """(chunks, GAP_ROWS) gap between each merged chunk and the one before it, per row, in p99 steps."""
    gaps = []
    for record in records:
        for old, new in zip(record.merged, record.merged[1:]):
            rows = [np.abs(new.actions[r] - old.actions[new.source_step + r - old.source_step]).max()
                    for r in range(GAP_ROWS)]
            gaps.append(rows)
    return np.array(gaps) / p99


def jacobian_gains(policy: SimPolicy, seed: int) -> dict[float, float]:
    """Gain of the denoiser's Jacobian on the first rows, along one unguided sampling path."""
    loaded = policy.policy(GuidanceSettings("off"))
    scene = sample_scene(np.random.default_rng([seed, 0]))
    q = start_joint_positions(scene)
    batch = {"observation.state": torch.from_numpy(policy.units.to_features(q).astype(np.float32)),
             CAMERA_KEY: torch.from_numpy(render(q, scene)).permute(2, 0, 1).float() / 255}
    model = loaded.policy
    cond = model._encode(loaded.preprocessor(batch))
    generator = torch.Generator().manual_seed(seed)
    x_t = torch.randn(1, model.spec.chunk_size, model.spec.action_dim, generator=generator)
    steps = model.spec.num_inference_steps
    gains = {}
    for step in range(steps):
        t = 1.0 - step / steps
        times = torch.full(x_t.shape[:2], t)
        x1, vjp = torch.func.vjp(lambda x: model.denoiser(x, times, cond), x_t)
        e = torch.zeros_like(x_t)
        e[:, :GAP_ROWS] = torch.randn(1, GAP_ROWS, x_t.shape[-1], generator=generator)
        gains[round(t, 2)] = float(vjp(e)[0].detach().norm() / e.norm())
        x_t = x_t + (x1.detach() - x_t) / (t * steps)  # the Euler step of the sampler: v = (x_t - x1) / t
    return gains


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--delay", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights", default="5,10,20,50", help="max_guidance_weight values for vjp")
    args = parser.parse_args()
    torch.set_num_threads(1)
    policy = SimPolicy(default_checkpoint_path())
    scenes = [sample_scene(np.random.default_rng([args.seed, e])) for e in range(args.episodes)]

    def run(mode: str, settings: LoopSettings):
        records = [run_episode(policy, scene, mode, Fixed(args.delay), settings, args.seed, e) for e, scene in enumerate(scenes)]
        return records, summarise(records)

    print(f"built-in policy, delay {args.delay} ticks, {args.episodes} episodes; gap = |new - old| at the same "
          f"tick in p99 within-chunk steps, rows 0..{GAP_ROWS - 1} of the new chunk")
    print(f"{'mode':>9} {'seam mean':>10} {'worst':>6}   {'gap rows < d mean':>17} {'max':>5}   {'gap row d mean':>14} {'max':>5}")
    for mode in (m.value for m in GuidanceMode):
        records, summary = run(mode, LoopSettings())
        gaps = leftover_gaps(records, summary["inner_step_p99_rad"])
        held, switch = gaps[:, : args.delay], gaps[:, args.delay]
        print(f"{mode:>9} {summary['seam_ratio']:10.2f} {summary['seam_ratio_max']:6.2f}   "
              f"{held.mean():17.2f} {held.max():5.2f}   {switch.mean():14.2f} {switch.max():5.2f}")

    print("denoiser Jacobian gain on the first rows, by flow time t (1 = noise):",
          ", ".join(f"t {t}: {g:.3f}" for t, g in jacobian_gains(policy, args.seed).items()))
    for weight in (float(w) for w in args.weights.split(",")):
        _, summary = run("vjp", LoopSettings(guidance_settings=GuidanceSettings(max_guidance_weight=weight)))
        print(f"vjp with max_guidance_weight {weight:g}: seam ratio {summary['seam_ratio']:.2f} "
              f"(worst {summary['seam_ratio_max']:.2f})", flush=True)


if __name__ == "__main__":
    main()
