"""Record what happens inside guided sampling: x_t, v_t, the guidance's correction and x1_t per step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from collections.abc import Callable

import torch
from torch import Tensor

from rtc_policy_node.core.guidance import RTCGuidance


@dataclass(frozen=True)
class DenoiseStep:
    time: float
    x_t: Tensor  # (H, A) the sample entering the step
    v_t: Tensor  # the denoiser's own velocity
    correction: Tensor  # guided velocity minus v_t (zero without guidance)
    x1_t: Tensor  # predicted final chunk, x_t - time * guided velocity


class RecordingGuidance:
    """Drop-in for RTCGuidance that records every denoising step of the guidance it wraps."""

    def __init__(self, inner: RTCGuidance) -> None:
        self.inner = inner
        self.mode = inner.mode
        self.rtc_config = inner.rtc_config
        self.steps: list[DenoiseStep] = []

    @property
    def seconds(self) -> float:
        return self.inner.seconds

    def reset_timing(self) -> None:
        self.inner.reset_timing()

    def denoise_step(
        self,
        x_t: Tensor,
        prev_chunk_left_over: Tensor | None,
        inference_delay: int | None,
        time: float,
        original_denoise_step_partial: Callable[[Tensor], Tensor],
        execution_horizon: int | None = None,
        **kwargs: Any,
    ) -> Tensor:
        guided = self.inner.denoise_step(
            x_t, prev_chunk_left_over, inference_delay, time, original_denoise_step_partial, execution_horizon
        )
        with torch.no_grad():
            raw = original_denoise_step_partial(x_t)
        self.steps.append(
            DenoiseStep(float(time), x_t[0].clone(), raw[0].clone(), (guided - raw)[0].clone(), (x_t - time * guided)[0].clone())
        )
        return guided
