"""Guidance cost on CPU: sampling time per guidance mode, side by side, plus the queue's merge time.

A small transformer action expert (4 decoder layers, width 256, cross-attending to 64 cached
observation tokens; parameters require grad, as a loaded policy's do) samples 50-row chunks of
6 and 32 action dims with 10 Euler steps. Each repeat runs every variant once, in turn, so that
background load hits all of them alike; figures are medians over the repeats.

    python bench/guidance.py [--repeats 10] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from rtc_contract.modes import GuidanceMode
from rtc_executor.core.action_queue import ActionQueue

from rtc_policy_node.core.guidance import RTCGuidance

from rtc_policy_node.core.sampler import sample_flow

CHUNK_LENGTH, STEPS, CONTEXT_TOKENS, WIDTH = 50, 10, 64, 256


class ActionExpert(torch.nn.Module):
    """Velocity v(x_t, t | observation tokens), the shape of a pi0/SmolVLA action expert in miniature."""

    def __init__(self, action_dim: int) -> None:
        super().__init__()
        self.action_in = torch.nn.Linear(action_dim, WIDTH)
        self.time_in = torch.nn.Linear(1, WIDTH)
        layer = torch.nn.TransformerDecoderLayer(WIDTH, 8, 4 * WIDTH, dropout=0.0, batch_first=True, norm_first=True)
        self.blocks = torch.nn.TransformerDecoder(layer, num_layers=4)
        self.action_out = torch.nn.Linear(WIDTH, action_dim)
        self.context = torch.randn(1, CONTEXT_TOKENS, WIDTH)  # the cached observation prefix

    def forward(self, x_t: torch.Tensor, t: float) -> torch.Tensor:
        time_embedding = self.time_in(torch.full((1, 1, 1), t))
        hidden = self.blocks(self.action_in(x_t) + time_embedding, self.context.expand(x_t.shape[0], -1, -1))
        return self.action_out(hidden)


def forward_backward_floor(expert: ActionExpert, noise: torch.Tensor) -> torch.Tensor:
    """Euler sampling with one forward and one backward (VJP w.r.t. x_t) per step: vjp's lower bound."""
    dt, x_t = -1.0 / STEPS, noise
    for step in range(STEPS):
        with torch.enable_grad():
            x_in = x_t.detach().requires_grad_(True)
            velocity = expert(x_in, 1.0 + step * dt)
            torch.autograd.grad(velocity, x_in, torch.ones_like(velocity))
        x_t = x_t + dt * velocity.detach()
    return x_t


RATIOS = {  # label: (numerator, denominator, target)
    "identity / off": ("identity", "off", 1.05),
    "prefix / off": ("prefix", "off", None),
    "vjp / floor": ("vjp", "floor: fwd+bwd per step", 1.10),
    "vjp / off": ("vjp", "off", None),
    "lerobot / identity": ("lerobot RTCProcessor", "identity", None),
}


def time_sampling(
    action_dim: int, repeats: int, lerobot_processor_cls, rtc_config
) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """Median sampling ms per variant, median `guidance.seconds` (ms) per mode, median ratios.

    Ratios are medians of per-repeat ratios: the two variants of a pair ran back to back, under
    the same background load.
    """
    torch.manual_seed(0)
    expert = ActionExpert(action_dim).eval()
    noise, leftover = torch.randn(1, CHUNK_LENGTH, action_dim), torch.randn(1, 30, action_dim)
    delay = 5
    guidances = {mode.value: RTCGuidance(rtc_config, mode) for mode in GuidanceMode}
    variants = {
        **{mode: (lambda g=g: sample_flow(expert, noise, STEPS, g, leftover, delay)) for mode, g in guidances.items()},
        "lerobot RTCProcessor": (
            lambda: sample_flow(expert, noise, STEPS, lerobot_processor_cls(rtc_config), leftover, delay)
        ),
        "floor: fwd+bwd per step": lambda: forward_backward_floor(expert, noise),
    }
    samples: dict[str, list[float]] = {name: [] for name in variants}
    guidance_samples: dict[str, list[float]] = {mode: [] for mode in guidances}
    for repeat in range(repeats + 2):  # the first two rounds warm up allocators and caches
        for name, run in variants.items():
            if name in guidances:
                guidances[name].reset_timing()
            started = time.perf_counter()
            run()
            if repeat >= 2:
                samples[name].append(time.perf_counter() - started)
                if name in guidances:
                    guidance_samples[name].append(guidances[name].seconds)
    sampling_ms = {name: statistics.median(values) * 1e3 for name, values in samples.items()}
    guidance_ms = {mode: statistics.median(values) * 1e3 for mode, values in guidance_samples.items()}
    ratios = {
        label: statistics.median(a / b for a, b in zip(samples[top], samples[bottom]))
        for label, (top, bottom, _) in RATIOS.items()
    }
    return sampling_ms, guidance_ms, ratios


def time_queue_merge(action_dim: int, merges: int = 20000) -> tuple[float, float, float]:
    """Merge times (us) p50, p99, max for 50-row chunks arriving 3 ticks late, one pop between merges."""
    queue, chunk = ActionQueue(action_dim), np.random.default_rng(0).normal(size=(CHUNK_LENGTH, action_dim))
    durations = np.empty(merges)
    for chunk_id in range(1, merges + 1):
        source = max(queue.step - 3, 0)
        started = time.perf_counter_ns()
        queue.merge(chunk_id, chunk, source)
        durations[chunk_id - 1] = time.perf_counter_ns() - started
        queue.pop()
    p50, p99 = np.percentile(durations, [50, 99]) / 1e3
    return float(p50), float(p99), float(durations.max() / 1e3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1: steadier)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from lerobot.policies.rtc.configuration_rtc import RTCConfig
    from lerobot.policies.rtc.modeling_rtc import RTCProcessor

    rtc_config = RTCConfig(enabled=True, execution_horizon=20)
    print(f"torch {torch.__version__}, {args.threads} thread(s), chunk {CHUNK_LENGTH} rows, {STEPS} steps, "
          f"leftover 30 rows, d=5, H=20, schedule {rtc_config.prefix_attention_schedule.value}, "
          f"medians of {args.repeats} repeats")
    for action_dim in (6, 32):
        ms, guidance_ms, ratios = time_sampling(action_dim, args.repeats, RTCProcessor, rtc_config)
        print(f"\nchunk {CHUNK_LENGTH}x{action_dim}: sampling time per chunk, ms (median); "
              "guidance.seconds per chunk, ms (median)")
        for name, value in ms.items():
            own = f"{guidance_ms[name]:9.3f}" if name in guidance_ms else ""
            print(f"  {name:<26}{value:9.2f}{own}")
        print("  ratios (median of per-repeat ratios)")
        for label, ratio in ratios.items():
            target = RATIOS[label][2]
            verdict = "" if target is None else f"target <= {target}: " + ("met" if ratio <= target else "MISSED")
            print(f"  {label:<26}{ratio:9.3f}  {verdict}")
    print("\nActionQueue.merge, 50-row chunk, us (20000 merges)")
    for action_dim in (6, 32):
        p50, p99, worst = time_queue_merge(action_dim)
        verdict = "met" if p99 <= 50.0 else "MISSED"
        print(f"  action_dim {action_dim:<3} p50 {p50:6.1f}  p99 {p99:6.1f}  max {worst:7.1f}"
              f"  (target p99 <= 50: {verdict})")


if __name__ == "__main__":
    main()
