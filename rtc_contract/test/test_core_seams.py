"""core.seams: the one seam-ratio definition of the evaluation and the report."""
import numpy as np
import pytest

from rtc_contract.seams import seam_and_inner_steps, seam_ratio


def test_steps_split_at_chunk_changes_on_the_largest_joint():
    actions = np.array([[0.0, 0.0], [0.01, 0.0], [0.02, -0.05], [0.03, -0.05], [0.03, -0.04]])
    seams, inner = seam_and_inner_steps(actions, [1, 1, 2, 2, 2])
    np.testing.assert_allclose(seams, [0.05])
    np.testing.assert_allclose(inner, [0.01, 0.01, 0.01])


def test_ratio_is_largest_seam_over_p99_inner_and_nan_without_inner_steps():
    assert seam_ratio(0.05, np.full(100, 0.01)) == pytest.approx(5.0)
    assert np.isnan(seam_ratio(0.05, np.empty(0)))


def test_too_short_and_mismatched_inputs():
    seams, inner = seam_and_inner_steps(np.zeros((1, 6)), [3])
    assert seams.size == 0 and inner.size == 0
    with pytest.raises(ValueError, match="3 actions but 2 chunk ids"):
        seam_and_inner_steps(np.zeros((3, 6)), [1, 2])
