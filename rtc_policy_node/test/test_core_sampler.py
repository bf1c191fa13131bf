"""sample_flow: Euler from t = 1 to t = 0, plain and guided (LeRobot's processor as the oracle)."""

from __future__ import annotations

import pytest
import torch

from rtc_policy_node.core.guidance import RTCGuidance

from rtc_policy_node.core.sampler import sample_flow


def test_exact_on_a_straight_flow():
    # x_t = t * noise + (1 - t) * target has velocity (x_t - target) / t: Euler lands on target.
    target, noise = torch.randn(50, 6), torch.randn(50, 6)
    times = []

    def velocity(x, t):
        times.append(t)
        return (x - target) / t

    chunk = sample_flow(velocity, noise, num_steps=4)
    torch.testing.assert_close(chunk, target)
    assert times == pytest.approx([1.0, 0.75, 0.5, 0.25])
    assert all(isinstance(t, float) for t in times)


def test_same_as_lerobot_processor_in_the_same_loop():
    modeling_rtc = pytest.importorskip("lerobot.policies.rtc.modeling_rtc")
    from lerobot.policies.rtc.configuration_rtc import RTCConfig

    weight = torch.nn.Parameter(torch.randn(6, 6) / 6)

    def velocity(x, t):
        return torch.tanh(x @ weight) * (1 + t)

    noise, leftover, cfg = torch.randn(2, 50, 6), torch.randn(2, 30, 6), RTCConfig(enabled=True, execution_horizon=20)
    args = (velocity, noise, 10)
    ours = sample_flow(*args, RTCGuidance(cfg, "identity"), leftover, inference_delay=5)
    theirs = sample_flow(*args, modeling_rtc.RTCProcessor(cfg), leftover, inference_delay=5)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


def test_bad_arguments_are_errors():
    with pytest.raises(ValueError, match="num_steps"):
        sample_flow(lambda x, t: x, torch.zeros(3, 2), num_steps=0)
    with pytest.raises(ValueError, match="without guidance"):
        sample_flow(lambda x, t: x, torch.zeros(3, 2), prev_chunk_left_over=torch.zeros(3, 2))
