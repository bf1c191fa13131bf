"""HoldAgreement: the hold position only from several consecutive agreeing samples."""
from __future__ import annotations

import numpy as np
import pytest

from rtc_executor.core.hold_agreement import HoldAgreement

REAL = np.array([0.1, -0.2, 0.3, 0.0, 1.0, 0.5])


def test_agrees_after_n_samples_within_tolerance_on_the_first():
    agreement = HoldAgreement(3, 0.01)
    assert agreement.offer(REAL) is None
    assert agreement.offer(REAL + 0.005) is None
    assert np.array_equal(agreement.offer(REAL - 0.009), REAL)


def test_a_far_sample_an_incomplete_one_or_a_non_finite_one_starts_the_count_again():
    agreement = HoldAgreement(3, 0.01)
    far = REAL + np.array([0, 0, 0, 0, 2.0, 0])  # a spoofed pose among the real ones
    for sample in (REAL, REAL, far, REAL, None, REAL, REAL, np.full(6, np.nan), REAL, REAL):
        assert agreement.offer(sample) is None
    assert agreement.restarts == 4
    assert np.array_equal(agreement.offer(REAL), REAL)


def test_one_sample_is_the_old_behaviour_and_bad_settings_are_refused():
    assert np.array_equal(HoldAgreement(1, 0.0).offer(REAL), REAL)
    with pytest.raises(ValueError):
        HoldAgreement(0, 0.01)
    with pytest.raises(ValueError):
        HoldAgreement(3, float("nan"))
