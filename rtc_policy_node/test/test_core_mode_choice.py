"""core.mode_choice: guidance commits to the leftover's mode or follows the new one, never a blend."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rtc_policy_node.core.guidance import RTCGuidance

from rtc_policy_node.core.sampler import sample_flow
from rtc_policy_node.core.mode_choice import (
    ModeChoice,
    candidate_noises,
    choose_mode,
    compared_rows,
    keep_or_follow,
    leftover_disagreement,
)

LENGTH, DIM, DELAY, HORIZON = 16, 2, 2, 12
RAMP = np.linspace(0.0, 2.0, LENGTH)[:, None] * np.ones(DIM)  # a plan that leaves the start to one side


class Config:
    prefix_attention_schedule = "LINEAR"
    max_guidance_weight = 10.0
    execution_horizon = HORIZON


def bimodal_velocity(x_t: torch.Tensor, t: float) -> torch.Tensor:
    """A flow whose clean chunk is +RAMP or -RAMP, chosen by the noise in the unguided rows only.

    Like the built-in policy, its prediction barely depends on the rows guidance pulls on.
    """
    side = torch.sign(x_t[..., HORIZON:, :].sum(dim=(-2, -1), keepdim=True))
    prediction = side * torch.from_numpy(RAMP).float()
    return (x_t - prediction) / t


def sample(noise: np.ndarray, leftover: np.ndarray | None) -> np.ndarray:
    guidance = RTCGuidance(Config(), mode="identity") if leftover is not None else None
    out = sample_flow(bimodal_velocity, torch.from_numpy(noise)[None], 10, guidance=guidance,
                      prev_chunk_left_over=None if leftover is None else torch.from_numpy(leftover).float(),
                      inference_delay=DELAY, execution_horizon=HORIZON)
    return out[0].numpy()


def noise_for_side(side: int, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal((LENGTH, DIM)).astype(np.float32)
    noise[HORIZON:] = side * np.abs(noise[HORIZON:])
    return noise


def test_plain_guidance_blends_two_modes_into_the_middle():
    """The cause, in a real sampler: leftover on one side, noise toward the other, the guided chunk
    crosses between them over the soft part of the mask."""
    leftover = RAMP.astype(np.float32)
    guided = sample(noise_for_side(-1), leftover)
    assert guided[HORIZON + 1 :, 0].max() < 0 < guided[1:DELAY + 1, 0].min()  # starts on + , ends on -
    assert np.abs(guided[DELAY:HORIZON, 0]).min() < 0.25 * RAMP[DELAY:HORIZON, 0].min() + 0.1  # passes the middle


def test_chosen_candidate_keeps_the_guided_chunk_in_the_leftovers_mode():
    leftover = RAMP.astype(np.float32)
    noises = np.stack([noise_for_side(-1, 0), noise_for_side(-1, 1), noise_for_side(1, 2), noise_for_side(1, 3)])
    candidates = np.stack([sample(n, None) for n in noises])
    choice = choose_mode(candidates, leftover, DELAY, HORIZON, max_disagreement=0.5)
    assert choice.guided and choice.candidate in (2, 3)
    guided = sample(noises[choice.candidate], leftover)
    assert guided[1:, 0].min() > 0  # one mode throughout
    np.testing.assert_allclose(guided[DELAY:], leftover[DELAY:], atol=1e-4)


def test_a_leftover_the_policy_no_longer_makes_is_not_followed():
    """A hesitant leftover (between the modes) with one equally hesitant candidate beside it: too
    little support, so the first candidate is used unguided."""
    hesitant = np.zeros((LENGTH, DIM))
    candidates = np.stack([-RAMP, RAMP, -RAMP, RAMP, RAMP, -RAMP, RAMP, 0.05 + hesitant])
    choice = choose_mode(candidates, hesitant, DELAY, HORIZON, max_disagreement=0.5, min_support=0.25)
    assert choice == ModeChoice(0, False, pytest.approx(leftover_disagreement(candidates[:1], hesitant, DELAY, HORIZON)[0]))
    supported = choose_mode(candidates[[0, 7, 7, 1]], hesitant, DELAY, HORIZON, max_disagreement=0.5, min_support=0.25)
    assert supported.guided and supported.candidate == 1


def test_only_the_rows_guidance_would_blend_are_compared():
    leftover = np.zeros((LENGTH, DIM))
    candidate = np.zeros((1, LENGTH, DIM))
    candidate[0, :DELAY] = 5.0  # executed before the chunk arrives: skipped
    candidate[0, HORIZON:] = 5.0  # beyond the horizon: not guided
    assert leftover_disagreement(candidate, leftover, DELAY, HORIZON)[0] == 0.0
    candidate[0, HORIZON - 1, 0] = 2.0
    assert leftover_disagreement(candidate, leftover, DELAY, HORIZON)[0] == pytest.approx(np.sqrt(2.0))


def test_rows_are_clamped_like_the_guidance():
    assert compared_rows(2, 12, leftover_rows=8, chunk_length=16) == range(2, 8)
    assert compared_rows(20, 12, leftover_rows=30, chunk_length=16) == range(12, 12)
    assert leftover_disagreement(np.ones((3, LENGTH, DIM)), np.zeros((4, DIM)), 6, HORIZON).tolist() == [0.0] * 3
    choice = choose_mode(np.ones((3, LENGTH, DIM)), np.zeros((4, DIM)), 6, HORIZON, 0.5)
    assert choice == ModeChoice(0, True, 0.0)  # nothing left to blend: plain guidance


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: leftover_disagreement(np.zeros((2, 4, 3)), np.zeros((4, 2)), 1, 3), "must share A"),
        (lambda: leftover_disagreement(np.zeros((4, 3)), np.zeros((4, 3)), 1, 3), "must share A"),
        (lambda: leftover_disagreement(np.zeros((2, 4, 3)), np.zeros((4, 3)), -1, 3), "inference_delay"),
        (lambda: leftover_disagreement(np.zeros((2, 4, 3)), np.zeros((4, 3)), 1, 2.5), "execution_horizon"),
        (lambda: choose_mode(np.zeros((2, 4, 3)), np.zeros((4, 3)), 1, 3, 0.0), "max_disagreement"),
        (lambda: choose_mode(np.zeros((2, 4, 3)), np.zeros((4, 3)), 1, 3, 1.0, min_support=0.0), "min_support"),
        (lambda: candidate_noises(np.zeros((4, 3)), 0), "count"),
    ],
)
def test_bad_input_is_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_candidate_noises_start_with_the_given_noise_and_follow_from_it():
    noise = np.random.default_rng(3).standard_normal((LENGTH, DIM)).astype(np.float32)
    noises = candidate_noises(noise, 5)
    assert noises.shape == (5, LENGTH, DIM) and noises.dtype == np.float32
    np.testing.assert_array_equal(noises[0], noise)
    np.testing.assert_array_equal(candidate_noises(noise, 5), noises)
    assert not np.allclose(candidate_noises(noise + 1.0, 5)[1:], noises[1:])
    assert len({n.tobytes() for n in noises}) == 5


def test_keep_or_follow_keeps_the_guided_chunk_unless_it_strays_from_the_unguided_one_after_the_delay():
    unguided = np.zeros((LENGTH, DIM))
    guided = unguided.copy()
    guided[:DELAY] = 5.0  # the executed rows: any difference there is what the prefix is for
    guided[DELAY:] = 0.1
    assert keep_or_follow(guided, unguided, DELAY, max_disagreement=0.2) == ModeChoice(0, True, pytest.approx(0.1))
    guided[LENGTH - 1, 0] = 0.5  # one row farther off the new plan: RMS over dims sqrt((0.25 + 0.01) / 2)
    choice = keep_or_follow(guided, unguided, DELAY, max_disagreement=0.2)
    assert choice == ModeChoice(0, False, pytest.approx(np.sqrt(0.13)))


def test_keep_or_follow_does_not_keep_a_guided_chunk_it_cannot_compare():
    guided = np.zeros((LENGTH, DIM))
    guided[DELAY + 1, 0] = np.nan  # a broken guided sample
    assert not keep_or_follow(guided, np.zeros((LENGTH, DIM)), DELAY, max_disagreement=0.1).guided


@pytest.mark.parametrize("kwargs, message", [
    (dict(max_disagreement=0.0), "max_disagreement must be > 0"),
    (dict(max_disagreement=float("nan")), "max_disagreement must be > 0"),
    (dict(inference_delay=-1), "inference_delay must be a non-negative integer"),
    (dict(unguided=np.zeros((LENGTH - 1, DIM))), r"guided and unguided must both be \(T, A\)"),
])
def test_keep_or_follow_rejects_bad_arguments(kwargs, message):
    arguments = dict(guided=np.zeros((LENGTH, DIM)), unguided=np.zeros((LENGTH, DIM)), inference_delay=DELAY,
                     max_disagreement=0.1) | kwargs
    with pytest.raises(ValueError, match=message):
        keep_or_follow(**arguments)


def test_smooth_switch_goes_from_the_executed_rows_onto_the_new_plan_continuously():
    """The chunk after a start that switches to its new plan: no jump in position or velocity at
    either end of the transition, the new plan's rows (and direction) from its end on."""
    from rtc_policy_node.core.mode_choice import smooth_switch

    executed = np.linspace(0.0, 0.3, 4)[:, None] * np.ones(DIM)  # moving at 0.1 per row
    new_plan = -RAMP + 0.5  # elsewhere, moving the other way
    delay, rows = 4, 5
    switched = smooth_switch(executed, new_plan, delay, rows)
    assert switched.shape == new_plan.shape
    np.testing.assert_array_equal(switched[:delay], executed)
    np.testing.assert_array_equal(switched[delay + rows:], new_plan[delay + rows:])
    steps = np.diff(switched, axis=0)
    # velocity continuous where it leaves the executed rows and where it joins the plan: the step
    # changes there no more than it changes inside the transition (its own, bounded acceleration)
    inside = np.abs(np.diff(steps[delay - 1:delay + rows], axis=0)).max()
    assert np.abs(steps[delay - 1] - steps[delay - 2]).max() <= inside
    assert np.abs(steps[delay + rows] - steps[delay + rows - 1]).max() <= inside
    np.testing.assert_allclose(steps[delay + rows], new_plan[delay + rows + 1] - new_plan[delay + rows])
    # the jump the plain switch would make at the seam is spread over the transition
    jump = np.abs(new_plan[delay] - executed[-1]).max()
    assert np.abs(steps[delay - 1:delay + rows]).max() < jump


@pytest.mark.parametrize("bad, words", [
    (dict(executed=np.zeros((0, DIM))), "executed"),
    (dict(executed=np.zeros((3, DIM + 1))), "share A"),
    (dict(transition_rows=0), "transition_rows"),
])
def test_smooth_switch_refuses_bad_input(bad, words):
    from rtc_policy_node.core.mode_choice import smooth_switch

    args = dict(executed=np.zeros((3, DIM)), new_plan=RAMP, inference_delay=3, transition_rows=4) | bad
    with pytest.raises(ValueError, match=words):
        smooth_switch(**args)


def test_smooth_switch_with_no_room_to_land_keeps_the_plan():
    from rtc_policy_node.core.mode_choice import smooth_switch

    np.testing.assert_array_equal(smooth_switch(np.zeros((3, DIM)), RAMP, 3, LENGTH), RAMP)
