"""Configuration of the built-in small flow-matching policy, registered with LeRobot as `small_flow`
(LeRobot's side of it: the policy node reads the same config.json without LeRobot, as a
`flow_model.SmallFlowSpec`).

The module and class names follow LeRobot's plugin convention (configuration_X / XConfig,
modeling_X / XPolicy, processor_X / make_X_pre_post_processors), so LeRobot's own factory
(`get_policy_class`, `make_pre_post_processors`) finds the policy once this module is imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lerobot.configs.policies import PreTrainedConfig
from lerobot.configs.types import FeatureType, NormalizationMode, PolicyFeature
from lerobot.optim.optimizers import AdamWConfig
from lerobot.policies.rtc.configuration_rtc import RTCConfig
from lerobot.utils.constants import ACTION, OBS_STATE

from rtc_contract.modes import GuidanceMode
from rtc_policy_node.builtin_policy.flow_model import CAMERA_KEY, POLICY_TYPE, SmallFlowSpec

__all__ = ["CAMERA_KEY", "GUIDANCE_MODES", "POLICY_TYPE", "SmallFlowConfig"]

GUIDANCE_MODES = tuple(mode.value for mode in GuidanceMode)


def _default_inputs() -> dict[str, PolicyFeature]:
    return {
        OBS_STATE: PolicyFeature(type=FeatureType.STATE, shape=(6,)),
        CAMERA_KEY: PolicyFeature(type=FeatureType.VISUAL, shape=(3, 96, 96)),
    }


def _default_outputs() -> dict[str, PolicyFeature]:
    return {ACTION: PolicyFeature(type=FeatureType.ACTION, shape=(6,))}


@PreTrainedConfig.register_subclass(POLICY_TYPE)
@dataclass
class SmallFlowConfig(PreTrainedConfig):
    """A few-hundred-thousand-parameter flow-matching action-chunk policy (state + one camera);
    flow_model's docstring says how it samples and trains."""

    input_features: dict[str, PolicyFeature] | None = field(default_factory=_default_inputs)
    output_features: dict[str, PolicyFeature] | None = field(default_factory=_default_outputs)
    normalization_mapping: dict[str, NormalizationMode] = field(
        default_factory=lambda: {
            "VISUAL": NormalizationMode.IDENTITY,
            "STATE": NormalizationMode.MEAN_STD,
            "ACTION": NormalizationMode.MEAN_STD,
        }
    )

    # The state/action joints in column order (policies that name them spare users a joint_names
    # parameter); None: unnamed.
    joint_names: list[str] | None = None

    # Relative actions (LeRobot main's names, as on pi0/pi0.5 there; LeRobot 0.4.4 has none): the
    # policy learns and samples offsets from the observed state on every joint but those named in
    # relative_exclude_joints (kept absolute); LeRobotPolicy converts and re-anchors the leftover.
    use_relative_actions: bool = False
    relative_exclude_joints: list[str] = field(default_factory=lambda: ["gripper"])

    chunk_size: int = 50
    n_action_steps: int = 25
    num_inference_steps: int = 10

    # Network size.
    image_downsample: int = 2  # average-pool the camera image by this factor first
    image_feature_dim: int = 128
    hidden_dim: int = 320
    num_blocks: int = 3
    action_basis_size: int = 16  # the predicted chunk is this many slow cosines per joint

    # Training-time RTC: fraction of samples with a simulated delay, and its largest value (ticks).
    train_delay_fraction: float = 0.5
    max_train_delay: int = 12

    # Inference-time RTC. rtc_config=None means no guidance; rtc_mode picks the guidance.
    rtc_config: RTCConfig | None = None
    rtc_mode: str = "identity"

    optimizer_lr: float = 1e-3
    optimizer_weight_decay: float = 1e-5

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.rtc_mode not in GUIDANCE_MODES:
            raise ValueError(f"rtc_mode must be one of {GUIDANCE_MODES}, got {self.rtc_mode!r}")
        if self.input_features and self.output_features:
            self.spec()  # the sizes' checks

    def spec(self) -> SmallFlowSpec:
        """The sizes the network and its sampler are built from (flow_model.SmallFlowSpec)."""
        shapes = {key: (feature.type.value, tuple(feature.shape))
                  for key, feature in {**(self.input_features or {}), **(self.output_features or {})}.items()}
        return SmallFlowSpec.from_fields(vars(self), shapes)

    @property
    def action_dim(self) -> int:
        return self.output_features[ACTION].shape[0]

    @property
    def state_dim(self) -> int:
        return self.input_features[OBS_STATE].shape[0]

    def get_optimizer_preset(self) -> AdamWConfig:
        return AdamWConfig(lr=self.optimizer_lr, weight_decay=self.optimizer_weight_decay)

    def get_scheduler_preset(self) -> None:
        return None

    def validate_features(self) -> None:
        if ACTION not in (self.output_features or {}):
            raise ValueError(f"small_flow needs an '{ACTION}' output feature")
        if OBS_STATE not in (self.input_features or {}):
            raise ValueError(f"small_flow needs an '{OBS_STATE}' input feature")
        if len(self.image_features) != 1:
            raise ValueError(f"small_flow takes exactly one camera, got {sorted(self.image_features)}")

    @property
    def observation_delta_indices(self) -> None:
        return None

    @property
    def action_delta_indices(self) -> list[int]:
        return list(range(self.chunk_size))

    @property
    def reward_delta_indices(self) -> None:
        return None
