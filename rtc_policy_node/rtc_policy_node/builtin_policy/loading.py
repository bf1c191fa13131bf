"""Load a small_flow checkpoint without LeRobot: weights into `SmallFlowModel`, and the mean/std
normalisation its processor files describe, applied by `MeanStdNormalizer` as LeRobot's
NormalizerProcessorStep / UnnormalizerProcessorStep apply it.

The files are LeRobot's pretrained format as `SmallFlowPolicy.save_pretrained` and the pipelines'
`save_pretrained` write them (train_builtin, untrained); a processor step this loader does not know
is a CheckpointError naming it, not a silently skipped step. LeRobot's path
(`lerobot_loading.load_with_lerobot(..)`) is the numerical oracle of this one
(test_builtin_loading.py).
"""

from __future__ import annotations

from pathlib import Path

from safetensors.torch import load_file
from torch import Tensor

from rtc_policy_node.builtin_policy.checkpoint import (POSTPROCESSOR_FILE, PREPROCESSOR_FILE, WEIGHTS_FILE,
                                                       CheckpointError, read_json, read_spec)
from rtc_policy_node.builtin_policy.flow_model import ACTION_KEY, POLICY_TYPE, STATE_KEY, SmallFlowModel
from rtc_policy_node.core.guidance import GuidanceConfig
from rtc_policy_node.lerobot_policy import GuidanceSettings, LoadedPolicy

# Registry names of the steps small_flow's pipelines save (processor_small_flow) and what they do here.
BATCH_STEP, DEVICE_STEP = "to_batch_processor", "device_processor"
NORMALIZER_STEP, UNNORMALIZER_STEP = "normalizer_processor", "unnormalizer_processor"
PASSED_MODES = ("IDENTITY",)  # features left as they are
MEAN_STD = "MEAN_STD"


class MeanStdNormalizer:
    """(x - mean) / (std + eps) per feature key, and back with x * std + mean (LeRobot's MEAN_STD);
    features without stats or in IDENTITY mode pass unchanged."""

    def __init__(self, stats: dict[str, tuple[Tensor, Tensor]], eps: float) -> None:
        self.stats = stats
        self.eps = eps

    @classmethod
    def from_step(cls, directory: Path, file: str, step: dict, device: str) -> MeanStdNormalizer:
        config = step.get("config", {})
        modes = config.get("norm_map", {})
        tensors = load_file(str(directory / step["state_file"]), device=device) if "state_file" in step else {}
        stats = {}
        for key, feature in config.get("features", {}).items():
            mode = modes.get(feature["type"], "IDENTITY")
            if mode in PASSED_MODES:
                continue
            if mode != MEAN_STD:
                raise CheckpointError(f"{directory / file}: normalisation {mode} of {key} is not one the built-in "
                                      f"loader applies ({MEAN_STD}, IDENTITY)")
            try:
                stats[key] = (tensors[f"{key}.mean"], tensors[f"{key}.std"])
            except KeyError as exc:
                raise CheckpointError(f"{directory / step['state_file']} has no {exc.args[0]}") from None
        return cls(stats, float(config.get("eps", 1e-8)))

    def normalize(self, key: str, value: Tensor) -> Tensor:
        if key not in self.stats:
            return value
        mean, std = self.stats[key]
        return (value - mean) / (std + self.eps)

    def unnormalize(self, key: str, value: Tensor) -> Tensor:
        if key not in self.stats:
            return value
        mean, std = self.stats[key]
        return value * std + mean


def _normalizer(directory: Path, file: str, normalizing: str, device: str) -> MeanStdNormalizer:
    """The one normalising step of a processor file, after checking every step is a known one."""
    known = (BATCH_STEP, DEVICE_STEP, normalizing)
    steps = read_json(directory / file).get("steps", [])
    names = [step.get("registry_name") for step in steps]
    unknown = [name for name in names if name not in known]
    if unknown or names.count(normalizing) != 1:
        raise CheckpointError(f"{directory / file}: steps {names}; the built-in loader applies exactly one "
                              f"{normalizing} besides {BATCH_STEP} and {DEVICE_STEP}")
    return MeanStdNormalizer.from_step(directory, file, steps[names.index(normalizing)], device)


def load_small_flow(path: str | Path, device: str, guidance: GuidanceSettings) -> LoadedPolicy:
    """A small_flow checkpoint directory as LeRobotPolicy samples it, with no LeRobot import."""
    directory = Path(path)
    spec = read_spec(directory)
    model = SmallFlowModel(spec)
    try:
        model.load_state_dict(load_file(str(directory / WEIGHTS_FILE)), strict=True)
    except RuntimeError as exc:  # missing/unexpected keys and shape mismatches
        raise CheckpointError(f"{directory / WEIGHTS_FILE} does not match {directory / 'config.json'}: {exc}") from exc
    model.to(device)
    normalizer = _normalizer(directory, PREPROCESSOR_FILE, NORMALIZER_STEP, device)
    unnormalizer = _normalizer(directory, POSTPROCESSOR_FILE, UNNORMALIZER_STEP, device)
    keys = (STATE_KEY, spec.image_key)

    def preprocess(batch: dict) -> dict:
        """LeRobot's to_batch, device and normalizer steps on a single observation."""
        out = {key: value for key, value in batch.items() if key not in keys}
        for key in keys:
            out[key] = normalizer.normalize(key, batch[key].unsqueeze(0).to(device))
        return out

    def postprocess(action: Tensor) -> Tensor:
        return unnormalizer.unnormalize(ACTION_KEY, action).to("cpu")

    return LoadedPolicy(
        policy=model, rtc_config=GuidanceConfig(**guidance.rtc_fields()),
        preprocessor=preprocess, postprocessor=postprocess,
        normalize_action=lambda action: normalizer.normalize(ACTION_KEY, action.to(device)),
        type=POLICY_TYPE, image_shapes={spec.image_key: spec.image_shape}, state_dim=spec.state_dim,
        action_dim=spec.action_dim, chunk_size=spec.chunk_size, num_inference_steps=spec.num_inference_steps,
        joint_names=spec.joint_names, model_action_dim=spec.action_dim,
        use_relative_actions=spec.use_relative_actions, action_names=spec.joint_names,
        relative_exclude_joints=spec.relative_exclude_joints, processor_steps=())
