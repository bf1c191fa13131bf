"""RTCGuidance against LeRobot 0.4.4's RTCProcessor (identity) and torch.func (vjp)."""

from __future__ import annotations

import pytest
import torch

from rtc_policy_node.core.guidance import RTCGuidance, guidance_weight

from rtc_policy_node.core.sampler import sample_flow

from rtc_policy_node.core.schedules import PrefixSchedule
from rtc_policy_node.core.guidance import align_leftover

lerobot_rtc = pytest.importorskip("lerobot.policies.rtc.modeling_rtc")
from lerobot.configs.types import RTCAttentionSchedule  # noqa: E402
from lerobot.policies.rtc.configuration_rtc import RTCConfig  # noqa: E402

LENGTH, DIM, HORIZON = 16, 5, 10


class Denoiser(torch.nn.Module):
    """Nonlinear in x_t, mixing rows (like attention) and dims; parameters require grad."""

    def __init__(self, length: int = LENGTH, dim: int = DIM, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.rows = torch.nn.Parameter(torch.randn(length, length, generator=generator) / length)
        self.inner = torch.nn.Parameter(torch.randn(dim, 32, generator=generator) / dim**0.5)
        self.outer = torch.nn.Parameter(torch.randn(32, dim, generator=generator) / 32**0.5)

    def forward(self, x: torch.Tensor, t: float = 0.5) -> torch.Tensor:
        mixed = x + self.rows @ x
        return torch.tanh(mixed @ self.inner + t) @ self.outer


def config(schedule: PrefixSchedule = PrefixSchedule.LINEAR, horizon: int = HORIZON) -> RTCConfig:
    return RTCConfig(
        enabled=True,
        prefix_attention_schedule=RTCAttentionSchedule(schedule.value),
        execution_horizon=horizon,
        max_guidance_weight=5.0,
    )


@pytest.mark.parametrize("schedule", list(PrefixSchedule))
def test_identity_matches_lerobot(schedule):
    ours = RTCGuidance(config(schedule), mode="identity")
    theirs = lerobot_rtc.RTCProcessor(config(schedule))
    for seed, batched in ((0, False), (1, True)):
        generator = torch.Generator().manual_seed(seed)
        denoiser = Denoiser(seed=seed)
        shape = (3, LENGTH, DIM) if batched else (LENGTH, DIM)
        x_t = torch.randn(shape, generator=generator)
        for leftover_length in (4, HORIZON, 13, LENGTH):
            leftover = torch.randn(shape[:-2] + (leftover_length, DIM), generator=generator)
            for delay in range(HORIZON + 3):
                time = float(torch.rand((), generator=generator))
                args = (x_t, leftover, delay, time, lambda x: denoiser(x, time))
                expected = theirs.denoise_step(*args)
                got = ours.denoise_step(*args)
                assert got.shape == x_t.shape
                torch.testing.assert_close(
                    got, expected.detach(), rtol=1e-5, atol=1e-5, msg=f"seed={seed} T'={leftover_length} d={delay}"
                )


@pytest.mark.parametrize("time", [1.0, 0.9, 0.5, 0.1, 0.0])
def test_identity_matches_lerobot_at_time_edges_and_explicit_horizon(time):
    x_t, leftover = torch.randn(2, LENGTH, DIM), torch.randn(2, 12, DIM)
    denoiser = Denoiser()
    for horizon in (0, 3, 12, 20):
        args = (x_t, leftover, 4, time, lambda x: denoiser(x, time))
        expected = lerobot_rtc.RTCProcessor(config()).denoise_step(*args, execution_horizon=horizon)
        got = RTCGuidance(config(), "identity").denoise_step(*args, execution_horizon=horizon)
        torch.testing.assert_close(got, expected.detach(), rtol=1e-5, atol=1e-5)


def test_guidance_weight_formula_and_clip():
    assert guidance_weight(1.0, 5.0) == 5.0
    assert guidance_weight(0.0, 5.0) == 0.0
    tau = 0.3
    expected = (1 - tau) / tau * ((1 - tau) ** 2 + tau**2) / (1 - tau) ** 2
    assert guidance_weight(1 - tau, 100.0) == pytest.approx(expected)
    assert guidance_weight(0.95, 5.0) == 5.0


def test_identity_builds_no_autograd_graph():
    denoiser = Denoiser()
    grad_seen = []

    def velocity(x):
        grad_seen.append(torch.is_grad_enabled())
        return denoiser(x)

    guidance = RTCGuidance(config(), "identity")
    out = guidance.denoise_step(torch.randn(LENGTH, DIM), torch.randn(8, DIM), 2, 0.6, velocity)
    assert grad_seen == [False]
    assert not out.requires_grad and out.grad_fn is None


def reference_vjp(denoiser, x_t, leftover, delay, time, schedule, horizon, max_weight):
    """v - w * (d x1 / d x_t)^T [mask * (leftover - x1)], x1 = x_t - t v, via torch.func.vjp."""
    from rtc_policy_node.core.schedules import prefix_weights

    mask = torch.from_numpy(prefix_weights(schedule, delay, horizon, x_t.shape[-2]).copy()).unsqueeze(-1)

    def predicted(x):
        return x - time * denoiser(x, time)

    x1, pullback = torch.func.vjp(predicted, x_t)
    (correction,) = pullback((leftover - x1) * mask)
    return denoiser(x_t, time) - guidance_weight(time, max_weight) * correction


@pytest.mark.parametrize("schedule", [PrefixSchedule.LINEAR, PrefixSchedule.EXP, PrefixSchedule.ONES])
def test_vjp_matches_torch_func_reference(schedule):
    guidance = RTCGuidance(config(schedule), mode="vjp")
    for seed in range(3):
        generator = torch.Generator().manual_seed(seed)
        denoiser = Denoiser(seed=seed)
        x_t = torch.randn(2, LENGTH, DIM, generator=generator)
        leftover = torch.randn(2, LENGTH, DIM, generator=generator)
        for delay, time in ((0, 0.9), (3, 0.5), (7, 0.2)):
            with torch.no_grad():  # the caller's usual context; vjp re-enables grad locally
                got = guidance.denoise_step(x_t, leftover, delay, time, lambda x: denoiser(x, time))
            expected = reference_vjp(denoiser, x_t, leftover, delay, time, schedule, HORIZON, 5.0)
            torch.testing.assert_close(got, expected.detach(), rtol=1e-5, atol=1e-5)
            assert not got.requires_grad
    assert all(p.grad is None for p in denoiser.parameters())


def test_vjp_differs_from_identity_unless_velocity_ignores_x():
    x_t, leftover = torch.randn(LENGTH, DIM), torch.randn(LENGTH, DIM)
    denoiser = Denoiser()
    args = (x_t, leftover, 3, 0.5)
    vjp, identity = RTCGuidance(config(), "vjp"), RTCGuidance(config(), "identity")
    assert not torch.allclose(vjp.denoise_step(*args, denoiser), identity.denoise_step(*args, denoiser))
    constant = torch.randn(LENGTH, DIM)

    def ignores_x(x):
        return constant + 0.0 * x

    torch.testing.assert_close(vjp.denoise_step(*args, ignores_x), identity.denoise_step(*args, ignores_x))


def test_vjp_refuses_inference_mode_clearly():
    guidance = RTCGuidance(config(), "vjp")
    with torch.inference_mode(), pytest.raises(RuntimeError, match="inference_mode"):
        guidance.denoise_step(torch.randn(LENGTH, DIM), torch.randn(LENGTH, DIM), 2, 0.5, Denoiser())


def test_prefix_lands_on_the_leftover_and_conditions_the_denoiser():
    generator = torch.Generator().manual_seed(3)
    denoiser, leftover, delay = Denoiser(), torch.randn(LENGTH, DIM, generator=generator), 4
    seen = []

    def velocity(x, t):
        seen.append(x.detach().clone())
        return denoiser(x, t)

    guidance = RTCGuidance(config(), mode="prefix")
    chunk = sample_flow(velocity, torch.randn(LENGTH, DIM, generator=generator), 10, guidance, leftover, delay)
    torch.testing.assert_close(chunk[:delay], leftover[:delay], rtol=1e-5, atol=1e-5)
    assert len(seen) == 10
    for x in seen:
        torch.testing.assert_close(x[0, :delay], leftover[:delay])
    unguided = sample_flow(denoiser, torch.randn(LENGTH, DIM, generator=generator), 10)
    assert not torch.allclose(unguided[:delay], leftover[:delay], atol=1e-2)


def test_off_and_no_leftover_return_the_denoisers_velocity():
    x_t, denoiser = torch.randn(LENGTH, DIM), Denoiser()
    with torch.no_grad():
        plain = denoiser(x_t)
        for mode in ("off", "identity", "vjp", "prefix"):
            torch.testing.assert_close(RTCGuidance(config(), mode).denoise_step(x_t, None, None, 0.5, denoiser), plain)
        off = RTCGuidance(config(), "off")
        torch.testing.assert_close(off.denoise_step(x_t, torch.randn(LENGTH, DIM), 3, 0.5, denoiser), plain)
        assert off.seconds == 0.0


def test_seconds_accumulate_guidance_time():
    guidance = RTCGuidance(config(), "vjp")
    sample_flow(Denoiser(), torch.randn(LENGTH, DIM), 5, guidance, torch.randn(LENGTH, DIM), 2)
    assert guidance.seconds > 0.0
    guidance.reset_timing()
    assert guidance.seconds == 0.0


def test_short_leftover_is_padded_with_its_last_row_and_gets_zero_weight():
    leftover = torch.randn(2, 3, DIM)
    padded, own_length = align_leftover(leftover, 2, LENGTH, DIM)
    assert own_length == 3 and padded.shape == (2, LENGTH, DIM)
    torch.testing.assert_close(padded[:, :3], leftover)
    torch.testing.assert_close(padded[:, 3:], leftover[:, -1:].expand(2, LENGTH - 3, DIM))
    # Rows past the leftover have zero weight: the guided velocity there is the plain one.
    x_t, denoiser = torch.randn(2, LENGTH, DIM), Denoiser()
    out = RTCGuidance(config(PrefixSchedule.ONES), "vjp").denoise_step(x_t, leftover, 2, 0.5, denoiser)
    with torch.no_grad():
        plain = denoiser(x_t)
    assert not torch.allclose(out[:, :3], plain[:, :3])


def test_a_short_leftover_never_pulls_rows_past_its_end_toward_the_dataset_mean():
    """LeRobot PR 4454's "mean-action seam": LeRobot main's rollout zero-padded a short leftover to the
    chunk length, so its processor guided the rows past the leftover's end toward 0, the dataset mean
    in normalised space. Ours keeps the leftover's own length: those rows are not guided (and padded
    with the last row besides), exactly what LeRobot's processor does with the short leftover itself."""
    leftover, x_t, denoiser = torch.full((1, 3, DIM), 5.0), torch.randn(1, LENGTH, DIM), Denoiser()
    cfg = config(PrefixSchedule.ONES)
    ours = RTCGuidance(cfg, "identity").denoise_step(x_t, leftover, 2, 0.5, denoiser)
    with torch.no_grad():
        plain = denoiser(x_t)
    torch.testing.assert_close(ours[:, 3:], plain[:, 3:])
    torch.testing.assert_close(ours, lerobot_rtc.RTCProcessor(cfg).denoise_step(x_t, leftover, 2, 0.5, denoiser).detach())
    zero_padded = torch.nn.functional.pad(leftover, (0, 0, 0, LENGTH - 3))
    theirs = lerobot_rtc.RTCProcessor(cfg).denoise_step(x_t, zero_padded, 2, 0.5, denoiser).detach()
    assert not torch.allclose(theirs[:, 3:HORIZON], plain[:, 3:HORIZON])  # pulled toward 0 there


def test_leftover_longer_than_chunk_is_cut():
    x_t, leftover, denoiser = torch.randn(LENGTH, DIM), torch.randn(LENGTH + 6, DIM), Denoiser()
    guidance = RTCGuidance(config(horizon=LENGTH + 6), "identity")
    torch.testing.assert_close(
        guidance.denoise_step(x_t, leftover, 5, 0.4, denoiser),
        guidance.denoise_step(x_t, leftover[:LENGTH].clone(), 5, 0.4, denoiser),
    )


def test_delay_above_horizon_is_clamped_like_lerobot():
    x_t, leftover, denoiser = torch.randn(LENGTH, DIM), torch.randn(LENGTH, DIM), Denoiser()
    guidance = RTCGuidance(config(PrefixSchedule.ZEROS), "identity")
    at_horizon = guidance.denoise_step(x_t, leftover, HORIZON, 0.4, denoiser)
    torch.testing.assert_close(guidance.denoise_step(x_t, leftover, HORIZON + 5, 0.4, denoiser), at_horizon)
    lerobot = lerobot_rtc.RTCProcessor(config(PrefixSchedule.ZEROS))
    expected = lerobot.denoise_step(x_t, leftover, HORIZON + 5, 0.4, denoiser)
    torch.testing.assert_close(at_horizon, expected.detach())


def test_leftover_with_more_action_dims_is_an_error():
    guidance = RTCGuidance(config(), "identity")
    with pytest.raises(ValueError, match="prev_chunk_left_over has .* action dims"):
        guidance.denoise_step(torch.randn(LENGTH, DIM), torch.randn(LENGTH, DIM + 1), 2, 0.5, Denoiser())


@pytest.mark.parametrize("leftover_length", [LENGTH, 7])
def test_leftover_with_fewer_action_dims_is_zero_padded_like_lerobot(leftover_length):
    x_t, leftover, denoiser = torch.randn(2, LENGTH, DIM), torch.randn(2, leftover_length, DIM - 2), Denoiser()
    expected = lerobot_rtc.RTCProcessor(config()).denoise_step(x_t, leftover, 3, 0.4, denoiser)
    got = RTCGuidance(config(), "identity").denoise_step(x_t, leftover, 3, 0.4, denoiser)
    torch.testing.assert_close(got, expected.detach(), rtol=1e-5, atol=1e-5)
    padded = torch.nn.functional.pad(leftover, (0, 2))
    for mode in ("vjp", "prefix"):
        guidance = RTCGuidance(config(), mode)
        torch.testing.assert_close(guidance.denoise_step(x_t, leftover, 3, 0.4, denoiser),
                                   guidance.denoise_step(x_t, padded, 3, 0.4, denoiser))


@pytest.mark.parametrize("delay", [None, -1, 1.5])
def test_bad_inference_delay_is_an_error(delay):
    with pytest.raises(ValueError, match="inference_delay"):
        RTCGuidance(config(), "identity").denoise_step(
            torch.randn(LENGTH, DIM), torch.randn(LENGTH, DIM), delay, 0.5, Denoiser()
        )


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
@pytest.mark.parametrize("mode", ["identity", "vjp", "prefix", "off"])
def test_non_finite_inputs_are_errors_naming_the_tensor(bad, mode):
    guidance, denoiser = RTCGuidance(config(), mode), Denoiser()
    poisoned = torch.randn(LENGTH, DIM)
    poisoned[3, 1] = bad
    with pytest.raises(ValueError, match="x_t"):
        guidance.denoise_step(poisoned, torch.randn(LENGTH, DIM), 2, 0.5, denoiser)
    with pytest.raises(ValueError, match="time"):
        guidance.denoise_step(torch.randn(LENGTH, DIM), torch.randn(LENGTH, DIM), 2, bad, denoiser)
    if mode != "off":
        with pytest.raises(ValueError, match="prev_chunk_left_over"):
            guidance.denoise_step(torch.randn(LENGTH, DIM), poisoned, 2, 0.5, denoiser)


def test_in_place_change_of_the_leftover_is_seen():
    guidance, denoiser = RTCGuidance(config(), "identity"), Denoiser()
    x_t, leftover = torch.randn(LENGTH, DIM), torch.randn(LENGTH, DIM)
    first = guidance.denoise_step(x_t, leftover, 2, 0.5, denoiser)
    leftover.add_(1.0)
    second = guidance.denoise_step(x_t, leftover, 2, 0.5, denoiser)
    torch.testing.assert_close(second, RTCGuidance(config(), "identity").denoise_step(x_t, leftover, 2, 0.5, denoiser))
    assert not torch.allclose(first, second)
    leftover[0, 0] = float("nan")
    with pytest.raises(ValueError, match="prev_chunk_left_over"):
        guidance.denoise_step(x_t, leftover, 2, 0.5, denoiser)


def test_unknown_mode_is_an_error():
    with pytest.raises(ValueError, match="guidance mode"):
        RTCGuidance(config(), mode="jacobian")
