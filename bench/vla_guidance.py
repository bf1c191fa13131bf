"""Guidance overhead inside LeRobot's real pi0, pi0.5 and SmolVLA on CPU, side by side.

Each policy (built offline in code by rtc_policy_node/test/vla_fixtures.py, `tiny` or `20m`
parameters, 2 cameras for SmolVLA, chunk 50, 10 denoising steps, 6-dim leftover of 40 rows,
d=4, H=25) samples chunks through `predict_action_chunk` with every variant in turn, repeat after
repeat, so background load hits all alike: off (no leftover), our identity / vjp / prefix, LeRobot's
RTCProcessor, and the floor of vjp (one forward with grad and one backward w.r.t. x_t per step).
Ratios are medians of per-repeat ratios. pi0/pi0.5 run in a process with LeRobot's patched
transformers (built by tools/setup.sh from ../shared/vendor), SmolVLA with the venv's.

    python bench/vla_guidance.py [--sizes tiny 20m] [--kinds smolvla pi0 pi05] [--threads 1 2]
                                 [--repeats 5] [--use_torch_compile]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEST_DIR = Path(__file__).resolve().parents[1] / "rtc_policy_node" / "test"
sys.path.insert(0, str(TEST_DIR))
import vla_fixtures as fixtures  # noqa: E402

DELAY, HORIZON, LEFTOVER_START = 4, 25, 10
VARIANTS = ("off", "identity", "vjp", "prefix", "lerobot", "floor")
RATIOS = {  # label: (numerator, denominator, goal)
    "identity / off": ("identity", "off", "<= 1.05"),
    "prefix / off": ("prefix", "off", ""),
    "vjp / floor": ("vjp", "floor", "<= 1.10"),
    "vjp / off": ("vjp", "off", ""),
    "lerobot / identity": ("lerobot", "identity", "> 1 (ours faster)"),
}


class ForwardBackwardFloor:
    """An rtc_processor doing only what vjp cannot avoid: a forward with grad and one backward to x_t."""

    def __init__(self, rtc_config) -> None:
        self.rtc_config = rtc_config

    def is_debug_enabled(self) -> bool:
        return False

    def denoise_step(self, x_t, prev_chunk_left_over, inference_delay, time, original_denoise_step_partial,
                     execution_horizon=None):
        import torch

        with torch.enable_grad():
            x_in = x_t.detach().clone().requires_grad_(True)
            velocity = original_denoise_step_partial(x_in)
            torch.autograd.grad(velocity, x_in, torch.ones_like(velocity))
        return velocity.detach()


def worker(kind: str, size: str, threads: list[int], repeats: int, compile_model: bool, workdir: Path) -> dict:
    """Time every variant in this process (the environment has the right transformers)."""
    import torch
    from lerobot.policies.rtc.modeling_rtc import RTCProcessor

    from rtc_policy_node.core.guidance import RTCGuidance

    cameras = ("front", "wrist") if kind == "smolvla" else ("front",)
    policy, preprocessor, _ = fixtures.build_policy(kind, workdir, size, cameras=cameras)
    generator = torch.Generator().manual_seed(1)
    observation = {"observation.state": torch.randn(fixtures.STATE_DIM, generator=generator) * 20.0,
                   "task": fixtures.TASK}
    for name in cameras:
        observation[f"observation.images.{name}"] = torch.rand(3, 96, 96, generator=generator)
    batch = preprocessor(observation)
    noise = torch.randn(1, fixtures.CHUNK, policy.config.max_action_dim, generator=generator)
    with torch.no_grad():
        leftover = policy.predict_action_chunk(batch, noise=noise.clone())[0, LEFTOVER_START:].clone()
    config = policy.config.rtc_config
    processors = {"off": RTCGuidance(config, "off"), "identity": RTCGuidance(config, "identity"),
                  "vjp": RTCGuidance(config, "vjp"), "prefix": RTCGuidance(config, "prefix"),
                  "lerobot": RTCProcessor(config), "floor": ForwardBackwardFloor(config)}
    predict = policy.predict_action_chunk
    if compile_model:  # as LeRobot's RTC example compiles it (CPU: inductor, default mode)
        predict = torch.compile(predict, backend="inductor", mode="default")

    def run(name: str) -> float:
        for holder in (policy, *policy.modules()):
            if hasattr(holder, "rtc_processor"):
                holder.rtc_processor = processors[name]
        kwargs = {} if name == "off" else dict(prev_chunk_left_over=leftover, inference_delay=DELAY,
                                               execution_horizon=HORIZON)
        started = time.perf_counter()
        with torch.no_grad():
            predict(batch, noise=noise.clone(), **kwargs)
        return time.perf_counter() - started

    result = {"parameters": fixtures.parameter_count(policy), "compiled": compile_model, "threads": {}}
    for count in threads:
        torch.set_num_threads(count)
        samples: dict[str, list[float]] = {name: [] for name in VARIANTS}
        for repeat in range(repeats + 1):  # the first round warms up (and compiles)
            for name in VARIANTS:
                seconds = run(name)
                if repeat >= 1:
                    samples[name].append(seconds)
        result["threads"][str(count)] = {
            "ms": {name: statistics.median(values) * 1e3 for name, values in samples.items()},
            "ratios": {label: statistics.median(a / b for a, b in zip(samples[top], samples[bottom]))
                       for label, (top, bottom, _) in RATIOS.items()},
        }
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["tiny", "20m"], choices=sorted(fixtures.SIZES))
    parser.add_argument("--kinds", nargs="+", default=["smolvla", "pi0", "pi05"], choices=["smolvla", "pi0", "pi05"])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--use_torch_compile", action="store_true", help="torch.compile predict_action_chunk")
    parser.add_argument("--worker", nargs=3, metavar=("KIND", "SIZE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, size, out = args.worker
        with tempfile.TemporaryDirectory() as work:
            figures = worker(kind, size, args.threads, args.repeats, args.use_torch_compile, Path(work))
        Path(out).write_text(json.dumps(figures))
        return 0

    print(f"chunk {fixtures.CHUNK}, 10 steps, leftover 40x6, d={DELAY}, H={HORIZON}; medians of {args.repeats} "
          f"repeats; torch.compile: {args.use_torch_compile}", flush=True)
    with tempfile.TemporaryDirectory() as work:
        for size in args.sizes:
            for kind in args.kinds:
                out = Path(work) / f"{kind}_{size}.json"
                try:
                    env = fixtures.policy_process_env(kind, Path(work) / "hf_home", size)
                except fixtures.VendorAbsent as absent:
                    print(f"\n{kind} {size}: skipped ({absent})")
                    continue
                command = [sys.executable, __file__, "--worker", kind, size, str(out), "--repeats", str(args.repeats),
                           "--threads", *map(str, args.threads)] + (["--use_torch_compile"] if args.use_torch_compile else [])
                done = subprocess.run(command, env=env, capture_output=True, text=True)
                if done.returncode != 0:
                    print(f"\n{kind} {size}: failed\n{done.stderr[-3000:]}")
                    continue
                report(kind, size, json.loads(out.read_text()))
    return 0


def report(kind: str, size: str, figures: dict) -> None:
    print(f"\n{kind} {size} ({figures['parameters'] / 1e6:.2f} M parameters)", flush=True)
    for threads, data in figures["threads"].items():
        ms = "  ".join(f"{name} {data['ms'][name]:.1f}" for name in VARIANTS)
        ratios = "  ".join(f"{label} {value:.3f}" for label, value in data["ratios"].items())
        print(f"  {threads} thread(s) ms: {ms}\n  {threads} thread(s) ratios: {ratios}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
