"""Publishes the SO-100 URDF on `robot_description`, as robot_state_publisher does.

Parameters: `PARAMETERS` below (docs/bringup.md shows the same table).

Topic (relative, remappable): publishes `robot_description` (std_msgs/String, reliable, transient
local, depth 1) once; late subscribers (RViz, controller_manager) get it too. A bad calibration file
is one line on stderr and exit code 2.
"""
from __future__ import annotations

import sys

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rtc_runtime.parameters import ParameterError, ParameterSpec, declare
from so100_driver.arm import Calibration, CalibrationError, default_calibration_path
from std_msgs.msg import String

from rtc_bringup.robot_description import ROBOT_DESCRIPTION_TOPIC, installed_xacro, robot_description

DESCRIPTION_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
PARAMETERS = (
    ParameterSpec("calibration_file", "", "lerobot-calibrate JSON (the driver's); empty: the simulated arm's"),
    ParameterSpec("prefix", "", "before every link name, for several arms in one TF tree"),
    ParameterSpec("ros2_control", False, "add the feetech_ros2_driver <ros2_control> block"),
    ParameterSpec("usb_port", "/dev/ttyACM0", "that block's serial port"),
)


class DescriptionNode(Node):
    def __init__(self) -> None:
        super().__init__("robot_description")
        p = declare(self, PARAMETERS)
        calibration_file = p["calibration_file"] or str(default_calibration_path())
        urdf = robot_description(installed_xacro(), Calibration.load(calibration_file), p["prefix"],
                                 p["ros2_control"], p["usb_port"])
        self.create_publisher(String, ROBOT_DESCRIPTION_TOPIC, DESCRIPTION_QOS).publish(String(data=urdf))
        self.get_logger().info(f"robot_description published ({len(urdf)} bytes, calibration {calibration_file})")


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    try:
        node = DescriptionNode()
    except (CalibrationError, ParameterError) as exc:
        print(f"robot_description: {exc}", file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
