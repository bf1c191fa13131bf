"""Sample a chunk in ROS terms: a radians observation in, a radians chunk out (plain torch, no rclpy).

The one place where joints matched by name, the policy's units (`joint_units`) and the policy's
sampler (`lerobot_policy.LeRobotPolicy`) meet: the policy node, `rtc_replay` and `rtc_sim_eval`
all sample through it, so they cannot differ in how a leftover is followed or units are converted.
The chunk says whether it followed the leftover (a mode choice may have returned the unguided
sample) and over how many of its rows: what ActionChunk's guidance fields carry.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from rtc_contract.joint_vector import joint_vector
from rtc_contract.modes import GuidanceMode
from rtc_policy_node.joint_units import JointUnits

if TYPE_CHECKING:  # torch: the policy node imports this module before its parameters are checked
    from rtc_policy_node.lerobot_policy import GuidanceSettings, LeRobotPolicy, SampledChunk


@dataclass(frozen=True)
class RadianObservation:
    """Joint positions (radians) named by `joint_names`, in any order, and images (HxWx3 uint8) by image key."""

    joint_names: Sequence[str]
    positions: Sequence[float]
    images: dict[str, np.ndarray]


@dataclass(frozen=True)
class RadianChunk:
    actions: np.ndarray      # (length, joints) radians, in ChunkSampler.joints order
    sampled: SampledChunk    # the policy's own: model_output (the next leftover), its time split, the mode choice
    guided: bool             # it follows the leftover it was given
    execution_horizon: int   # the leftover rows guidance followed (guided), else the settings' horizon


class ChunkSampler:
    """A loaded policy with its units, for the joints `joints` (the policy's state/action order)."""

    def __init__(self, policy: LeRobotPolicy, units: JointUnits, joints: Sequence[str]) -> None:
        if policy.action_dim != len(joints) or policy.state_dim != len(joints):
            raise ValueError(f"{len(joints)} joints {list(joints)}; the policy has state dim {policy.state_dim} "
                             f"and action dim {policy.action_dim}")
        self.policy = policy
        self.units = units
        self.joints = list(joints)

    @property
    def settings(self) -> GuidanceSettings:
        return self.policy.settings

    def sample(self, observation: RadianObservation, leftover: np.ndarray | None, delay: int,
               noise: np.ndarray | None = None, max_disagreement: float = 0.0,
               guidance: GuidanceSettings | None = None, guide_with: Any = None) -> RadianChunk:
        """One chunk. `leftover`, `delay`, `noise`, `max_disagreement` as LeRobotPolicy.sample takes
        them; `guidance` (default: as configured) guides this chunk and the next ones;
        `guide_with` replaces the guidance object for this chunk only (a recorder of the denoising
        steps, LeRobot's own RTCProcessor), configured by `guidance`."""
        if guidance is not None:
            self.policy.configure(guidance)
        state = self.units.to_features(joint_vector(observation.joint_names, observation.positions, self.joints))
        sampled = self.policy.sample(state, observation.images, leftover, delay, noise, max_disagreement,
                                     guide_with=guide_with)
        settings = self.policy.settings
        guided = leftover is not None and settings.mode != GuidanceMode.OFF and not sampled.unguided_instead
        horizon = min(settings.execution_horizon, len(leftover)) if guided else settings.execution_horizon
        return RadianChunk(self.units.to_radians(sampled.actions), sampled, guided, horizon)
