"""The SO-100 URDF (urdf/so100.urdf.xacro) expanded for one arm's calibration.

The xacro's joint limits and ros2_control offsets are arguments; `xacro_arguments` computes them
from the lerobot-calibrate JSON the driver uses, so the URDF's radians are the driver's: zero at the
calibrated midpoint, limits at the calibrated range. No rclpy import: the node
(`description_node`) publishes what `robot_description` returns, and

    python -m rtc_bringup.robot_description --calibration my_arm.json [--ros2-control --usb-port /dev/ttyACM0]

prints it (e.g. for a ros2_control_node).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import xacro
from ament_index_python.packages import get_package_share_directory
from so100_driver.arm import JOINT_NAMES, Calibration, CalibrationError, default_calibration_path

ROBOT_DESCRIPTION_TOPIC = "robot_description"  # relative; std_msgs/String, transient local


def xacro_arguments(calibration: Calibration) -> dict[str, str]:
    """Per joint: `<joint>_lower`/`_upper` (radians) and `<joint>_offset` (the midpoint in whole
    ticks, for feetech_ros2_driver, which reads radians as (ticks - offset) * 2 pi / 4096)."""
    arguments = {}
    for joint in JOINT_NAMES:
        lower, upper = calibration.limits_radians(joint)
        arguments[f"{joint}_lower"] = f"{lower:.6f}"
        arguments[f"{joint}_upper"] = f"{upper:.6f}"
        arguments[f"{joint}_offset"] = str(round(calibration.motors[joint].midpoint))
    return arguments


def installed_xacro() -> Path:
    return Path(get_package_share_directory("rtc_bringup")) / "urdf" / "so100.urdf.xacro"


def robot_description(xacro_file: Path, calibration: Calibration, prefix: str = "",
                      ros2_control: bool = False, usb_port: str = "/dev/ttyACM0") -> str:
    """The URDF text for this calibration; `prefix` goes before every link name (two arms in one TF
    tree), `ros2_control` adds the feetech_ros2_driver block on `usb_port`."""
    mappings = {**xacro_arguments(calibration), "prefix": prefix,
                "ros2_control": "true" if ros2_control else "false", "usb_port": usb_port}
    return xacro.process_file(str(xacro_file), mappings=mappings).toprettyxml(indent="  ")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print the SO-100 URDF for a calibration.")
    parser.add_argument("--calibration", type=Path, help="lerobot-calibrate JSON; default: the simulated arm's")
    parser.add_argument("--prefix", default="", help="before every link name")
    parser.add_argument("--ros2-control", action="store_true", help="add the feetech_ros2_driver block")
    parser.add_argument("--usb-port", default="/dev/ttyACM0", help="serial port for that block")
    args = parser.parse_args(argv)
    try:
        calibration = Calibration.load(args.calibration or default_calibration_path())
    except CalibrationError as exc:
        print(f"robot_description: {exc}", file=sys.stderr)
        return 2
    print(robot_description(installed_xacro(), calibration, args.prefix, args.ros2_control, args.usb_port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
