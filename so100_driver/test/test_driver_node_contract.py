"""driver_node's documented contract (module docstring) is the one the code declares."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("rclpy")
from so100_driver import driver_node  # noqa: E402

pytestmark = pytest.mark.ros


def _documented_parameters() -> dict[str, str]:
    section = driver_node.__doc__.split("Parameters (default) [unit]:\n", 1)[1].split("\n\n", 1)[0]
    return dict(re.findall(r"^  (\w+) \((.*?)\)", section, flags=re.MULTILINE))


def test_every_parameter_is_documented_with_its_default() -> None:
    documented = _documented_parameters()
    assert list(documented) == list(driver_node.PARAMETER_DEFAULTS)
    for name, default in driver_node.PARAMETER_DEFAULTS.items():
        shown = f'"{default}"' if isinstance(default, str) else repr(default).replace("_", "")
        assert documented[name] == shown, name


def test_every_topic_is_documented() -> None:
    topics = re.findall(r"(?:publishes|subscribes)\s+(/\S+) \((\S+),", driver_node.__doc__)
    assert dict(topics) == {
        driver_node.JOINT_STATES_TOPIC: "sensor_msgs/JointState",
        driver_node.DIAGNOSTICS_TOPIC: "diagnostic_msgs/DiagnosticArray",
        driver_node.COMMAND_TOPIC: "sensor_msgs/JointState",
        driver_node.COMMAND_ARRAY_TOPIC: "std_msgs/Float64MultiArray",
    }
