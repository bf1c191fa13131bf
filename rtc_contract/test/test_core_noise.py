"""The chunk noise is a pure function of (seed, chunk id): what makes a recorded run replayable."""
from __future__ import annotations

import numpy as np
import pytest

from rtc_contract.noise import chunk_noise


def test_the_same_seed_and_chunk_give_the_same_noise():
    a, b = chunk_noise(3, 7, 50, 6), chunk_noise(3, 7, 50, 6)
    assert a.dtype == np.float32 and a.shape == (50, 6)
    assert np.array_equal(a, b)


def test_each_chunk_and_each_seed_gets_noise_of_its_own():
    base = chunk_noise(0, 1, 50, 6)
    assert not np.allclose(base, chunk_noise(0, 2, 50, 6))
    assert not np.allclose(base, chunk_noise(1, 1, 50, 6))
    assert abs(float(base.mean())) < 0.2 and 0.8 < float(base.std()) < 1.2  # standard normal


def test_a_negative_seed_is_refused():
    with pytest.raises(ValueError, match="seed"):
        chunk_noise(-1, 1, 50, 6)
