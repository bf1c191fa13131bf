"""The built-in small flow-matching policy as a LeRobot policy (`SmallFlowPolicy`, type `small_flow`).

It goes through the same doors as LeRobot's pi0: `predict_action_chunk(batch, inference_delay=,
prev_chunk_left_over=, execution_horizon=)` on preprocessed (normalised) batches, an `rtc_processor`
attribute holding the guidance, and LeRobot's pretrained format on disk. Sampling is the RTC core's
flow sampler with the core's guidance, so every guidance mode of the project applies to it.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from lerobot.policies.pretrained import PreTrainedPolicy
from lerobot.utils.constants import ACTION, OBS_STATE
from torch import Tensor

from rtc_contract.modes import GuidanceMode
from rtc_policy_node.builtin_policy.checkpoint import CheckpointError, read_checkpoint_config
from rtc_policy_node.builtin_policy.configuration_small_flow import POLICY_TYPE, SmallFlowConfig
from rtc_policy_node.builtin_policy.network import ChunkDenoiser, ObservationEncoder
from rtc_policy_node.core.guidance import RTCGuidance
from rtc_policy_node.core.sampler import sample_flow


class SmallFlowPolicy(PreTrainedPolicy):
    config_class = SmallFlowConfig
    name = POLICY_TYPE

    def __init__(self, config: SmallFlowConfig, **kwargs: Any) -> None:
        super().__init__(config)
        config.validate_features()
        self.config: SmallFlowConfig = config
        (image_key,) = config.image_features
        self.image_key = image_key
        self.encoder = ObservationEncoder(
            tuple(config.image_features[image_key].shape), config.image_downsample, config.image_feature_dim
        )
        self.denoiser = ChunkDenoiser(
            config.chunk_size,
            config.action_dim,
            config.image_feature_dim + config.state_dim,
            config.hidden_dim,
            config.num_blocks,
            config.action_basis_size,
        )
        self.rtc_processor: RTCGuidance | None = None
        self.init_rtc_processor()
        self.reset()

    # ----- LeRobot policy interface ---------------------------------------------------------
    def init_rtc_processor(self) -> None:
        """(Re)build the guidance from config.rtc_config and config.rtc_mode, as pi0 does."""
        rtc = self.config.rtc_config
        self.rtc_processor = RTCGuidance(rtc, mode=self.config.rtc_mode) if rtc is not None else None

    def reset(self) -> None:
        self._action_queue: deque[Tensor] = deque()

    def get_optim_params(self) -> dict:
        return self.parameters()

    def require_action_dim(self, action_dim: int) -> None:
        """Refuse to drive an arm whose action dimension differs from the one this policy learned."""
        if action_dim != self.config.action_dim:
            raise ValueError(
                f"small_flow policy was trained for action dim {self.config.action_dim}, asked for {action_dim}"
            )

    def forward(self, batch: dict[str, Tensor]) -> tuple[Tensor, dict]:
        """Flow-matching loss with training-time RTC: random prefixes of the chunk are given clean.

        The velocity error of a clean-chunk prediction is its action error over t; its 1 / t^2 weight
        is capped at the last sampling step's time so that nearly clean samples do not dominate.
        """
        actions = batch[ACTION]
        batch_size, horizon, _ = actions.shape
        cond = self._encode(batch)
        noise = torch.randn_like(actions)
        t = torch.rand(batch_size, 1, device=actions.device)
        delays = torch.randint(1, self.config.max_train_delay + 1, (batch_size, 1), device=actions.device)
        delays = delays * (torch.rand(batch_size, 1, device=actions.device) < self.config.train_delay_fraction)
        given = torch.arange(horizon, device=actions.device)[None, :] < delays  # (B, H) prefix is clean
        times = torch.where(given, torch.zeros_like(t), t)
        x_t = times[..., None] * noise + (1 - times[..., None]) * actions
        predicted = self.denoiser(x_t, times, cond)
        scale = times.clamp_min(1.0 / self.config.num_inference_steps)
        error = F.mse_loss(predicted, actions, reduction="none").mean(-1) / scale.square()
        weight = (~given).float()
        loss = (error * weight).sum() / weight.sum()
        return loss, {"flow_loss": loss.item()}

    @torch.no_grad()
    def predict_action_chunk(
        self,
        batch: dict[str, Tensor],
        *,
        inference_delay: int | None = None,
        prev_chunk_left_over: Tensor | None = None,
        execution_horizon: int | None = None,
        noise: Tensor | None = None,
    ) -> Tensor:
        """A normalised action chunk (B, chunk_size, action_dim), guided toward the leftover if given."""
        self.eval()
        state = batch[OBS_STATE]
        if state.shape[-1] != self.config.state_dim:
            raise ValueError(
                f"small_flow policy was trained on a state of dim {self.config.state_dim}, got {state.shape[-1]}"
            )
        if prev_chunk_left_over is not None:
            self.require_action_dim(prev_chunk_left_over.shape[-1])
        shape = (state.shape[0], self.config.chunk_size, self.config.action_dim)
        if noise is None:
            noise = torch.randn(shape, device=state.device)
        elif tuple(noise.shape) != shape:
            raise ValueError(f"noise must have shape {shape}, got {tuple(noise.shape)}")
        cond = self._encode(batch)
        guidance = self.rtc_processor if prev_chunk_left_over is not None else None
        given = 0
        if guidance is not None and guidance.mode == GuidanceMode.PREFIX:
            given = self._prefix_rows(inference_delay, execution_horizon, prev_chunk_left_over.shape[-2])

        def velocity(x_t: Tensor, t: float | Tensor) -> Tensor:
            times = torch.as_tensor(t, dtype=x_t.dtype, device=x_t.device).reshape(-1, 1).expand(x_t.shape[0], x_t.shape[1])
            if given:
                times = times.clone()
                times[:, :given] = 0.0
            return self._velocity(x_t, times, cond)

        chunk = sample_flow(
            velocity,
            noise,
            self.config.num_inference_steps,
            guidance=guidance,
            prev_chunk_left_over=prev_chunk_left_over,
            inference_delay=inference_delay,
            execution_horizon=execution_horizon,
        )
        return chunk

    @torch.no_grad()
    def select_action(self, batch: dict[str, Tensor], **kwargs: Any) -> Tensor:
        """Synchronous use: run n_action_steps actions of each chunk, then predict the next one."""
        if not self._action_queue:
            chunk = self.predict_action_chunk(batch, **kwargs)[:, : self.config.n_action_steps]
            self._action_queue.extend(chunk.transpose(0, 1))
        return self._action_queue.popleft()

    # ----- loading ----------------------------------------------------------------------------
    @classmethod
    def from_pretrained(
        cls, pretrained_name_or_path: str | Path, *, config: SmallFlowConfig | None = None, **kwargs: Any
    ) -> SmallFlowPolicy:
        """Load with every file and weight checked: anything missing, extra or mis-shaped is an error."""
        path = Path(pretrained_name_or_path)
        config = config or read_checkpoint_config(path)
        kwargs.pop("strict", None)
        try:
            return super().from_pretrained(path, config=config, strict=True, **kwargs)
        except RuntimeError as exc:  # safetensors' missing/unexpected keys and shape mismatches
            raise CheckpointError(f"{path / 'model.safetensors'} does not match {path / 'config.json'}: {exc}") from exc

    def _prefix_rows(self, inference_delay: int | None, execution_horizon: int | None, leftover_rows: int) -> int:
        """Rows the prefix guidance overwrites with the leftover (clamped as RTCGuidance clamps them).

        Those rows get flow time 0 (clean), the training-time-RTC condition the network learned.
        """
        horizon = self.rtc_processor.rtc_config.execution_horizon if execution_horizon is None else execution_horizon
        return min(int(inference_delay or 0), int(horizon), leftover_rows, self.config.chunk_size)

    def _velocity(self, x_t: Tensor, times: Tensor, cond: Tensor) -> Tensor:
        """v = (x_t - predicted clean chunk) / t, so the last Euler step lands on the (smooth) prediction.

        Rows given clean (t = 0, prefix mode) get a finite value; the prefix guidance replaces them.
        """
        scale = times.clamp_min(1e-3)[..., None]
        return (x_t - self.denoiser(x_t, times, cond)) / scale

    def _encode(self, batch: dict[str, Tensor]) -> Tensor:
        return self.encoder(batch[self.image_key], batch[OBS_STATE])
