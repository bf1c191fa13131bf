"""Configuration of the built-in small flow-matching policy, registered with LeRobot as `small_flow`.

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

POLICY_TYPE = "small_flow"
CAMERA_KEY = "observation.images.front"
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
    """A few-hundred-thousand-parameter flow-matching action-chunk policy (state + one camera).

    Time runs from 1 (noise) to 0 (actions), as in LeRobot's pi0, so LeRobot's RTC guidance applies
    unchanged. Each action of a chunk has its own flow time; training sets the first d of them to 0
    (given, clean) for random simulated delays d, so the `prefix` guidance mode is in distribution.
    """

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
        if self.joint_names is not None and len(self.joint_names) != self.action_dim:
            raise ValueError(f"joint_names names {len(self.joint_names)} joints, the action has {self.action_dim}")
        if self.rtc_mode not in GUIDANCE_MODES:
            raise ValueError(f"rtc_mode must be one of {GUIDANCE_MODES}, got {self.rtc_mode!r}")
        if not 0 < self.action_basis_size <= self.chunk_size:
            raise ValueError(
                f"action_basis_size ({self.action_basis_size}) must be in 1..chunk_size ({self.chunk_size})"
            )
        if not 0 < self.n_action_steps <= self.chunk_size:
            raise ValueError(
                f"n_action_steps ({self.n_action_steps}) must be in 1..chunk_size ({self.chunk_size})"
            )

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
