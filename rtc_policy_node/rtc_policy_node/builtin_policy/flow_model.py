"""The built-in small flow-matching policy as plain torch: its sizes (`SmallFlowSpec`), its sampling
and training loss (`SmallFlowCore`) and a module that holds them without LeRobot (`SmallFlowModel`).

No LeRobot import, so the policy node loads the built-in policy in the time torch takes to import
(`loading.load_small_flow`). LeRobot's `small_flow` type (`modeling_small_flow.SmallFlowPolicy`) is
the same core under LeRobot's PreTrainedPolicy: one set of weights names (`encoder.*`, `denoiser.*`),
one sampler, two holders.

Time runs from 1 (noise) to 0 (actions), as in LeRobot's pi0, so LeRobot's RTC guidance applies
unchanged. Each action of a chunk has its own flow time; training sets the first d of them to 0
(given, clean) for random simulated delays d, so the `prefix` guidance mode is in distribution.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rtc_contract.modes import GuidanceMode
from rtc_policy_node.builtin_policy.network import ChunkDenoiser, ObservationEncoder
from rtc_policy_node.core.sampler import sample_flow

POLICY_TYPE = "small_flow"
CAMERA_KEY = "observation.images.front"
STATE_KEY = "observation.state"  # LeRobot's OBS_STATE
ACTION_KEY = "action"            # LeRobot's ACTION


@dataclass(frozen=True)
class SmallFlowSpec:
    """What the network and its sampler need of a small_flow config (config.json's field names)."""

    state_dim: int
    action_dim: int
    image_key: str
    image_shape: tuple[int, int, int]
    chunk_size: int
    n_action_steps: int
    num_inference_steps: int
    image_downsample: int
    image_feature_dim: int
    hidden_dim: int
    num_blocks: int
    action_basis_size: int
    train_delay_fraction: float
    max_train_delay: int
    joint_names: tuple[str, ...] | None = None
    use_relative_actions: bool = False
    relative_exclude_joints: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.joint_names is not None and len(self.joint_names) != self.action_dim:
            raise ValueError(f"joint_names names {len(self.joint_names)} joints, the action has {self.action_dim}")
        if not 0 < self.action_basis_size <= self.chunk_size:
            raise ValueError(
                f"action_basis_size ({self.action_basis_size}) must be in 1..chunk_size ({self.chunk_size})"
            )
        if not 0 < self.n_action_steps <= self.chunk_size:
            raise ValueError(
                f"n_action_steps ({self.n_action_steps}) must be in 1..chunk_size ({self.chunk_size})"
            )

    @classmethod
    def from_fields(cls, fields: dict[str, Any], shapes: dict[str, tuple[str, tuple[int, ...]]]) -> SmallFlowSpec:
        """From config fields by name and the features as {key: (type name, shape)}; a field of the
        wrong type, a missing feature or more than one camera is a ValueError."""
        state = shapes.get(STATE_KEY)
        action = shapes.get(ACTION_KEY)
        cameras = [key for key, (kind, _) in shapes.items() if kind == "VISUAL"]
        if state is None or action is None:
            raise ValueError(f"small_flow needs an '{STATE_KEY}' input feature and an '{ACTION_KEY}' output feature")
        if len(cameras) != 1:
            raise ValueError(f"small_flow takes exactly one camera, got {sorted(cameras)}")
        (state_dim,), (action_dim,) = state[1], action[1]
        names = fields.get("joint_names")
        values = {name: fields[name] for name in _SIZES}
        for name, value in values.items():
            wanted = float if name == "train_delay_fraction" else int
            if isinstance(value, bool) or not isinstance(value, (int, float) if wanted is float else int):
                raise ValueError(f"{name} must be {'a number' if wanted is float else 'an integer'}, got {value!r}")
        return cls(state_dim=int(state_dim), action_dim=int(action_dim), image_key=cameras[0],
                   image_shape=tuple(int(n) for n in shapes[cameras[0]][1]), joint_names=tuple(names) if names else None,
                   use_relative_actions=bool(fields.get("use_relative_actions", False)),
                   relative_exclude_joints=tuple(fields.get("relative_exclude_joints", ())), **values)


_SIZES = ("chunk_size", "n_action_steps", "num_inference_steps", "image_downsample", "image_feature_dim", "hidden_dim",
          "num_blocks", "action_basis_size", "train_delay_fraction", "max_train_delay")


class SmallFlowCore:
    """Network, sampling and loss of small_flow, mixed into a torch module (`SmallFlowModel`, or
    LeRobot's PreTrainedPolicy in `SmallFlowPolicy`). The holder calls `_build(spec)` after
    nn.Module's init and sets `rtc_processor` (an RTCGuidance, or None: unguided)."""

    spec: SmallFlowSpec
    rtc_processor: Any

    def _build(self, spec: SmallFlowSpec) -> None:
        self.spec = spec
        self.encoder = ObservationEncoder(spec.image_shape, spec.image_downsample, spec.image_feature_dim)
        self.denoiser = ChunkDenoiser(spec.chunk_size, spec.action_dim, spec.image_feature_dim + spec.state_dim,
                                      spec.hidden_dim, spec.num_blocks, spec.action_basis_size)
        self.reset()

    def reset(self) -> None:
        self._action_queue: deque[Tensor] = deque()

    def require_action_dim(self, action_dim: int) -> None:
        """Refuse to drive an arm whose action dimension differs from the one this policy learned."""
        if action_dim != self.spec.action_dim:
            raise ValueError(
                f"small_flow policy was trained for action dim {self.spec.action_dim}, asked for {action_dim}"
            )

    def forward(self, batch: dict[str, Tensor]) -> tuple[Tensor, dict]:
        """Flow-matching loss with training-time RTC: random prefixes of the chunk are given clean.

        The velocity error of a clean-chunk prediction is its action error over t; its 1 / t^2 weight
        is capped at the last sampling step's time so that nearly clean samples do not dominate.
        """
        if self.spec.use_relative_actions:
            raise NotImplementedError("training a relative-action small_flow is not supported: its processors have no "
                                      "relative-action step (LeRobot 0.4.4 has none); only sampling is")
        actions = batch[ACTION_KEY]
        batch_size, horizon, _ = actions.shape
        cond = self._encode(batch)
        noise = torch.randn_like(actions)
        t = torch.rand(batch_size, 1, device=actions.device)
        delays = torch.randint(1, self.spec.max_train_delay + 1, (batch_size, 1), device=actions.device)
        delays = delays * (torch.rand(batch_size, 1, device=actions.device) < self.spec.train_delay_fraction)
        given = torch.arange(horizon, device=actions.device)[None, :] < delays  # (B, H) prefix is clean
        times = torch.where(given, torch.zeros_like(t), t)
        x_t = times[..., None] * noise + (1 - times[..., None]) * actions
        predicted = self.denoiser(x_t, times, cond)
        scale = times.clamp_min(1.0 / self.spec.num_inference_steps)
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
        state = batch[STATE_KEY]
        if state.shape[-1] != self.spec.state_dim:
            raise ValueError(
                f"small_flow policy was trained on a state of dim {self.spec.state_dim}, got {state.shape[-1]}"
            )
        if prev_chunk_left_over is not None:
            self.require_action_dim(prev_chunk_left_over.shape[-1])
        shape = (state.shape[0], self.spec.chunk_size, self.spec.action_dim)
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

        return sample_flow(
            velocity,
            noise,
            self.spec.num_inference_steps,
            guidance=guidance,
            prev_chunk_left_over=prev_chunk_left_over,
            inference_delay=inference_delay,
            execution_horizon=execution_horizon,
        )

    @torch.no_grad()
    def select_action(self, batch: dict[str, Tensor], **kwargs: Any) -> Tensor:
        """Synchronous use: run n_action_steps actions of each chunk, then predict the next one."""
        if not self._action_queue:
            chunk = self.predict_action_chunk(batch, **kwargs)[:, : self.spec.n_action_steps]
            self._action_queue.extend(chunk.transpose(0, 1))
        return self._action_queue.popleft()

    def _prefix_rows(self, inference_delay: int | None, execution_horizon: int | None, leftover_rows: int) -> int:
        """Rows the prefix guidance overwrites with the leftover (clamped as RTCGuidance clamps them).

        Those rows get flow time 0 (clean), the training-time-RTC condition the network learned.
        """
        horizon = self.rtc_processor.rtc_config.execution_horizon if execution_horizon is None else execution_horizon
        return min(int(inference_delay or 0), int(horizon), leftover_rows, self.spec.chunk_size)

    def _velocity(self, x_t: Tensor, times: Tensor, cond: Tensor) -> Tensor:
        """v = (x_t - predicted clean chunk) / t, so the last Euler step lands on the (smooth) prediction.

        Rows given clean (t = 0, prefix mode) get a finite value; the prefix guidance replaces them.
        """
        scale = times.clamp_min(1e-3)[..., None]
        return (x_t - self.denoiser(x_t, times, cond)) / scale

    def _encode(self, batch: dict[str, Tensor]) -> Tensor:
        return self.encoder(batch[self.spec.image_key], batch[STATE_KEY])


class SmallFlowModel(SmallFlowCore, nn.Module):
    """small_flow without LeRobot: the policy node's built-in policy (`loading.load_small_flow`)."""

    def __init__(self, spec: SmallFlowSpec) -> None:
        nn.Module.__init__(self)
        self.rtc_processor = None
        self._build(spec)
