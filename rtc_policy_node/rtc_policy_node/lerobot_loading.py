"""Load any LeRobot policy through LeRobot's own code (PreTrainedConfig, get_policy_class,
make_pre_post_processors): pi0, pi0.5, SmolVLA, and `small_flow` when asked to (the oracle of the
built-in loader, `builtin_policy.loading`). Imports LeRobot, which takes seconds: only this path.
"""
from __future__ import annotations

import re
from pathlib import Path

import lerobot.policies  # noqa: F401  registers LeRobot's own policy types
from lerobot.configs.policies import PreTrainedConfig
from lerobot.policies.factory import get_policy_class, make_pre_post_processors
from lerobot.policies.rtc.configuration_rtc import RTCConfig
from lerobot.processor import NormalizerProcessorStep, TransitionKey, create_transition

import rtc_policy_node.builtin_policy.configuration_small_flow  # noqa: F401  registers small_flow with LeRobot
from rtc_policy_node.builtin_policy.checkpoint import CheckpointError, check_checkpoint_files, read_json
from rtc_policy_node.lerobot_policy import ACTION_KEY, STATE_KEY, GuidanceSettings, LoadedPolicy
from rtc_policy_node.shipped_checkpoints import CONFIG_FILE

_HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")


def read_policy_config(path: str | Path) -> PreTrainedConfig:
    """The config of a checkpoint directory (files checked first) or of a hub id (left to LeRobot)."""
    local = Path(path)
    if not local.exists() and _HUB_ID.fullmatch(str(path)):
        return PreTrainedConfig.from_pretrained(str(path))
    check_checkpoint_files(local)
    policy_type = read_json(local / CONFIG_FILE).get("type")
    if policy_type not in PreTrainedConfig.get_known_choices():
        raise CheckpointError(f"{local / CONFIG_FILE}: unknown policy type {policy_type!r}")
    try:
        return PreTrainedConfig.from_pretrained(local)
    except Exception as exc:  # draccus reports bad fields with its own exception types
        raise CheckpointError(f"{local / CONFIG_FILE} is not a valid {policy_type} config: {exc}") from exc


def load_with_lerobot(path: str | Path, device: str, guidance: GuidanceSettings) -> LoadedPolicy:
    """A checkpoint directory or hub id, loaded and wrapped by LeRobot's factory."""
    config = read_policy_config(path)
    config.device = device
    config.rtc_config = RTCConfig(**guidance.rtc_fields())
    policy = get_policy_class(config.type).from_pretrained(str(path), config=config)
    policy.to(device)
    preprocessor, postprocessor = make_pre_post_processors(
        config, pretrained_path=str(path), preprocessor_overrides={"device_processor": {"device": device}})
    normalizer = next(step for step in preprocessor.steps if isinstance(step, NormalizerProcessorStep))
    action_dim = config.output_features[ACTION_KEY].shape[0]
    joint_names = tuple(getattr(config, "joint_names", None) or ()) or None  # where the policy names them
    return LoadedPolicy(
        policy=policy, rtc_config=config.rtc_config, preprocessor=preprocessor, postprocessor=postprocessor,
        normalize_action=lambda action: normalizer(create_transition(action=action.to(device)))[TransitionKey.ACTION],
        type=config.type, image_shapes={key: tuple(f.shape) for key, f in config.image_features.items()},
        state_dim=config.input_features[STATE_KEY].shape[0], action_dim=action_dim,
        chunk_size=int(getattr(config, "chunk_size", 0)) or None,
        num_inference_steps=getattr(config, "num_inference_steps", None), joint_names=joint_names,
        # pi0-style models pad actions to max_action_dim inside the model; the leftover must match.
        model_action_dim=getattr(config, "max_action_dim", action_dim),
        use_relative_actions=bool(getattr(config, "use_relative_actions", False)),
        action_names=joint_names or getattr(config, "action_feature_names", None),
        relative_exclude_joints=tuple(getattr(config, "relative_exclude_joints", ())),
        processor_steps=tuple(type(step).__name__ for step in (*preprocessor.steps, *postprocessor.steps)))
