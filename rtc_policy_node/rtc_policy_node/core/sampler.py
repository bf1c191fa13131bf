"""Flow-matching sampler: Euler integration from noise (t = 1) to a chunk (t = 0)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from rtc_policy_node.core.guidance import RTCGuidance

Velocity = Callable[[Tensor, float], Tensor]


def sample_flow(
    velocity: Velocity,
    noise: Tensor,
    num_steps: int = 10,
    guidance: RTCGuidance | None = None,
    prev_chunk_left_over: Tensor | None = None,
    inference_delay: int | None = None,
    execution_horizon: int | None = None,
) -> Tensor:
    """Integrate x_{t+dt} = x_t + dt * v(x_t, t) with dt = -1/num_steps, t = 1, 1 - 1/n, ..., 1/n.

    `velocity(x_t, t)` gets t as a python float. With `guidance` (RTCGuidance, or anything with
    LeRobot's `denoise_step` signature) each step's velocity is the guided one. Runs under
    torch.no_grad(), like a policy's sample_actions; vjp guidance re-enables grad for its step.
    """
    if int(num_steps) != num_steps or num_steps < 1:
        raise ValueError(f"num_steps must be a positive integer, got {num_steps!r}")
    if guidance is None and prev_chunk_left_over is not None:
        raise ValueError("prev_chunk_left_over given without guidance: pass guidance (mode 'off' to ignore it)")
    dt = -1.0 / num_steps
    x_t = noise
    with torch.no_grad():
        for step in range(int(num_steps)):
            t = 1.0 + step * dt
            if guidance is None:
                v_t = velocity(x_t, t)
            else:
                v_t = guidance.denoise_step(
                    x_t,
                    prev_chunk_left_over,
                    inference_delay,
                    t,
                    lambda x, t=t: velocity(x, t),
                    execution_horizon=execution_horizon,
                )
            x_t = x_t + dt * v_t
    return x_t
