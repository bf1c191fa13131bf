"""RTCGuidance as a drop-in for LeRobot 0.4.4's RTCProcessor: the whole public surface.

Each contract runs against LeRobot's RTCProcessor and against ours (mode identity), the way
LeRobot's own RTC test suite exercises the processor (its test files are not shipped in the
wheel): debug tracker proxies honouring `debug`/`debug_maxlen`, tracked fields, prefix weights,
padding of short and narrow leftovers, edge times. Then LeRobot's RTCDebugVisualizer plots what
our tracker recorded, exactly as it plots LeRobot's.
"""
from __future__ import annotations

import itertools

import matplotlib
import pytest
import torch

from rtc_policy_node.core.guidance import RTCGuidance

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

pytest.importorskip("lerobot.policies.rtc.modeling_rtc")
from lerobot.configs.types import RTCAttentionSchedule  # noqa: E402
from lerobot.policies.rtc.configuration_rtc import RTCConfig  # noqa: E402
from lerobot.policies.rtc.debug_tracker import DebugStep, Tracker  # noqa: E402
from lerobot.policies.rtc.debug_visualizer import RTCDebugVisualizer  # noqa: E402
from lerobot.policies.rtc.modeling_rtc import RTCProcessor  # noqa: E402

IMPLEMENTATIONS = {"lerobot": RTCProcessor, "ours": lambda cfg: RTCGuidance(cfg, "identity")}


def make_config(debug: bool = False, **kwargs) -> RTCConfig:
    base = dict(enabled=True, prefix_attention_schedule=RTCAttentionSchedule.LINEAR, max_guidance_weight=10.0,
                execution_horizon=10, debug=debug)
    return RTCConfig(**{**base, **kwargs})


def velocity_of(x: torch.Tensor) -> torch.Tensor:
    """A denoiser that depends on x (as a model does), so x1's Jacobian is not trivially the identity."""
    return torch.tanh(x.flip(-2)) * 0.5 + 0.1


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def implementation(request):
    return IMPLEMENTATIONS[request.param]


def test_tracker_exists_only_with_debug(implementation):
    on, off = implementation(make_config(debug=True)), implementation(make_config(debug=False))
    assert isinstance(on.tracker, Tracker) and on.tracker.enabled and on.is_debug_enabled() is True
    assert off.tracker is None and off.is_debug_enabled() is False
    assert on.rtc_config.debug and not off.rtc_config.debug


def test_track_proxies_and_reset(implementation):
    on, off = implementation(make_config(debug=True)), implementation(make_config(debug=False))
    x = torch.randn(1, 50, 6)
    for processor in (on, off):
        processor.track(time=torch.tensor(0.5), x_t=x, v_t=x, guidance_weight=2.0)
        processor.track(time=0.4, x_t=x)
        processor.track(time=0.5, v_t=2 * x)  # same time: the same step, updated
    steps = on.get_all_debug_steps()
    assert [s.time for s in steps] == [0.5, 0.4] and all(isinstance(s, DebugStep) for s in steps)
    torch.testing.assert_close(steps[0].v_t, 2 * x)
    assert off.get_all_debug_steps() == []
    on.reset_tracker()
    off.reset_tracker()
    assert on.get_all_debug_steps() == []


def test_debug_maxlen_keeps_the_newest_steps(implementation):
    processor = implementation(make_config(debug=True, debug_maxlen=3))
    for k in range(5):
        processor.track(time=1.0 - k / 10, x_t=torch.zeros(2, 2))
    assert [s.time for s in processor.get_all_debug_steps()] == [0.8, 0.7, 0.6]


@pytest.mark.parametrize("schedule", list(RTCAttentionSchedule))
def test_get_prefix_weights_matches_lerobot(schedule):
    theirs, ours = RTCProcessor(make_config(prefix_attention_schedule=schedule)), \
        RTCGuidance(make_config(prefix_attention_schedule=schedule))
    for start, end, total in itertools.product(range(0, 12, 3), range(0, 25, 4), (1, 10, 20)):
        expected = theirs.get_prefix_weights(start, end, total)
        got = ours.get_prefix_weights(start, end, total)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        torch.testing.assert_close(got, expected, msg=f"{schedule} start={start} end={end} total={total}")


def tracked_run(implementation, x_t, leftover, delay, time, **kwargs):
    processor = implementation(make_config(debug=True, **kwargs))
    result = processor.denoise_step(x_t=x_t, prev_chunk_left_over=leftover, inference_delay=delay, time=time,
                                    original_denoise_step_partial=velocity_of)
    return result, processor.get_all_debug_steps()


@pytest.mark.parametrize("shape, leftover_shape", [
    ((1, 50, 6), (1, 50, 6)), ((50, 6), (50, 6)), ((1, 50, 6), (1, 30, 6)), ((1, 50, 6), (1, 50, 4)),
    ((1, 50, 32), (20, 6)), ((2, 50, 6), (2, 40, 6)),
])
@pytest.mark.parametrize("time", [torch.tensor(0.5), 0.0, 1.0, 0.73])
def test_denoise_step_and_tracked_fields_match_lerobot(shape, leftover_shape, time):
    generator = torch.Generator().manual_seed(sum(shape) + sum(leftover_shape))
    x_t, leftover = torch.randn(shape, generator=generator), torch.randn(leftover_shape, generator=generator)
    expected, their_steps = tracked_run(RTCProcessor, x_t, leftover, 5, time)
    got, our_steps = tracked_run(IMPLEMENTATIONS["ours"], x_t, leftover, 5, time)
    assert got.shape == x_t.shape and torch.isfinite(got).all()
    torch.testing.assert_close(got, expected.detach(), rtol=1e-5, atol=1e-5)
    assert len(their_steps) == len(our_steps) == 1
    theirs, ours = their_steps[0], our_steps[0]
    assert (ours.time, ours.inference_delay, ours.execution_horizon, ours.step_idx) == \
        (theirs.time, theirs.inference_delay, theirs.execution_horizon, theirs.step_idx)
    assert float(ours.guidance_weight) == pytest.approx(float(theirs.guidance_weight), rel=1e-6)
    for field in ("x1_t", "correction", "err", "weights"):
        torch.testing.assert_close(getattr(ours, field), getattr(theirs, field).detach(), rtol=1e-5, atol=1e-5,
                                   msg=field)
    assert ours.to_dict().keys() == theirs.to_dict().keys()


def test_no_leftover_tracks_nothing_and_returns_the_velocity(implementation):
    processor = implementation(make_config(debug=True))
    x_t = torch.randn(1, 50, 6)
    result = processor.denoise_step(x_t=x_t, prev_chunk_left_over=None, inference_delay=5, time=0.8,
                                    original_denoise_step_partial=velocity_of)
    torch.testing.assert_close(result, velocity_of(x_t))
    assert processor.get_all_debug_steps() == []


def test_get_debug_data_lists_the_steps_as_dicts():
    guidance = RTCGuidance(make_config(debug=True), "vjp")
    x_t, leftover = torch.randn(1, 50, 6), torch.randn(1, 50, 6)
    for time in (1.0, 0.9):
        guidance.denoise_step(x_t, leftover, 3, time, velocity_of)
    data = guidance.get_debug_data()
    assert [d["time"] for d in data] == [1.0, 0.9]
    assert data[0]["x1_t_stats"]["shape"] == (1, 50, 6) and data[0]["inference_delay"] == 3
    assert isinstance(guidance.get_debug_data(include_tensors=True)[1]["correction"], torch.Tensor)
    assert RTCGuidance(make_config(debug=False)).get_debug_data() == []


def test_prefix_mode_tracks_its_prediction():
    guidance = RTCGuidance(make_config(debug=True), "prefix")
    x_t, leftover = torch.randn(50, 6), torch.randn(50, 6)
    guidance.denoise_step(x_t, leftover, 4, 0.5, velocity_of)
    (step,) = guidance.get_all_debug_steps()
    torch.testing.assert_close(step.x1_t[:4], leftover[:4], rtol=1e-5, atol=1e-5)
    assert step.correction is None and step.weights is None and step.inference_delay == 4


def plotted_lines(steps, prev_chunk) -> list:
    """What LeRobot's eval_dataset example draws per tracked step: x1_t, err, correction, leftover."""
    fig, axes = plt.subplots(6, 1)
    for step in steps:
        for tensor in (step.x1_t, step.err, step.correction, step.weights):
            RTCDebugVisualizer.plot_waypoints(axes, tensor, start_from=0, label="step")
    RTCDebugVisualizer.plot_waypoints(axes, prev_chunk, color="red", label="Ground truth")
    lines = [(line.get_xdata().tolist(), line.get_ydata().tolist()) for ax in axes for line in ax.get_lines()]
    plt.close(fig)
    return lines


def test_lerobot_visualizer_plots_our_tracked_steps_like_its_own():
    generator = torch.Generator().manual_seed(4)
    x_t, leftover = torch.randn(1, 50, 6, generator=generator), torch.randn(25, 6, generator=generator)
    theirs, ours = RTCProcessor(make_config(debug=True)), RTCGuidance(make_config(debug=True))
    for processor in (theirs, ours):
        x = x_t.clone()
        for k in range(10):
            time = 1.0 - k / 10
            v = processor.denoise_step(x, leftover, 4, time, velocity_of).detach()
            x = x - 0.1 * v
            processor.track(time=time, x_t=x, v_t=v)  # as the policies do after each step
    their_lines, our_lines = plotted_lines(theirs.get_all_debug_steps(), leftover), \
        plotted_lines(ours.get_all_debug_steps(), leftover)
    assert len(our_lines) == len(their_lines) > 0
    for (x_ours, y_ours), (x_theirs, y_theirs) in zip(our_lines, their_lines):
        assert x_ours == x_theirs
        assert y_ours == pytest.approx(y_theirs, abs=1e-4)
