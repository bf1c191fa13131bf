"""A checkpoint directory in LeRobot's pretrained format, read without LeRobot: its files checked
(a broken one fails naming the file), its policy type, and a small_flow checkpoint's sizes.

LeRobot's own loaders report a missing or malformed file deep inside draccus or safetensors, or
(for processors) not at all until first use; these checks run first and say which file is wrong.
"""

from __future__ import annotations

import json
from pathlib import Path

from rtc_policy_node.builtin_policy.flow_model import POLICY_TYPE, SmallFlowSpec
from rtc_policy_node.shipped_checkpoints import CONFIG_FILE, SHIPPED_CHECKPOINT, shipped_checkpoint_path

WEIGHTS_FILE = "model.safetensors"
# LeRobot's POLICY_PREPROCESSOR_DEFAULT_NAME and POLICY_POSTPROCESSOR_DEFAULT_NAME, as saved.
PREPROCESSOR_FILE = "policy_preprocessor.json"
POSTPROCESSOR_FILE = "policy_postprocessor.json"
PROCESSOR_FILES = (PREPROCESSOR_FILE, POSTPROCESSOR_FILE)


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
                for step in read_json(path / name).get("steps", [])
                if "state_file" in step and not (path / step["state_file"]).is_file()
            ]
    if missing:
        raise CheckpointError(f"checkpoint {path} is missing {', '.join(missing)}")


def is_small_flow_checkpoint(path: str | Path) -> bool:
    """A local directory whose config.json reads as a small_flow policy (else LeRobot loads it and
    reports what is wrong)."""
    config = Path(path) / CONFIG_FILE
    try:
        return json.loads(config.read_text()).get("type") == POLICY_TYPE
    except (OSError, ValueError, AttributeError):
        return False


def read_spec(path: Path) -> SmallFlowSpec:
    """The sizes of a small_flow checkpoint directory (files checked first), from its config.json."""
    check_checkpoint_files(path)
    config = read_json(path / CONFIG_FILE)
    if config.get("type") != POLICY_TYPE:
        raise CheckpointError(f"{path / CONFIG_FILE} is a '{config.get('type')}' policy, not '{POLICY_TYPE}'")
    try:
        features = {**config["input_features"], **config["output_features"]}
        shapes = {key: (feature["type"], tuple(feature["shape"])) for key, feature in features.items()}
        return SmallFlowSpec.from_fields(config, shapes)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path / CONFIG_FILE} is not a valid {POLICY_TYPE} config: {exc!r}") from exc


def read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} cannot be read as JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} must hold a JSON object")
    return data
