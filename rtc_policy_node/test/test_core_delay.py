"""DelayEstimator: windowed max or percentile, warm-up excluded, margin added, in ticks."""

from __future__ import annotations

import pytest

from rtc_policy_node.core.delay import DelayEstimator

PERIOD = 1 / 30


def test_windowed_max_excludes_warmup_and_adds_margin():
    estimator = DelayEstimator(PERIOD, window=3, warmup=1, margin_ticks=1)
    assert estimator.estimate() == 1
    estimator.add(2.0)  # compilation: excluded once real samples exist
    assert estimator.estimate() == 60 + 1
    for latency in (0.10, 0.20, 0.05):
        estimator.add(latency)
    assert estimator.estimate() == 6 + 1  # ceil(0.20 * 30) + 1
    estimator.add(0.04)
    estimator.add(0.04)
    assert estimator.estimate() == 2 + 1  # 0.20 left the window of 3


def test_percentile_uses_a_measured_sample():
    estimator = DelayEstimator(PERIOD, window=100, percentile=50, warmup=0)
    for ticks in (1, 2, 3, 4, 10):
        estimator.add_ticks(ticks)
    assert estimator.estimate() == 3
    estimator_p100 = DelayEstimator(PERIOD, percentile=100, warmup=0)
    estimator_p100.add(0.101)
    assert estimator_p100.estimate() == 4


def test_exact_multiples_do_not_round_up():
    estimator = DelayEstimator(PERIOD, warmup=0)
    estimator.add_ticks(7)
    assert estimator.estimate() == 7


@pytest.mark.parametrize(
    "kwargs",
    [
        {"control_period_s": 0.0},
        {"control_period_s": PERIOD, "window": 0},
        {"control_period_s": PERIOD, "percentile": 0},
        {"control_period_s": PERIOD, "percentile": 101},
        {"control_period_s": PERIOD, "warmup": -1},
        {"control_period_s": PERIOD, "margin_ticks": 1.5},
    ],
)
def test_bad_configuration_is_an_error(kwargs):
    with pytest.raises(ValueError):
        DelayEstimator(**kwargs)


def test_bad_samples_are_errors():
    estimator = DelayEstimator(PERIOD)
    for latency in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="latency_s"):
            estimator.add(latency)
    with pytest.raises(ValueError, match="ticks"):
        estimator.add_ticks(-1)
