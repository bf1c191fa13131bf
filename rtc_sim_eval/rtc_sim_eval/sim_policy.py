"""The policy side of the simulated loop: observation -> chunk, through the policy node's LeRobotPolicy.

The executor side holds radians; the policy works in LeRobot feature units and its own normalised
output space. As the policy node does, chunks are kept in that output space, so the leftover handed
to guidance is a slice of what the policy produced, not a round trip through the arm.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor
from rtc_policy_node.joint_units import CalibratedUnits
from rtc_policy_node.lerobot_policy import GuidanceSettings, LeRobotPolicy, SampledChunk
from so100_driver.arm import JOINT_NAMES, default_calibration_path, load_calibration
from so100_driver.sim import Scene, render

from rtc_sim_eval.twin_task import TwinPickPlace


LEROBOT_GUIDANCE = "lerobot"  # GuidanceSettings.mode for LeRobot's own RTCProcessor


class LeRobotRTCGuidance:
    """LeRobot's own RTCProcessor in the policy's `rtc_processor` slot, as LeRobot's policies hold it.

    It adds only what the policy's sampler reads besides `denoise_step`: a mode name (it is none of
    the project's modes; small_flow only asks whether it is "prefix") and a timing LeRobot does not
    keep."""

    mode = LEROBOT_GUIDANCE

    def __init__(self, rtc_config: Any) -> None:
        from lerobot.policies.rtc.modeling_rtc import RTCProcessor

        self.rtc_config = rtc_config
        self.processor = RTCProcessor(rtc_config)
        self.seconds = 0.0

    def reset_timing(self) -> None:
        self.seconds = 0.0

    def denoise_step(self, x_t: Tensor, prev_chunk_left_over: Tensor | None, inference_delay: int | None,
                     time: float, original_denoise_step_partial: Callable[[Tensor], Tensor],
                     execution_horizon: int | None = None) -> Tensor:
        return self.processor.denoise_step(x_t, prev_chunk_left_over, inference_delay, time,
                                           original_denoise_step_partial, execution_horizon=execution_horizon)


class SimPolicy:
    """One checkpoint, loaded once per guidance setting (it is small), sampled on simulated observations."""

    def __init__(self, checkpoint: Path) -> None:
        self.checkpoint = checkpoint
        self.units = CalibratedUnits(load_calibration(default_calibration_path()), JOINT_NAMES)  # the simulated arm's
        self._loaded: dict[GuidanceSettings, LeRobotPolicy] = {}
        first = self.policy(GuidanceSettings(mode="off"))
        if first.action_dim != len(JOINT_NAMES) or first.state_dim != len(JOINT_NAMES):
            raise ValueError(f"policy {checkpoint} has state dim {first.state_dim} and action dim "
                             f"{first.action_dim}; the simulated SO-100 has {len(JOINT_NAMES)} joints")
        if len(first.image_keys) != 1 or first.chunk_size is None:
            raise ValueError(f"policy {checkpoint} must take one camera and have a chunk_size")
        self.chunk_size = first.chunk_size
        self.action_dim = first.action_dim
        (self.image_key,) = first.image_keys

    def policy(self, guidance: GuidanceSettings) -> LeRobotPolicy:
        """The checkpoint under `guidance`; mode LEROBOT_GUIDANCE installs LeRobot's RTCProcessor."""
        if guidance not in self._loaded:
            if guidance.mode == LEROBOT_GUIDANCE:
                loaded = LeRobotPolicy(str(self.checkpoint), "cpu", dataclasses.replace(guidance, mode="identity"))
                loaded.use_guidance(LeRobotRTCGuidance(loaded.config.rtc_config))
            else:
                loaded = LeRobotPolicy(str(self.checkpoint), "cpu", guidance)
            self._loaded[guidance] = loaded
        return self._loaded[guidance]

    def infer(
        self,
        guidance: GuidanceSettings,
        joint_positions: np.ndarray,
        scene: Scene | TwinPickPlace,
        noise: np.ndarray,
        leftover: np.ndarray | None,
        inference_delay: int,
        max_disagreement: float = 0.0,
        state_positions: np.ndarray | None = None,
    ) -> tuple[np.ndarray, SampledChunk]:
        """(chunk in radians (H, 6), the sampled chunk with its model output); `max_disagreement`
        as LeRobotPolicy.sample takes it from the scheduler's Plan. The image: the kinematic scene drawn
        at `joint_positions`, or the live twin task's camera named by the image key
        (observation.images.<camera>). The state: `joint_positions`, or `state_positions` when given
        (rollforward: where the arm will be)."""
        state = self.units.to_features(joint_positions if state_positions is None else state_positions)
        image = scene.image(self.image_key.rpartition(".")[2]) if isinstance(scene, TwinPickPlace) \
            else render(joint_positions, scene)
        images = {self.image_key: image}
        sampled = self.policy(guidance).sample(state, images, leftover, inference_delay, noise=noise,
                                               max_disagreement=max_disagreement)
        return self.units.to_radians(sampled.actions), sampled
