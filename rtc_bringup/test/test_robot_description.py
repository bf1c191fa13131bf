"""The SO-100 URDF speaks the driver's radians: joint names, limits at the calibrated range, and
ros2_control offsets that make feetech_ros2_driver's radians ours (expanded with the real xacro)."""
from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from so100_driver.arm import JOINT_NAMES, MOTOR_IDS, RADIANS_PER_TICK, Calibration, default_calibration_path

from rtc_bringup.robot_description import robot_description, xacro_arguments

XACRO = Path(__file__).resolve().parents[1] / "urdf" / "so100.urdf.xacro"


@pytest.fixture
def arm_calibration(tmp_path) -> Calibration:
    """A calibration unlike the simulated arm's, with an odd-length range (half-tick midpoint)."""
    data = Calibration.load(default_calibration_path()).to_dict()
    data["elbow_flex"].update(range_min=1000, range_max=2999)
    data["shoulder_pan"].update(range_min=600, range_max=3500)
    path = tmp_path / "arm.json"
    path.write_text(json.dumps(data))
    return Calibration.load(path)


def _joints(urdf: str) -> dict[str, ET.Element]:
    return {j.get("name"): j for j in ET.fromstring(urdf).findall("joint")}


def test_joints_are_the_drivers_with_the_calibrated_range_as_limits(arm_calibration):
    joints = _joints(robot_description(XACRO, arm_calibration))
    assert list(joints) == list(JOINT_NAMES)
    for name, joint in joints.items():
        assert joint.get("type") == "revolute"
        limit = joint.find("limit")
        lower, upper = arm_calibration.limits_radians(name)
        assert float(limit.get("lower")) == pytest.approx(lower, abs=1e-6)
        assert float(limit.get("upper")) == pytest.approx(upper, abs=1e-6)


def test_ros2_control_offsets_give_the_drivers_radians(arm_calibration):
    root = ET.fromstring(robot_description(XACRO, arm_calibration, ros2_control=True, usb_port="/dev/ttyUSB3"))
    hardware = root.find("ros2_control/hardware")
    assert hardware.find("plugin").text == "feetech_ros2_driver/FeetechHardwareInterface"
    assert hardware.find("param[@name='usb_port']").text == "/dev/ttyUSB3"
    servos = root.findall("ros2_control/joint")
    assert [s.get("name") for s in servos] == list(JOINT_NAMES)
    for servo in servos:
        name = servo.get("name")
        params = {p.get("name"): int(p.text) for p in servo.findall("param")}
        assert params["id"] == MOTOR_IDS[name]
        motor = arm_calibration.motors[name]
        for ticks in (motor.range_min, motor.range_max, 2048):
            theirs = (ticks - params["offset"]) * RADIANS_PER_TICK  # feetech_ros2_driver's reading
            assert theirs == pytest.approx(arm_calibration.ticks_to_radians(name, ticks), abs=RADIANS_PER_TICK / 2 + 1e-9)


def test_prefix_names_links_not_joints(arm_calibration):
    root = ET.fromstring(robot_description(XACRO, arm_calibration, prefix="arm1_"))
    assert all(link.get("name").startswith("arm1_") for link in root.findall("link"))
    assert [j.get("name") for j in root.findall("joint")] == list(JOINT_NAMES)
    assert root.find("ros2_control") is None


def test_the_files_defaults_are_the_simulated_arms_calibration():
    """The xacro alone (e.g. `xacro so100.urdf.xacro`) describes the simulated arm."""
    defaults = {a.get("name"): a.get("default") for a in ET.parse(XACRO).getroot()
                .findall("{http://www.ros.org/wiki/xacro}arg")}
    assert xacro_arguments(Calibration.load(default_calibration_path())).items() <= defaults.items()


def test_zero_is_inside_every_range(arm_calibration):
    for joint in _joints(robot_description(XACRO, arm_calibration)).values():
        limit = joint.find("limit")
        assert float(limit.get("lower")) < 0 < float(limit.get("upper")) <= math.pi
