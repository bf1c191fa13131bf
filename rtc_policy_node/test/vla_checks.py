"""Our guidance inside LeRobot's real pi0 / pi0.5 / SmolVLA, run in a process of its own.

    python vla_checks.py KIND WORKDIR OUT_JSON

pi0 and pi0.5 need LeRobot's patched transformers first on sys.path, SmolVLA the stock one, so
each kind runs in its own interpreter (test_vla_guidance.py starts it). Builds a small KIND policy
offline (vla_fixtures), then with the same observation and noise:
- parity: LeRobot's RTCProcessor vs our RTCGuidance(identity) as the model's rtc_processor;
- vjp and prefix through the model, and how close each chunk's first d rows come to the leftover;
- debug tracking through the model's own sampling loop (it calls is_debug_enabled() and track());
- the node's loading path: save_pretrained, then LeRobotPolicy loads the directory and samples.
Writes the figures as JSON; any failure is a traceback and a non-zero exit.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

import vla_fixtures as fixtures

DELAY, HORIZON, LEFTOVER_START = 4, 25, 10


def observation(cameras: tuple[str, ...], seed: int = 1) -> dict:
    generator = torch.Generator().manual_seed(seed)
    batch = {"observation.state": torch.randn(fixtures.STATE_DIM, generator=generator) * 20.0, "task": fixtures.TASK}
    for name in cameras:
        batch[f"observation.images.{name}"] = torch.rand(3, 96, 96, generator=generator)
    return batch


def install(policy, processor) -> None:
    """Put `processor` where LeRobot's policies keep theirs (the policy and its inner model)."""
    for holder in (policy, *policy.modules()):
        if hasattr(holder, "rtc_processor"):
            holder.rtc_processor = processor


def chunk(policy, batch, noise, leftover=None) -> torch.Tensor:
    kwargs = {} if leftover is None else dict(prev_chunk_left_over=leftover, inference_delay=DELAY,
                                              execution_horizon=HORIZON)
    with torch.no_grad():
        return policy.predict_action_chunk(batch, noise=noise.clone(), **kwargs)[0]


def guidance_figures(kind: str, workdir: Path) -> dict:
    from lerobot.policies.rtc.configuration_rtc import RTCConfig
    from lerobot.policies.rtc.modeling_rtc import RTCProcessor

    from rtc_policy_node.core.guidance import RTCGuidance

    cameras = ("front", "wrist") if kind == "smolvla" else ("front",)
    policy, preprocessor, _ = fixtures.build_policy(kind, workdir, "tiny", cameras=cameras)
    batch = preprocessor(observation(cameras))
    model_dims = policy.config.max_action_dim
    noise = torch.randn(1, fixtures.CHUNK, model_dims, generator=torch.Generator().manual_seed(2))
    earlier = chunk(policy, batch, torch.randn(1, fixtures.CHUNK, model_dims, generator=torch.Generator().manual_seed(3)))
    # The unexecuted rest of an earlier chunk, in the policy's own 6 action dims, as LeRobot's RTC
    # examples pass it: both processors zero-pad it to the model's padded action space.
    leftover = earlier[LEFTOVER_START:].clone()
    figures: dict = {"parameters": fixtures.parameter_count(policy), "leftover_shape": list(leftover.shape),
                     "model_action_dims": model_dims}

    config = policy.config.rtc_config
    install(policy, RTCProcessor(config))
    theirs = chunk(policy, batch, noise, leftover)
    install(policy, RTCGuidance(config, "identity"))
    ours = chunk(policy, batch, noise, leftover)
    figures["identity_vs_lerobot_max_abs"] = float((ours - theirs).abs().max())

    unguided = chunk(policy, batch, noise)
    gaps = {"off": float((unguided[:DELAY] - leftover[:DELAY]).abs().max())}
    for mode in ("identity", "vjp", "prefix"):
        install(policy, RTCGuidance(config, mode))
        guided = chunk(policy, batch, noise, leftover)
        assert guided.shape == unguided.shape and torch.isfinite(guided).all(), mode
        gaps[mode] = float((guided[:DELAY] - leftover[:DELAY]).abs().max())
        figures[f"{mode}_changes_chunk_max_abs"] = float((guided - unguided).abs().max())
    figures["gap_first_d_rows"] = gaps

    debug_config = RTCConfig(**{**vars(config), "debug": True, "debug_maxlen": 100})
    tracked = {}
    for name, processor in (("lerobot", RTCProcessor(debug_config)), ("ours", RTCGuidance(debug_config, "identity"))):
        install(policy, processor)
        chunk(policy, batch, noise, leftover)
        tracked[name] = processor.get_all_debug_steps()
    steps = len(tracked["ours"])
    assert steps == len(tracked["lerobot"]) and steps > 0
    worst = 0.0
    for their_step, our_step in zip(tracked["lerobot"], tracked["ours"]):
        assert our_step.time == their_step.time
        for field in ("x_t", "v_t", "x1_t", "err", "correction", "weights"):
            worst = max(worst, float((getattr(our_step, field) - getattr(their_step, field)).abs().max()))
    figures["debug_steps"] = steps
    figures["debug_fields_max_abs"] = worst

    figures["loaded"] = loaded_policy_figures(kind, workdir, cameras)
    return figures


def loaded_policy_figures(kind: str, workdir: Path, cameras: tuple[str, ...]) -> dict:
    """Save in LeRobot's pretrained format and load through the node's path (LeRobotPolicy)."""
    from rtc_policy_node.lerobot_policy import GuidanceSettings, LeRobotPolicy

    from safetensors.torch import load_file

    path = fixtures.save_checkpoint(kind, workdir, workdir / f"{kind}_checkpoint", cameras=cameras)
    policy = LeRobotPolicy(path, "cpu", GuidanceSettings(mode="vjp"), task=fixtures.TASK)
    loaded = policy.policy.state_dict()
    saved = load_file(path / "model.safetensors")
    assert set(saved) == set(loaded), set(saved) ^ set(loaded)
    assert all(torch.equal(saved[k], loaded[k]) for k in saved), "the loaded weights are not the saved ones"
    generator = np.random.default_rng(0)
    state = generator.uniform(-30, 30, fixtures.STATE_DIM)
    images = {f"observation.images.{c}": generator.integers(0, 255, (96, 96, 3), dtype=np.uint8) for c in cameras}
    first = policy.sample(state, images, None, 0)
    second = policy.sample(state, images, first.model_output[LEFTOVER_START:], DELAY)
    assert second.actions.shape == (fixtures.CHUNK, fixtures.ACTION_DIM) and np.isfinite(second.actions).all()
    return {"type": policy.type, "image_keys": list(policy.image_keys), "guidance_ms": second.guidance_s * 1e3}


def main(argv: list[str]) -> int:
    kind, workdir, out = argv[0], Path(argv[1]), Path(argv[2])
    workdir.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(guidance_figures(kind, workdir), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
