"""The policy side of the simulated loop: observation -> chunk, through the policy node's LeRobotPolicy.

The executor side holds radians; the policy works in LeRobot feature units and its own normalised
output space. As the policy node does, chunks are kept in that output space, so the leftover handed
to guidance is a slice of what the policy produced, not a round trip through the arm.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor
from rtc_contract.modes import GuidanceMode
from rtc_policy_node.chunk_sampler import ChunkSampler, RadianObservation
from rtc_policy_node.joint_units import CalibratedUnits
from rtc_policy_node.lerobot_policy import GuidanceSettings, LeRobotPolicy, SampledChunk
from so100_driver.arm import JOINT_NAMES, default_calibration_path, load_calibration
from so100_driver.sim import Scene, render

from rtc_sim_eval.twin_task import TwinPickPlace


class LeRobotRTCGuidance:
    """LeRobot's own RTCProcessor in the policy's `rtc_processor` slot, as LeRobot's policies hold it.

    It adds only what the policy's sampler reads besides `denoise_step`: a mode (none of the
    project's; small_flow only asks whether it is prefix) and a timing LeRobot does not keep."""

    mode = None

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
        self._loaded: dict[GuidanceSettings, ChunkSampler] = {}
        self._lerobot: dict[GuidanceSettings, LeRobotRTCGuidance] = {}
        first = self.policy(GuidanceSettings(mode=GuidanceMode.OFF))
        if len(first.image_keys) != 1 or first.chunk_size is None:
            raise ValueError(f"policy {checkpoint} must take one camera and have a chunk_size")
        self.chunk_size = first.chunk_size
        self.action_dim = first.action_dim
        (self.image_key,) = first.image_keys

    def policy(self, guidance: GuidanceSettings) -> LeRobotPolicy:
        """The checkpoint under `guidance`."""
        return self.sampler(guidance).policy

    def sampler(self, guidance: GuidanceSettings) -> ChunkSampler:
        if guidance not in self._loaded:
            loaded = LeRobotPolicy(str(self.checkpoint), "cpu", guidance)
            try:
                self._loaded[guidance] = ChunkSampler(loaded, self.units, JOINT_NAMES)
            except ValueError as err:
                raise ValueError(f"policy {self.checkpoint} does not fit the simulated SO-100: {err}") from None
        return self._loaded[guidance]

    def lerobot_guidance(self, guidance: GuidanceSettings) -> LeRobotRTCGuidance:
        """LeRobot's own RTCProcessor with the configuration `guidance` gives the policy."""
        if guidance not in self._lerobot:
            self._lerobot[guidance] = LeRobotRTCGuidance(self.policy(guidance).rtc_config)
        return self._lerobot[guidance]

    def infer(
        self,
        guidance: GuidanceSettings,
        joint_positions: np.ndarray,
        scene: Scene | TwinPickPlace,
        noise: np.ndarray,
        leftover: np.ndarray | None,
        inference_delay: int,
        max_disagreement: float = 0.0,
        lerobot_rtc: bool = False,
        guide_with: Any = None,
        state_positions: np.ndarray | None = None,
    ) -> tuple[np.ndarray, SampledChunk]:
        """(chunk in radians (H, 6), the sampled chunk with its model output); `max_disagreement`
        as LeRobotPolicy.sample takes it from the scheduler's Plan, `guide_with` as ChunkSampler.sample;
        `lerobot_rtc`: guided by LeRobot's own RTCProcessor (`guidance` enabled: not off).
        The image: the kinematic scene drawn at `joint_positions`, or the live twin task's camera named
        by the image key (observation.images.<camera>). The state: `joint_positions`, or
        `state_positions` when given (rollforward: where the arm will be)."""
        if lerobot_rtc:
            guide_with = self.lerobot_guidance(guidance)
        image = scene.image(self.image_key.rpartition(".")[2]) if isinstance(scene, TwinPickPlace) \
            else render(joint_positions, scene)
        positions = joint_positions if state_positions is None else state_positions
        observation = RadianObservation(JOINT_NAMES, positions, {self.image_key: image})
        chunk = self.sampler(guidance).sample(observation, leftover, inference_delay, noise,
                                           max_disagreement, guide_with=guide_with)
        return chunk.actions, chunk.sampled
