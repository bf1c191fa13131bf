"""The built-in small flow-matching policy as a LeRobot policy (`SmallFlowPolicy`, type `small_flow`).

The network, sampler and loss are `flow_model.SmallFlowCore`, the same the policy node runs
without LeRobot; this module only puts them under LeRobot's PreTrainedPolicy (training through
LeRobot, LeRobot's factory, lerobot-eval, and the oracle of the built-in loader). It goes through
the same doors as LeRobot's pi0: `predict_action_chunk(batch, inference_delay=,
prev_chunk_left_over=, execution_horizon=)` on preprocessed (normalised) batches, an
`rtc_processor` attribute holding the guidance, and LeRobot's pretrained format on disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lerobot.policies.pretrained import PreTrainedPolicy

from rtc_policy_node.builtin_policy.checkpoint import WEIGHTS_FILE, CheckpointError
from rtc_policy_node.builtin_policy.configuration_small_flow import POLICY_TYPE, SmallFlowConfig
from rtc_policy_node.builtin_policy.flow_model import SmallFlowCore
from rtc_policy_node.core.guidance import RTCGuidance


class SmallFlowPolicy(SmallFlowCore, PreTrainedPolicy):
    config_class = SmallFlowConfig
    name = POLICY_TYPE

    def __init__(self, config: SmallFlowConfig, **kwargs: Any) -> None:
        PreTrainedPolicy.__init__(self, config)
        config.validate_features()
        self.config: SmallFlowConfig = config
        self.rtc_processor: RTCGuidance | None = None
        self._build(config.spec())
        self.init_rtc_processor()

    def init_rtc_processor(self) -> None:
        """(Re)build the guidance from config.rtc_config and config.rtc_mode, as pi0 does."""
        rtc = self.config.rtc_config
        self.rtc_processor = RTCGuidance(rtc, mode=self.config.rtc_mode) if rtc is not None else None

    def get_optim_params(self) -> dict:
        return self.parameters()

    @classmethod
    def from_pretrained(
        cls, pretrained_name_or_path: str | Path, *, config: SmallFlowConfig | None = None, **kwargs: Any
    ) -> SmallFlowPolicy:
        """Load with every file and weight checked: anything missing, extra or mis-shaped is an error."""
        from rtc_policy_node.lerobot_loading import read_policy_config

        path = Path(pretrained_name_or_path)
        if config is None:
            config = read_policy_config(path)
            if not isinstance(config, SmallFlowConfig):
                raise CheckpointError(f"{path / 'config.json'} is a '{config.type}' policy, not '{POLICY_TYPE}'")
        kwargs.pop("strict", None)
        try:
            return super().from_pretrained(path, config=config, strict=True, **kwargs)
        except RuntimeError as exc:  # safetensors' missing/unexpected keys and shape mismatches
            raise CheckpointError(f"{path / WEIGHTS_FILE} does not match {path / 'config.json'}: {exc}") from exc
