"""An untrained small_flow checkpoint for an arm of any size.

Writes a randomly initialised policy in LeRobot's pretrained format (config, weights, processors),
naming its joints, so the node graph can be brought up on a new arm before any training, and so
tests can run policies of other sizes than the SO-100's without a dataset.
"""
from __future__ import annotations

from pathlib import Path
from collections.abc import Sequence

import torch
from lerobot.configs.types import FeatureType, PolicyFeature
from lerobot.utils.constants import ACTION, OBS_STATE

from rtc_policy_node.builtin_policy.configuration_small_flow import CAMERA_KEY, SmallFlowConfig
from rtc_policy_node.builtin_policy.modeling_small_flow import SmallFlowPolicy
from rtc_policy_node.builtin_policy.processor_small_flow import make_small_flow_pre_post_processors

__all__ = ["tiny_config", "write_untrained_checkpoint"]


def tiny_config(joints: int, joint_names: Sequence[str] | None = None, image_size: int = 96,
                **overrides) -> SmallFlowConfig:
    """A small network (a few thousand parameters) over `joints` joints and one camera."""
    features = {
        "input_features": {
            OBS_STATE: PolicyFeature(type=FeatureType.STATE, shape=(joints,)),
            CAMERA_KEY: PolicyFeature(type=FeatureType.VISUAL, shape=(3, image_size, image_size)),
        },
        "output_features": {ACTION: PolicyFeature(type=FeatureType.ACTION, shape=(joints,))},
    }
    settings = dict(device="cpu", chunk_size=12, n_action_steps=6, hidden_dim=32, num_blocks=1, action_basis_size=12,
                    image_feature_dim=16, num_inference_steps=4)
    settings.update(overrides)
    return SmallFlowConfig(joint_names=list(joint_names) if joint_names else None, **features, **settings)


def write_untrained_checkpoint(path: Path, config: SmallFlowConfig, seed: int = 0) -> Path:
    """Save a freshly initialised policy of `config` (unit normalisation stats) under `path`."""
    torch.manual_seed(seed)
    joints = config.action_dim
    stats = {
        OBS_STATE: {"mean": torch.zeros(joints), "std": torch.ones(joints)},
        ACTION: {"mean": torch.full((joints,), 10.0), "std": torch.full((joints,), 2.0)},
    }
    SmallFlowPolicy(config).save_pretrained(path)
    for pipeline in make_small_flow_pre_post_processors(config, dataset_stats=stats):
        pipeline.save_pretrained(path)
    return Path(path)
