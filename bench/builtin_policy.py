"""Sampling time of one chunk of the shipped built-in policy on CPU, per guidance mode.

Times `LeRobotPolicy.sample` as the policy node calls it (preprocessing, 10 Euler steps of a
50 x 6 chunk with observation encoding, postprocessing), and the bare `predict_action_chunk` on a
preprocessed batch. "unguided" is the first chunk of an episode (no leftover); the guided modes
get a 25-row leftover and a delay of 6 ticks. "after first" is the chunk after a first one after
rest (the scheduler's plan): guided over the 6 executed rows only, and "+ test" also samples it
unguided to compare (first_chunk_max_disagreement, core.mode_choice.keep_or_follow). Each repeat
runs every variant once, in turn, so that background load hits them alike; figures are medians and
p90s.

    python bench/builtin_policy.py [--repeats 200] [--threads 1] [--checkpoint DIR]
Target: unguided <= 20 ms.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from rtc_contract.modes import GuidanceMode
from rtc_policy_node.builtin_policy import CAMERA_KEY, default_checkpoint_path
from rtc_policy_node.lerobot_policy import GuidanceSettings, LeRobotPolicy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--checkpoint", help="small_flow checkpoint dir (default: the shipped one)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    path = args.checkpoint or str(default_checkpoint_path())
    policies = {mode.value: LeRobotPolicy(path, "cpu", GuidanceSettings(mode)) for mode in GuidanceMode}
    rng = np.random.default_rng(0)
    state = rng.normal(size=6) * 10
    images = {CAMERA_KEY: rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)}
    leftover = policies["off"].sample(state, images, None, 0).model_output[25:]
    variants = {"unguided": ("off", None, 0.0), **{mode: (mode, leftover, 0.0) for mode in policies if mode != GuidanceMode.OFF},
                "after first": ("identity", leftover[:6], 0.0), "+ test": ("identity", leftover[:6], 1e6)}
    unguided = policies["off"]
    batch = unguided.preprocessor({"observation.state": torch.from_numpy(state.astype(np.float32)),
                                   CAMERA_KEY: torch.from_numpy(images[CAMERA_KEY]).permute(2, 0, 1).float() / 255})

    def sample(mode: str, rows: np.ndarray | None, max_disagreement: float) -> float:
        started = time.perf_counter()
        policies[mode].sample(state, images, rows, 6, max_disagreement=max_disagreement)
        return (time.perf_counter() - started) * 1e3

    def bare() -> float:
        started = time.perf_counter()
        with torch.no_grad():
            unguided.policy.predict_action_chunk(batch)
        return (time.perf_counter() - started) * 1e3

    for mode, rows, bound in variants.values():  # warm-up
        for _ in range(5):
            sample(mode, rows, bound)
    times: dict[str, list[float]] = {name: [] for name in (*variants, "bare model")}
    guidance_ms: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, (mode, rows, bound) in variants.items():
            times[name].append(sample(mode, rows, bound))
            guidance_ms[name].append(policies[mode].guidance.seconds * 1e3)
        times["bare model"].append(bare())
    config = unguided.policy.spec
    params = sum(p.numel() for p in unguided.policy.parameters())
    print(f"small_flow: {params / 1e6:.2f} M parameters, chunk {config.chunk_size} x {config.action_dim}, "
          f"{config.num_inference_steps} steps, torch threads {args.threads}, {args.repeats} repeats")
    print(f"{'variant':>11} {'median ms':>10} {'p90 ms':>8} {'guidance ms':>12}")
    for name, values in times.items():
        share = f"{statistics.median(guidance_ms[name]):12.2f}" if name in guidance_ms else f"{'-':>12}"
        print(f"{name:>11} {statistics.median(values):10.2f} {np.percentile(values, 90):8.2f} {share}")
    median = statistics.median(times["unguided"])
    print(f"unguided sample() median {median:.2f} ms {'meets' if median <= 20.0 else 'MISSES'} the 20 ms target")


if __name__ == "__main__":
    main()
