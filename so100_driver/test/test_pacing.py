"""WallClockPacing: what the twin node reports about physics keeping pace with the wall clock."""

from __future__ import annotations

import time

import pytest

from so100_driver.pacing import WallClockPacing


def test_a_world_keeping_pace_reports_its_real_time_factor_and_lag() -> None:
    pacing = WallClockPacing(max_catch_up_s=0.1)
    for _ in range(5):
        dt = pacing.due(0.01)
        assert dt == 0.01
        pacing.advanced(dt, 0.002)
    time.sleep(0.05)
    report = pacing.report()
    assert 0.0 < report.real_time_factor <= 1.0  # 0.05 s simulated in a period of at least 0.05 s
    assert report.physics_speed == pytest.approx(5.0)
    assert report.max_lag_s == pytest.approx(0.002) and report.dropped_s == 0.0
    assert pacing.report().max_lag_s == 0.0  # a new period


def test_a_world_that_falls_behind_drops_time_and_reports_the_lag() -> None:
    pacing = WallClockPacing(max_catch_up_s=0.1)
    dt = pacing.due(0.25)  # a stall: more wall time than one call may simulate
    assert dt == 0.1
    pacing.advanced(dt, 0.03)
    report = pacing.report()
    assert report.dropped_s == pytest.approx(0.15)
    assert report.max_lag_s == pytest.approx(0.18)  # computing + dropped: more than a 30 Hz control tick
