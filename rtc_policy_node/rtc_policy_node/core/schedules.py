"""Prefix schedules: how strongly each row of a new chunk is pulled toward the leftover.

Semantics are LeRobot's `RTCProcessor.get_prefix_weights` (start = inference delay d,
end = execution horizon H, total = chunk length T): rows [0, min(d, H)) get weight 1 (they
execute before the new chunk arrives), rows from H on get 0, and the rows in between follow
the schedule. numpy only, so that tools without torch can plot or inspect schedules.
"""

from __future__ import annotations

import math
from enum import Enum
from functools import lru_cache

import numpy as np


class PrefixSchedule(str, Enum):
    """Shape of the soft prefix mask; values match LeRobot's `RTCAttentionSchedule`."""

    ZEROS = "ZEROS"
    ONES = "ONES"
    LINEAR = "LINEAR"
    EXP = "EXP"


def prefix_weights(
    schedule: PrefixSchedule | str, inference_delay: int, execution_horizon: int, chunk_length: int
) -> np.ndarray:
    """Weights (chunk_length,) float32, read-only and cached per (schedule, d, H, T).

    `schedule` may be a PrefixSchedule, LeRobot's RTCAttentionSchedule or its string value.
    """
    schedule = PrefixSchedule(getattr(schedule, "value", schedule))
    for name, value in (
        ("inference_delay", inference_delay),
        ("execution_horizon", execution_horizon),
        ("chunk_length", chunk_length),
    ):
        if int(value) != value or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return _cached_weights(schedule, int(inference_delay), int(execution_horizon), int(chunk_length))


@lru_cache(maxsize=4096)
def _cached_weights(schedule: PrefixSchedule, delay: int, horizon: int, length: int) -> np.ndarray:
    start = min(delay, horizon)
    if schedule is PrefixSchedule.ZEROS:
        weights = np.zeros(length)
        weights[:start] = 1.0
    elif schedule is PrefixSchedule.ONES:
        weights = np.ones(length)
        weights[horizon:] = 0.0
    else:
        ramp = _ramp(start, horizon, length)
        if schedule is PrefixSchedule.EXP:
            ramp = ramp * np.expm1(ramp) / (math.e - 1.0)
        weights = np.concatenate(
            [np.ones(min(start, length)), ramp, np.zeros(max(length - horizon, 0))]
        )
    weights = weights.astype(np.float32)
    assert weights.shape == (length,)
    weights.flags.writeable = False
    return weights


def _ramp(start: int, end: int, length: int) -> np.ndarray:
    """Values strictly between 1 and 0, one per row in [start, min(end, length))."""
    steps = min(end, length) - start
    if end <= start or steps <= 0:
        return np.zeros(0)
    return np.linspace(1.0, 0.0, steps + 2)[1:-1]
