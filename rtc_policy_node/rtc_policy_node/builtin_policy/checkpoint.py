"""Checks on a LeRobot pretrained checkpoint directory, so a broken one fails naming the file.

LeRobot's own loaders report a missing or malformed file deep inside draccus or safetensors, or
(for processors) not at all until first use; these checks run first and say which file is wrong.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import lerobot.policies  # noqa: F401  registers LeRobot's own policy types
from lerobot.configs.policies import PreTrainedConfig
from lerobot.utils.constants import POLICY_POSTPROCESSOR_DEFAULT_NAME, POLICY_PREPROCESSOR_DEFAULT_NAME

from rtc_policy_node.builtin_policy.configuration_small_flow import POLICY_TYPE, SmallFlowConfig
from rtc_policy_node.shipped_checkpoints import CONFIG_FILE, SHIPPED_CHECKPOINT, shipped_checkpoint_path

WEIGHTS_FILE = "model.safetensors"
PROCESSOR_FILES = (f"{POLICY_PREPROCESSOR_DEFAULT_NAME}.json", f"{POLICY_POSTPROCESSOR_DEFAULT_NAME}.json")
_HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")


class CheckpointError(ValueError):
    """A checkpoint directory is missing a file, or its files do not agree with each other."""


def default_checkpoint_path() -> Path:
    """The shipped checkpoint the policy node loads when given none (the kinematic world's)."""
    return shipped_checkpoint_path(SHIPPED_CHECKPOINT)


def check_checkpoint_files(path: Path) -> None:
    """Every file LeRobot will open exists: config, weights, processor configs and their state files."""
    if not path.is_dir():
        raise CheckpointError(f"checkpoint directory {path} does not exist")
    missing = [name for name in (CONFIG_FILE, WEIGHTS_FILE, *PROCESSOR_FILES) if not (path / name).is_file()]
    for name in PROCESSOR_FILES:
        if (path / name).is_file():
            missing += [
                step["state_file"]
                for step in _read_json(path / name).get("steps", [])
                if "state_file" in step and not (path / step["state_file"]).is_file()
            ]
    if missing:
        raise CheckpointError(f"checkpoint {path} is missing {', '.join(missing)}")


def read_policy_config(path: str | Path) -> PreTrainedConfig:
    """The config of a checkpoint directory (files checked first) or of a hub id (left to LeRobot)."""
    local = Path(path)
    if not local.exists() and _HUB_ID.fullmatch(str(path)):
        return PreTrainedConfig.from_pretrained(str(path))
    check_checkpoint_files(local)
    policy_type = _read_json(local / CONFIG_FILE).get("type")
    if policy_type not in PreTrainedConfig.get_known_choices():
        raise CheckpointError(f"{local / CONFIG_FILE}: unknown policy type {policy_type!r}")
    try:
        return PreTrainedConfig.from_pretrained(local)
    except Exception as exc:  # draccus reports bad fields with its own exception types
        raise CheckpointError(f"{local / CONFIG_FILE} is not a valid {policy_type} config: {exc}") from exc


def read_checkpoint_config(path: Path) -> SmallFlowConfig:
    """The config of a small_flow checkpoint directory, after checking its files."""
    policy_type = _read_json(path / CONFIG_FILE).get("type") if (path / CONFIG_FILE).is_file() else None
    if policy_type is not None and policy_type != POLICY_TYPE:
        raise CheckpointError(f"{path / CONFIG_FILE} is a '{policy_type}' policy, not '{POLICY_TYPE}'")
    config = read_policy_config(path)
    assert isinstance(config, SmallFlowConfig)
    return config


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} cannot be read as JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} must hold a JSON object")
    return data
