"""A LeRobot policy with its processors, sampling action chunks under this project's RTC guidance.

Loading goes through LeRobot's own code (PreTrainedConfig, get_policy_class,
make_pre_post_processors), so pi0, pi0.5, SmolVLA and the built-in `small_flow` load the same way;
a local checkpoint directory is checked first, so a missing or malformed file is a CheckpointError
naming it. Guidance: LeRobot's policies call `self.rtc_processor.denoise_step(...)` inside their
sampling loop; every module that holds an `rtc_processor` gets an `RTCGuidance` in its place.

Debugging: `record_denoising(directory)` turns on LeRobot's RTC debug tracking in the guidance and
writes, per sampled chunk, the tracked denoising steps as `chunk_NNNN.png` and `.npz` (NNNN counts
chunks from 1, as the policy node numbers them); see `denoising_plot.py`.

Spaces: the leftover handed back for guidance is the policy's own output before postprocessing
(normalized, as LeRobot's RTC keeps it); `actions` are after postprocessing, in the policy's
feature units (degrees / 0..100 for LeRobot SO-100 checkpoints).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rtc_policy_node.core import PrefixSchedule, RTCGuidance

STATE_KEY = "observation.state"
ACTION_KEY = "action"


@dataclass(frozen=True)
class GuidanceSettings:
    mode: str = "identity"            # off | identity | vjp | prefix
    execution_horizon: int = 25       # ticks of the leftover guidance follows
    max_guidance_weight: float = 10.0
    schedule: str = "LINEAR"          # ZEROS | ONES | LINEAR | EXP


@dataclass(frozen=True)
class SampledChunk:
    model_output: np.ndarray  # (length, action_dim) before postprocessing: the future leftover
    actions: np.ndarray       # (length, action_dim) in the policy's feature units
    guidance_s: float         # part of the sampling time spent in guidance


class LeRobotPolicy:
    """Load once, then `sample()` one chunk per inference."""

    def __init__(self, path: str | Path, device: str, guidance: GuidanceSettings, task: str = "") -> None:
        from lerobot.policies.factory import get_policy_class, make_pre_post_processors
        from lerobot.policies.rtc.configuration_rtc import RTCConfig

        from rtc_policy_node.builtin_policy import read_policy_config  # also registers small_flow

        config = read_policy_config(path)
        config.device = device
        config.rtc_config = RTCConfig(
            enabled=guidance.mode != "off",
            execution_horizon=guidance.execution_horizon,
            max_guidance_weight=guidance.max_guidance_weight,
            prefix_attention_schedule=PrefixSchedule[guidance.schedule.upper()].value,
        )
        self.policy = get_policy_class(config.type).from_pretrained(str(path), config=config)
        self.policy.to(device)
        self._holders = [m for m in (self.policy, *self.policy.modules()) if hasattr(m, "rtc_processor")]
        if guidance.mode != "off" and not self._holders:
            raise ValueError(f"policy type {config.type!r} has no rtc_processor: it cannot be guided; "
                             "use guidance_mode off")
        self.use_guidance(RTCGuidance(config.rtc_config, mode=guidance.mode))
        self.preprocessor, self.postprocessor = make_pre_post_processors(
            config, pretrained_path=str(path), preprocessor_overrides={"device_processor": {"device": device}})
        self.settings = guidance
        self.config = config
        self.device = device
        self.task = task
        self.type = config.type
        self.image_keys = tuple(config.image_features)
        self.state_dim = config.input_features[STATE_KEY].shape[0]
        self.action_dim = config.output_features[ACTION_KEY].shape[0]
        self.chunk_size = int(getattr(config, "chunk_size", 0)) or None
        # pi0-style models pad actions to max_action_dim inside the model; the leftover must match.
        self.model_action_dim = getattr(config, "max_action_dim", self.action_dim)
        self._denoising_dir: Path | None = None
        self._sampled = 0

    def use_guidance(self, guidance: Any) -> None:
        """Install a guidance (an RTCGuidance, or a wrapper with its interface) in the policy."""
        self.guidance = guidance
        for holder in self._holders:
            holder.rtc_processor = guidance

    def record_denoising(self, directory: str | Path) -> None:
        """Track every denoising step from now on and write one plot (and npz) per chunk into
        `directory`; writing adds a few hundred milliseconds to each inference. "" does nothing."""
        if not str(directory):
            return
        self._denoising_dir = Path(directory)
        self._denoising_dir.mkdir(parents=True, exist_ok=True)
        rtc_config = self.config.rtc_config
        rtc_config.debug = True
        rtc_config.debug_maxlen = max(rtc_config.debug_maxlen, 1000)
        self.use_guidance(RTCGuidance(rtc_config, mode=self.settings.mode))

    def sample(self, state: np.ndarray, images: dict[str, np.ndarray], leftover: np.ndarray | None,
               inference_delay: int, noise: np.ndarray | None = None) -> SampledChunk:
        """One chunk. `state` in feature units, images HxWx3 uint8 by image key, `leftover` a
        (rows, action_dim) slice of an earlier `model_output` or None for the first chunk.
        `noise` (length, action_dim) fixes the sampling noise, for reproducible comparisons."""
        if state.shape != (self.state_dim,):
            raise ValueError(f"state has shape {state.shape}, the policy expects ({self.state_dim},)")
        missing = set(self.image_keys) - set(images)
        if missing:
            raise ValueError(f"no image for {sorted(missing)}; the policy needs {list(self.image_keys)}")
        batch = {STATE_KEY: torch.from_numpy(state.astype(np.float32)), "task": self.task}
        for key in self.image_keys:
            batch[key] = torch.from_numpy(images[key]).permute(2, 0, 1).float().div_(255.0)
        batch = self.preprocessor(batch)
        kwargs: dict[str, Any] = {}
        if leftover is not None and self.settings.mode != "off":
            kwargs = dict(prev_chunk_left_over=self._padded(leftover, "leftover"), inference_delay=inference_delay,
                          execution_horizon=self.settings.execution_horizon)
        if noise is not None:
            if self.chunk_size is not None and noise.shape[0] != self.chunk_size:
                raise ValueError(f"noise has {noise.shape[0]} rows, the policy's chunk has {self.chunk_size}")
            kwargs["noise"] = self._padded(noise, "noise")
        self.guidance.reset_timing()
        if self._denoising_dir is not None:
            self.guidance.reset_tracker()
        with torch.no_grad():
            output = self.policy.predict_action_chunk(batch, **kwargs)
        output = output[..., : self.action_dim]
        actions = self.postprocessor(output.clone())
        self._sampled += 1
        if self._denoising_dir is not None:
            from rtc_policy_node.denoising_plot import write_denoising_record

            write_denoising_record(self.guidance.get_all_debug_steps(), leftover, inference_delay,
                                   self._denoising_dir / f"chunk_{self._sampled:04d}", self.action_dim)
        return SampledChunk(model_output=output[0].detach().cpu().numpy(),
                            actions=actions[0].detach().cpu().numpy().astype(np.float64),
                            guidance_s=self.guidance.seconds)

    def _padded(self, rows: np.ndarray, name: str) -> torch.Tensor:
        """(rows, action_dim) -> (1, rows, model_action_dim), zero-padded as pi0 pads actions."""
        if rows.ndim != 2 or rows.shape[1] != self.action_dim:
            raise ValueError(f"{name} has shape {rows.shape}, expected (rows, {self.action_dim})")
        padded = torch.zeros(1, rows.shape[0], self.model_action_dim, device=self.device)
        padded[0, :, : self.action_dim] = torch.from_numpy(rows.astype(np.float32))
        return padded


def emulate_latency(extra_latency_ms: float, started: float) -> None:
    """Sleep until `extra_latency_ms` after `started` (monotonic seconds) has passed."""
    remaining = started + extra_latency_ms / 1000.0 - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)
