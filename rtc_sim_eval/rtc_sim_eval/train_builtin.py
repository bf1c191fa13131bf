"""Reproduce the shipped built-in checkpoint: generate demonstrations, train on CPU, save in LeRobot format.

    python -m rtc_sim_eval.train_builtin --out rtc_policy_node/checkpoints/builtin_so100
    python -m rtc_sim_eval.train_builtin --world mujoco --out DIR      # on the twin

`--world kinematic` (the default): the kinematic reaching task (demonstrations.py). `--world mujoco`:
the MuJoCo twin's pick-and-place task, its expert run in physics, one camera's renders (`--camera`,
the wrist camera by default; twin_demonstrations.py), the episodes run in `--workers` processes,
the arm driven off the expert's plan by `--perturb` radians of drifting noise (DART-style: the labels
stay the plan's, so the policy learns to come back from its own errors).

Everything is seeded. The run prints its wall time and writes it, with the settings and the final
loss, to train_info.json next to the weights.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from lerobot.utils.constants import ACTION, OBS_STATE

from rtc_policy_node.builtin_policy.configuration_small_flow import CAMERA_KEY, SmallFlowConfig
from rtc_sim_eval.demonstrations import Demonstrations, TrainingSamples, generate, training_samples
from rtc_policy_node.builtin_policy.modeling_small_flow import SmallFlowPolicy
from rtc_policy_node.builtin_policy.processor_small_flow import make_small_flow_pre_post_processors


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="checkpoint directory to write")
    parser.add_argument("--world", default="kinematic", choices=("kinematic", "mujoco"),
                        help="the task demonstrated: kinematic reaching, or the MuJoCo twin's pick-and-place")
    parser.add_argument("--episodes", type=int, default=240)
    parser.add_argument("--frame-stride", type=int, default=2, help="use every n-th tick as a training frame")
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--ema", type=float, default=0.999, help="decay of the weight average that is saved")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data", type=Path, help="kinematic world: also save the demonstrations (.npz) here; "
                        "mujoco: the training samples (.npz), read from there if it exists with these settings")
    parser.add_argument("--camera", default="wrist", choices=("front", "wrist"),
                        help="mujoco: the twin camera the policy sees (observation.images.<camera>)")
    parser.add_argument("--workers", type=int, default=1, help="mujoco: processes running expert episodes")
    parser.add_argument("--init", type=Path, help="start from this checkpoint's weights (one train_builtin wrote for "
                        "the same world and camera), e.g. to go on training the shipped one on new samples")
    parser.add_argument("--perturb", type=float, default=0.0,
                        help="mujoco: std (rad) of the drifting offset added to the expert's executed commands "
                        "(twin_demonstrations.command_offsets); 0: the plan as is")
    return parser.parse_args(argv)


def world_samples(args: argparse.Namespace, chunk_size: int) -> TrainingSamples:
    """The expert's training samples in the chosen world, seeded."""
    if args.world == "mujoco":
        from rtc_sim_eval.twin_demonstrations import twin_training_samples

        settings = np.array([args.seed, args.episodes, args.frame_stride, chunk_size, ("front", "wrist").index(args.camera),
                             args.perturb])
        if args.data and args.data.exists():
            saved = np.load(args.data)
            if saved["settings"].shape == settings.shape and np.array_equal(saved["settings"], settings):
                return TrainingSamples(saved["images"], saved["states"], saved["chunks"])
        samples = twin_training_samples(args.episodes, args.seed, chunk_size, args.frame_stride, args.camera,
                                        args.workers, args.perturb)
        if args.data:
            np.savez(args.data, settings=settings, images=samples.images, states=samples.states,
                     chunks=samples.chunks)
        return samples
    demos: Demonstrations = generate(args.episodes, seed=args.seed)
    if args.data:
        demos.save(args.data)
    return training_samples(demos, chunk_size, args.frame_stride)


def load_initial_weights(policy: SmallFlowPolicy, checkpoint: Path) -> None:
    """`checkpoint`'s weights into `policy`, refused unless it takes the same inputs (another camera's
    weights would load without complaint: the keys and shapes are the same)."""
    from safetensors.torch import load_file

    features = json.loads((checkpoint / "config.json").read_text())["input_features"]
    if sorted(features) != sorted(policy.config.input_features):
        raise ValueError(f"--init {checkpoint} takes {sorted(features)}, this run {sorted(policy.config.input_features)}")
    policy.load_state_dict(load_file(checkpoint / "model.safetensors"), strict=True)


def train(args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    config = SmallFlowConfig(device="cpu", optimizer_lr=args.lr)
    if args.world == "mujoco":
        config.input_features = {OBS_STATE: config.input_features[OBS_STATE],
                                 f"observation.images.{args.camera}": config.input_features[CAMERA_KEY]}
    (image_key,) = config.image_features
    samples = world_samples(args, config.chunk_size)
    prepared = time.perf_counter()
    print(f"{len(samples.states)} samples from {args.episodes} episodes in {prepared - started:.1f} s", flush=True)

    stats = {key: {k: torch.as_tensor(v, dtype=torch.float32) for k, v in value.items()} for key, value in samples.stats().items()}
    preprocessor, postprocessor = make_small_flow_pre_post_processors(config, dataset_stats=stats)
    mean = {key: value["mean"] for key, value in stats.items()}
    std = {key: value["std"] + 1e-8 for key, value in stats.items()}  # LeRobot's normaliser eps
    states = (torch.from_numpy(samples.states) - mean[OBS_STATE]) / std[OBS_STATE]
    chunks = (torch.from_numpy(samples.chunks) - mean[ACTION]) / std[ACTION]
    images = torch.from_numpy(samples.images)

    policy = SmallFlowPolicy(config)
    if args.init:
        load_initial_weights(policy, args.init)
    policy.train()
    optimizer = torch.optim.AdamW(policy.parameters(), lr=args.lr, weight_decay=config.optimizer_weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, step / 200) * 0.5 * (1 + math.cos(math.pi * step / args.steps))
    )
    averaged = [p.detach().clone() for p in policy.parameters()]
    generator = torch.Generator().manual_seed(args.seed)
    losses: list[float] = []
    for step in range(args.steps):
        index = torch.randint(0, len(states), (args.batch_size,), generator=generator)
        batch = {
            image_key: images[index].float().div_(255.0),
            OBS_STATE: states[index],
            ACTION: chunks[index],
        }
        loss, _ = policy.forward(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        with torch.no_grad():
            torch._foreach_lerp_(averaged, list(policy.parameters()), 1.0 - args.ema)
        losses.append(loss.item())
        if step % 500 == 0 or step == args.steps - 1:
            print(f"step {step:5d}  loss {np.mean(losses[-100:]):.4f}  {time.perf_counter() - started:.0f} s", flush=True)

    with torch.no_grad():  # save the exponential moving average of the weights: steadier predictions
        for parameter, mean_value in zip(policy.parameters(), averaged):
            parameter.copy_(mean_value)
    policy.eval()
    args.out.mkdir(parents=True, exist_ok=True)
    policy.save_pretrained(args.out)
    preprocessor.save_pretrained(args.out)
    postprocessor.save_pretrained(args.out)
    info = {
        "command": "python -m rtc_sim_eval.train_builtin " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v is not None
        ),
        "world": args.world,
        "camera": image_key,
        "episodes": args.episodes,
        "samples": int(len(states)),
        "steps": args.steps,
        "final_loss": float(np.mean(losses[-200:])),
        "parameters": sum(p.numel() for p in policy.parameters()),
        "data_seconds": round(prepared - started, 1),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "torch": torch.__version__,
    }
    (args.out / "train_info.json").write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(info, indent=2))
    return info


def main(argv: list[str] | None = None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    main()
