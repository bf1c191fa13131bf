"""Prefix schedules against LeRobot 0.4.4's RTCProcessor.get_prefix_weights."""

from __future__ import annotations

import numpy as np
import pytest

from rtc_policy_node.core.schedules import PrefixSchedule, prefix_weights

lerobot_rtc = pytest.importorskip("lerobot.policies.rtc.modeling_rtc")
from lerobot.configs.types import RTCAttentionSchedule  # noqa: E402
from lerobot.policies.rtc.configuration_rtc import RTCConfig  # noqa: E402


def lerobot_weights(schedule: PrefixSchedule, delay: int, horizon: int, length: int) -> np.ndarray:
    processor = lerobot_rtc.RTCProcessor(RTCConfig(prefix_attention_schedule=RTCAttentionSchedule(schedule.value)))
    return processor.get_prefix_weights(delay, horizon, length).numpy()


def test_values_match_lerobot_enum():
    assert [s.value for s in PrefixSchedule] == [s.value for s in RTCAttentionSchedule]


@pytest.mark.parametrize("schedule", list(PrefixSchedule))
@pytest.mark.parametrize("length", [1, 4, 11])
def test_matches_lerobot_for_every_delay_and_horizon(schedule, length):
    for horizon in range(length + 3):
        for delay in range(length + 3):
            ours = prefix_weights(schedule, delay, horizon, length)
            theirs = lerobot_weights(schedule, delay, horizon, length)
            assert ours.shape == (length,)
            np.testing.assert_allclose(ours, theirs, atol=1e-6, err_msg=f"d={delay} H={horizon} T={length}")


def test_accepts_lerobot_enum_and_string():
    expected = prefix_weights(PrefixSchedule.EXP, 2, 8, 10)
    np.testing.assert_array_equal(prefix_weights(RTCAttentionSchedule.EXP, 2, 8, 10), expected)
    np.testing.assert_array_equal(prefix_weights("EXP", 2, 8, 10), expected)


def test_cached_and_read_only():
    first = prefix_weights(PrefixSchedule.LINEAR, 3, 9, 20)
    assert prefix_weights(PrefixSchedule.LINEAR, 3, 9, 20) is first
    with pytest.raises(ValueError):
        first[0] = 0.5


def test_bad_arguments_are_errors():
    with pytest.raises(ValueError, match="inference_delay"):
        prefix_weights(PrefixSchedule.LINEAR, -1, 5, 10)
    with pytest.raises(ValueError, match="execution_horizon"):
        prefix_weights(PrefixSchedule.LINEAR, 1, 2.5, 10)
    with pytest.raises(ValueError):
        prefix_weights("SIGMOID", 1, 5, 10)
