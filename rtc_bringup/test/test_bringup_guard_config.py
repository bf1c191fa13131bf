"""The command guard's SO-100 values in the simulated arm's parameter file are the arm model's, for
its calibration, in the executor's joint order; the real arm's file leaves them to the graph, which
computes them from the arm's calibration (test_bringup_real_arm.py)."""
from __future__ import annotations

from pathlib import Path

from rtc_bringup.graph import load_parameter_file, node_parameters
from so100_driver.arm import JOINT_NAMES, Calibration, default_calibration_path
from so100_driver.safety import executor_guard_parameters

PKG = Path(__file__).resolve().parents[1]


def test_guard_parameters_are_the_arm_models():
    executor = node_parameters(load_parameter_file(PKG / "config" / "so100_sim.yaml"), "/rtc_executor")
    expected = executor_guard_parameters(Calibration.load(default_calibration_path()))
    assert expected.pop("joint_names") == list(executor.get("joint_names", JOINT_NAMES))
    for name, value in expected.items():
        assert executor[name] == value, name
    assert executor["max_chunk_length"] == 50


def test_the_real_arms_file_leaves_the_envelope_to_the_calibration():
    executor = node_parameters(load_parameter_file(PKG / "config" / "so100_rtc.yaml"), "/rtc_executor")
    envelope = set(executor_guard_parameters(Calibration.load(default_calibration_path()))) - {"joint_names"}
    assert envelope & set(executor) == set()
    assert executor["max_chunk_length"] == 50
