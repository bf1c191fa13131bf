"""The command guard's SO-100 values in the parameter files are the arm model's, for the simulated
arm's calibration, in the executor's joint order."""
from __future__ import annotations

from pathlib import Path

import pytest

from rtc_bringup.graph import load_parameter_file
from so100_driver.arm import JOINT_NAMES, Calibration, default_calibration_path
from so100_driver.safety import executor_guard_parameters

PKG = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("config", ["so100_sim.yaml", "so100_rtc.yaml"])
def test_guard_parameters_are_the_arm_models(config):
    executor = load_parameter_file(PKG / "config" / config)["rtc_executor"]
    expected = executor_guard_parameters(Calibration.load(default_calibration_path()))
    assert expected.pop("joint_names") == list(executor.get("joint_names", JOINT_NAMES))
    for name, value in expected.items():
        assert executor[name] == value, name
    assert executor["max_chunk_length"] == 50
