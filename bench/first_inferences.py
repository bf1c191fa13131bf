"""How much slower a process's first inferences are than the later ones (the policy node's
warmup_inferences): the built-in policy on CPU, each round in a fresh process, as the node runs them
after loading: the first unguided (no leftover), the next ones guided by the previous chunk's last 25
rows with a delay of 6 ticks. Optionally under torch.compile (the node's use_torch_compile).

    python bench/first_inferences.py [--rounds 5] [--inferences 6] [--threads 1] \\
        [--use_torch_compile [--torch_compile_backend inductor]]
Prints the median and maximum of each inference's time over the rounds, in ms.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time


def one_round(inferences: int, threads: int, backend: str | None) -> list[float]:
    """In this process: load, then time `inferences` samples; ms each."""
    import numpy as np
    import torch

    from rtc_policy_node.builtin_policy import CAMERA_KEY, default_checkpoint_path
    from rtc_policy_node.lerobot_policy import GuidanceSettings, LeRobotPolicy
    from rtc_policy_node.policy_methods import compile_policy

    torch.set_num_threads(threads)
    policy = LeRobotPolicy(str(default_checkpoint_path()), "cpu", GuidanceSettings("identity"))
    if backend:
        compile_policy(policy, backend)
    rng = np.random.default_rng(0)
    state, images = rng.normal(size=6) * 10, {CAMERA_KEY: rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)}
    leftover, times = None, []
    for _ in range(inferences):
        started = time.perf_counter()
        chunk = policy.sample(state, images, leftover, 6)
        times.append((time.perf_counter() - started) * 1e3)
        leftover = chunk.model_output[-25:]
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--inferences", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--use_torch_compile", action="store_true")
    parser.add_argument("--torch_compile_backend", default="inductor")
    parser.add_argument("--round", action="store_true", help=argparse.SUPPRESS)  # one round, JSON out
    args = parser.parse_args()
    backend = args.torch_compile_backend if args.use_torch_compile else None
    if args.round:
        print(json.dumps(one_round(args.inferences, args.threads, backend)))
        return
    rounds = []
    for _ in range(args.rounds):
        command = [sys.executable, __file__, "--round", "--inferences", str(args.inferences),
                   "--threads", str(args.threads)]
        if backend:
            command += ["--use_torch_compile", "--torch_compile_backend", backend]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        rounds.append(json.loads(out.strip().splitlines()[-1]))  # LeRobot may print before it
    print(f"built-in policy, CPU, {args.threads} thread(s), {args.rounds} fresh processes"
          + (f", torch.compile {backend}" if backend else ""))
    print("inference | median ms | max ms")
    for i, times in enumerate(zip(*rounds), start=1):
        kind = "unguided" if i == 1 else "guided"
        print(f"{i} ({kind}) | {statistics.median(times):.1f} | {max(times):.1f}")


if __name__ == "__main__":
    main()
