"""The simulated SO-100 reaching task: kinematics, scene, scripted expert and camera rendering."""

from so100_driver.sim.expert import Demonstration, demonstrate, start_joint_positions, start_position_ticks
from so100_driver.sim.kinematics import forward_kinematics, inverse_kinematics_tip_down, tool_tip
from so100_driver.sim.render import render
from so100_driver.sim.scene import (
    Scene,
    at_target,
    joint_limits,
    lateral_side,
    sample_scene,
    scene_for_seed,
    segment_hits_obstacle,
)

__all__ = [
    "Demonstration",
    "Scene",
    "at_target",
    "demonstrate",
    "forward_kinematics",
    "inverse_kinematics_tip_down",
    "joint_limits",
    "lateral_side",
    "render",
    "sample_scene",
    "scene_for_seed",
    "segment_hits_obstacle",
    "start_joint_positions",
    "start_position_ticks",
    "tool_tip",
]
