"""RTC guidance: a drop-in for LeRobot's `RTCProcessor.denoise_step` with four modes.

Time runs from 1 (noise) to 0 (clean), as in LeRobot; `denoise_step` returns the velocity the
sampler integrates with a negative step. The guidance pulls the predicted final chunk
x1 = x_t - time * v toward the leftover of the previous chunk over a soft prefix mask:

- ``identity``: correction = mask * (leftover - x1), the Jacobian of x1 taken as identity. This is
  exactly what LeRobot 0.4.4 computes (its autograd graph never reaches x_t), here with no graph.
- ``vjp``: the paper's correction (Black, Galliker, Levine 2025): the vector-Jacobian product of
  x1 with respect to x_t, one backward pass through the denoiser per step.
- ``prefix``: training-time RTC: the first d rows are overwritten with the leftover in the
  denoiser's input, and their velocity is set so that they land exactly on the leftover.
- ``off``: the denoiser's velocity, untouched.

Besides `denoise_step`, `RTCGuidance` carries the rest of LeRobot's `RTCProcessor` surface
(`rtc_config`, `tracker`, `track`, `get_all_debug_steps`, `is_debug_enabled`, `reset_tracker`,
`get_prefix_weights`, plus `get_debug_data`), so the policies that call them inside their sampling
loops, and LeRobot's own debug tools, work with it installed.
"""

from __future__ import annotations

import functools
import math
import sys
import time as _clock
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from rtc_contract.modes import GuidanceMode
from rtc_policy_node.core.schedules import PrefixSchedule, prefix_weights

Denoiser = Callable[[Tensor], Tensor]


def guidance_weight(time: float, max_guidance_weight: float) -> float:
    """min(beta, (1-tau)/tau * ((1-tau)^2 + tau^2) / (1-tau)^2) with tau = 1 - time, as LeRobot.

    At time 1 (pure noise) the formula is infinite and clips to beta; at time 0 it is 0 * inf,
    which LeRobot maps to 0.
    """
    tau = 1.0 - time
    if tau == 0.0:
        return max_guidance_weight
    if tau == 1.0:
        return 0.0
    c = (1.0 - tau) / tau
    inv_r2 = ((1.0 - tau) ** 2 + tau**2) / (1.0 - tau) ** 2
    return min(c * inv_r2, max_guidance_weight)


def _eager_under_compile(function: Callable) -> Callable:
    """`torch.compiler.disable(function)` (run it eagerly under torch.compile), decided per call:
    the decorator imports torch._dynamo, which takes seconds, and only a process that compiles has
    imported it already; any other runs `function` as it is."""
    disabled = None

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        nonlocal disabled
        if "torch._dynamo" not in sys.modules:
            return function(*args, **kwargs)
        if disabled is None:
            disabled = torch.compiler.disable(function)
        return disabled(*args, **kwargs)

    return call


@dataclass
class GuidanceConfig:
    """The fields of LeRobot's RTCConfig that RTCGuidance reads: the config of a policy loaded
    without LeRobot (the built-in one), changed in place between chunks as LeRobot's is."""

    enabled: bool
    execution_horizon: int
    max_guidance_weight: float
    prefix_attention_schedule: str
    debug: bool = False
    debug_maxlen: int = 100


class RTCGuidance:
    """Guided denoising step; `rtc_config` is LeRobot's RTCConfig (or anything with its fields).

    Reads `prefix_attention_schedule`, `max_guidance_weight` and `execution_horizon` from the
    config on every call, as LeRobot does. `seconds` accumulates the wall time spent in guidance
    (everything in `denoise_step` except the denoiser's forward call) until `reset_timing()`.
    On CUDA the figure counts kernel launches, not their completion, unless the caller syncs.

    Debug tracking, as LeRobot's processor: when `rtc_config.debug` is true at construction,
    `tracker` is LeRobot's own `Tracker` (keeping the last `rtc_config.debug_maxlen` steps, keyed
    by time) and every guided step records the same fields LeRobot's processor records; else
    `tracker` is None and tracking costs nothing.
    """

    def __init__(self, rtc_config: Any, mode: GuidanceMode | str = GuidanceMode.IDENTITY) -> None:
        try:
            self.mode = GuidanceMode(mode)
        except ValueError:
            valid = ", ".join(m.value for m in GuidanceMode)
            raise ValueError(f"unknown guidance mode {mode!r}; expected one of {valid}") from None
        self.rtc_config = rtc_config
        self.seconds = 0.0
        self._weights: dict[tuple, Tensor] = {}
        self._leftover_cache: tuple | None = None
        self.tracker = None
        if getattr(rtc_config, "debug", False):
            from lerobot.policies.rtc.debug_tracker import Tracker

            self.tracker = Tracker(enabled=True, maxlen=rtc_config.debug_maxlen)

    def reset_timing(self) -> None:
        self.seconds = 0.0

    # ----- LeRobot RTCProcessor's debug surface ----------------------------------------------------
    def track(self, time: float | Tensor, **fields: Any) -> None:
        """Record fields of the step at `time` (LeRobot's `Tracker.track` keywords); no-op without a tracker."""
        if self.tracker is not None:
            self.tracker.track(time=time, **fields)

    def get_all_debug_steps(self) -> list:
        """The tracked steps (LeRobot `DebugStep`s), oldest first; [] without a tracker."""
        return self.tracker.get_all_steps() if self.tracker is not None else []

    def is_debug_enabled(self) -> bool:
        return self.tracker is not None and self.tracker.enabled

    def reset_tracker(self) -> None:
        if self.tracker is not None:
            self.tracker.reset()

    def get_debug_data(self, include_tensors: bool = False) -> list[dict[str, Any]]:
        """The tracked steps as dicts (`DebugStep.to_dict`): tensor statistics, or the tensors."""
        return [step.to_dict(include_tensors=include_tensors) for step in self.get_all_debug_steps()]

    def get_prefix_weights(self, start: int, end: int, total: int) -> Tensor:
        """LeRobot's `get_prefix_weights(start=d, end=H, total=T)`: a (T,) float32 tensor."""
        return torch.from_numpy(prefix_weights(self._schedule(), start, end, total).copy())

    def _schedule(self) -> PrefixSchedule:
        configured = self.rtc_config.prefix_attention_schedule
        return PrefixSchedule(getattr(configured, "value", configured))

    def denoise_step(
        self,
        x_t: Tensor,
        prev_chunk_left_over: Tensor | None,
        inference_delay: int | None,
        time: float | Tensor,
        original_denoise_step_partial: Denoiser,
        execution_horizon: int | None = None,
    ) -> Tensor:
        """Velocity for this step, shaped like x_t ((T, A) or (B, T, A)).

        prev_chunk_left_over: (T_prev, A') or (B, T_prev, A') with A' <= A (missing dims are
        zero-padded, as LeRobot pads them); rows beyond T are ignored and a shorter leftover gets
        zero weight past its end. None (first chunk) or
        mode ``off`` returns the denoiser's velocity. inference_delay d >= 0 (ticks) is clamped
        to the execution horizon, which is clamped to the leftover's length.
        """
        started = _clock.perf_counter()
        denoiser_seconds = 0.0
        _check_tensor("x_t", x_t)
        t = _time_value(time)
        if self.mode is GuidanceMode.OFF or prev_chunk_left_over is None:
            return original_denoise_step_partial(x_t)
        delay = _delay_value(inference_delay)
        horizon = self.rtc_config.execution_horizon if execution_horizon is None else execution_horizon
        if int(horizon) != horizon or horizon < 0:
            raise ValueError(f"execution_horizon must be a non-negative integer, got {horizon!r}")

        squeezed = x_t.dim() == 2
        x = x_t.unsqueeze(0) if squeezed else x_t
        if x.dim() != 3:
            raise ValueError(f"x_t must be (T, A) or (B, T, A), got shape {tuple(x_t.shape)}")
        batch, length, action_dim = x.shape
        leftover, leftover_length = self._aligned_leftover(prev_chunk_left_over, batch, length, action_dim, x)
        if leftover_length == 0:
            return original_denoise_step_partial(x_t)
        horizon = min(int(horizon), leftover_length)
        requested_delay, delay = delay, min(delay, horizon)

        denoiser = original_denoise_step_partial
        if self.mode is GuidanceMode.VJP and torch.is_inference_mode_enabled():
            raise RuntimeError(
                "vjp guidance needs autograd, but torch.inference_mode() is active: call the sampler under "
                "torch.no_grad() instead (vjp re-enables grad locally), or use mode 'identity'"
            )
        if self.mode is GuidanceMode.PREFIX:
            result, denoiser_seconds, x1, error, correction = _prefix_step(x, leftover, min(delay, length), t, denoiser)
            weights, gain = None, None
        else:
            weights = self._weight_tensor(delay, horizon, length, x)
            gain = guidance_weight(t, float(self.rtc_config.max_guidance_weight))
            step = _vjp_step if self.mode is GuidanceMode.VJP else _identity_step
            result, denoiser_seconds, x1, error, correction = step(x, leftover, weights, t, gain, denoiser)
        if self.tracker is not None:
            # LeRobot's fields and shapes: tensors without the batch dim the call added, weights (1, T, 1).
            def unbatched(value: Tensor | None) -> Tensor | None:
                return value.squeeze(0) if squeezed and value is not None else value

            self.tracker.track(
                time=time, x1_t=unbatched(x1), err=unbatched(error), correction=unbatched(correction),
                weights=None if weights is None else weights.unsqueeze(0), guidance_weight=gain,
                inference_delay=requested_delay, execution_horizon=horizon)
        self.seconds += _clock.perf_counter() - started - denoiser_seconds
        return result.squeeze(0) if squeezed else result

    def _aligned_leftover(
        self, leftover: Tensor, batch: int, length: int, action_dim: int, like: Tensor
    ) -> tuple[Tensor, int]:
        """Leftover as (B, T, A) on x_t's device and dtype, cached while the same tensor is passed."""
        _check_type("prev_chunk_left_over", leftover)
        # Inference tensors have no version counter: they are checked and aligned on every call.
        version = None if leftover.is_inference() else leftover._version
        key = (batch, length, action_dim, like.device, like.dtype)
        cached = self._leftover_cache
        if cached is not None and cached[0] is leftover and version is not None and cached[1:3] == (version, key):
            return cached[3], cached[4]
        _check_tensor("prev_chunk_left_over", leftover)
        aligned, leftover_length = align_leftover(leftover, batch, length, action_dim)
        aligned = aligned.to(device=like.device, dtype=like.dtype)
        self._leftover_cache = (leftover, version, key, aligned, leftover_length)
        return aligned, leftover_length

    @_eager_under_compile  # a host-side table of numpy weights
    def _weight_tensor(self, delay: int, horizon: int, length: int, like: Tensor) -> Tensor:
        schedule = self._schedule()
        key = (schedule, delay, horizon, length, like.device, like.dtype)
        weights = self._weights.get(key)
        if weights is None:
            array = prefix_weights(schedule, delay, horizon, length)
            weights = torch.from_numpy(array.copy()).to(device=like.device, dtype=like.dtype).unsqueeze(-1)
            self._weights[key] = weights
        return weights


def align_leftover(leftover: Tensor, batch: int, length: int, action_dim: int) -> tuple[Tensor, int]:
    """(B, T, A) view of the leftover plus its own length (rows before padding or cutting).

    A shorter leftover is padded by repeating its last row: a zero row would decode to the
    dataset mean, a plausible-looking but wrong pose, if any code ever read past the mask. The
    returned own length clamps the execution horizon, so the padded rows get zero weight: they are
    never guided. LeRobot: its processor zero-pads (lerobot 0.4.4, and huggingface/lerobot@7427f318
    src/lerobot/policies/rtc/modeling_rtc.py) but clamps the horizon to the leftover likewise; its
    rollout at that commit (src/lerobot/rollout/inference/rtc.py `_normalize_prev_actions_length`)
    zero-padded the leftover to a fixed length before the processor, so the zeros fell inside the
    guided rows (the "mean-action seam"), which PR 4454 replaced by holding the last real action
    (and an error for an empty leftover; here an empty one means no guidance, as None does).
    Fewer action dims than the chunk are zero-padded, as LeRobot's processor pads them: LeRobot's
    RTC examples pass a leftover in the policy's own action dims (6) to models that pad actions
    to `max_action_dim` (32) with zeros. More action dims than the chunk is an error.
    """
    if leftover.dim() == 2:
        leftover = leftover.unsqueeze(0)
    if leftover.dim() != 3:
        raise ValueError(
            f"prev_chunk_left_over must be (T_prev, A) or (B, T_prev, A), got shape {tuple(leftover.shape)}"
        )
    if leftover.shape[2] > action_dim:
        raise ValueError(
            f"prev_chunk_left_over has {leftover.shape[2]} action dims but x_t has {action_dim}; "
            "a leftover may have fewer dims (zero-padded, as LeRobot pads them), never more"
        )
    if leftover.shape[0] not in (1, batch):
        raise ValueError(f"prev_chunk_left_over has batch size {leftover.shape[0]} but x_t has {batch}")
    if leftover.shape[2] < action_dim:
        leftover = torch.nn.functional.pad(leftover, (0, action_dim - leftover.shape[2]))
    leftover = leftover.expand(batch, -1, -1)
    leftover_length = leftover.shape[1]
    if leftover_length == 0:
        return leftover, 0
    if leftover_length >= length:
        return leftover[:, :length], leftover_length
    pad = leftover[:, -1:].expand(batch, length - leftover_length, action_dim)
    return torch.cat([leftover, pad], dim=1), leftover_length


# Each step returns (velocity, denoiser seconds, predicted x1, weighted error, correction); the
# last two are None where the mode has none (prefix).
StepResult = tuple[Tensor, float, Tensor, "Tensor | None", "Tensor | None"]


def _identity_step(
    x: Tensor, leftover: Tensor, weights: Tensor, t: float, gain: float, denoiser: Denoiser
) -> StepResult:
    with torch.no_grad():
        started = _clock.perf_counter()
        velocity = denoiser(x)
        denoiser_seconds = _clock.perf_counter() - started
        predicted = torch.add(x, velocity, alpha=-t)
        error = (leftover - predicted).mul_(weights)
        # The Jacobian of x1 taken as identity: the correction is the error itself.
        return torch.add(velocity, error, alpha=-gain), denoiser_seconds, predicted, error, error


def _vjp_step(
    x: Tensor, leftover: Tensor, weights: Tensor, t: float, gain: float, denoiser: Denoiser
) -> StepResult:
    with torch.enable_grad():
        x_in = x.detach().clone().requires_grad_(True)
        started = _clock.perf_counter()
        try:
            velocity = denoiser(x_in)
        except RuntimeError as error:
            if "nference tensor" in str(error):
                raise RuntimeError(
                    "vjp guidance: the denoiser uses tensors created under torch.inference_mode() "
                    "(e.g. a cached prefix); create them under torch.no_grad() instead"
                ) from error
            raise
        denoiser_seconds = _clock.perf_counter() - started
        if not velocity.requires_grad:
            raise RuntimeError(
                "vjp guidance: the denoiser's output does not depend on x_t through autograd "
                "(detached or computed without grad); use mode 'identity'"
            )
        predicted = x_in - t * velocity
        with torch.no_grad():
            error = (leftover - predicted).mul_(weights)
        (correction,) = torch.autograd.grad(predicted, x_in, error)
    result = torch.add(velocity.detach(), correction, alpha=-gain)
    return result, denoiser_seconds, predicted.detach(), error, correction


def _prefix_step(x: Tensor, leftover: Tensor, delay: int, t: float, denoiser: Denoiser) -> StepResult:
    with torch.no_grad():
        x_in = x
        if delay > 0:
            x_in = x.clone()
            x_in[:, :delay] = leftover[:, :delay]
        started = _clock.perf_counter()
        velocity = denoiser(x_in)
        denoiser_seconds = _clock.perf_counter() - started
        if delay > 0:
            velocity = velocity.clone()
            # The velocity whose predicted final rows x - t * v equal the leftover.
            velocity[:, :delay] = (x[:, :delay] - leftover[:, :delay]) / t if t > 0 else 0.0
        # No weights, error or correction: the first d rows are replaced, the others untouched.
        return velocity, denoiser_seconds, torch.add(x, velocity, alpha=-t), None, None


def _check_type(name: str, value: Any) -> None:
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")


def _check_tensor(name: str, value: Any) -> None:
    _check_type(name, value)
    # One reduction on the fast path (NaN and Inf propagate into the sum); the element-wise test
    # only runs to tell a real NaN/Inf from finite values whose sum overflowed.
    if not math.isfinite(value.sum().item()) and not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} contains NaN or Inf")


def _time_value(time: float | Tensor) -> float:
    if isinstance(time, Tensor):
        if time.numel() != 1:
            raise ValueError(f"time must be a python float or a one-element tensor, got shape {tuple(time.shape)}")
        time = time.item()
    time = float(time)
    if not 0.0 <= time <= 1.0:  # also rejects NaN
        raise ValueError(f"time must be in [0, 1] (1 = noise, 0 = clean), got {time}")
    return time


def _delay_value(inference_delay: Any) -> int:
    if inference_delay is None:
        raise ValueError("inference_delay is None: guidance with a leftover needs the delay in ticks (>= 0)")
    if isinstance(inference_delay, Tensor):
        inference_delay = inference_delay.item()
    if int(inference_delay) != inference_delay or inference_delay < 0:
        raise ValueError(f"inference_delay must be a non-negative integer (ticks), got {inference_delay!r}")
    return int(inference_delay)
