"""The policy side of the simulated loop: observation -> chunk, through the policy node's LeRobotPolicy.

The executor side holds radians; the policy works in LeRobot feature units and its own normalised
output space. As the policy node does, chunks are kept in that output space, so the leftover handed
to guidance is a slice of what the policy produced, not a round trip through the arm.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rtc_policy_node.joint_units import CalibratedUnits
from rtc_policy_node.lerobot_policy import GuidanceSettings, LeRobotPolicy, SampledChunk
from so100_driver.arm import JOINT_NAMES, default_calibration_path, load_calibration
from so100_driver.sim import Scene, render


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
        if guidance not in self._loaded:
            self._loaded[guidance] = LeRobotPolicy(str(self.checkpoint), "cpu", guidance)
        return self._loaded[guidance]

    def infer(
        self,
        guidance: GuidanceSettings,
        joint_positions: np.ndarray,
        scene: Scene,
        noise: np.ndarray,
        leftover: np.ndarray | None,
        inference_delay: int,
    ) -> tuple[np.ndarray, SampledChunk]:
        """(chunk in radians (H, 6), the sampled chunk with its model output)."""
        state = self.units.to_features(joint_positions)
        images = {self.image_key: render(joint_positions, scene)}
        sampled = self.policy(guidance).sample(state, images, leftover, inference_delay, noise=noise)
        return self.units.to_radians(sampled.actions), sampled
