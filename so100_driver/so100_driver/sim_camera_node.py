"""Simulated camera: renders the reaching task's top-down view from /joint_states.

Parameters (defaults): rate_hz (30.0), seed (0: the scene, so100_driver.sim.scene_for_seed),
size (96, pixels), frame_id ("sim_camera").
Topics: subscribes /joint_states (sensor_msgs/JointState, radians, matched by name); publishes
/camera/front/image_raw (sensor_msgs/Image, rgb8, sensor-data QoS) stamped with the joint state's
stamp, and /diagnostics at 1 Hz with the task's progress (tip distance to the target, when the
target was first reached). No image is published before the first joint state.

Frames: a frame is due every 1/rate_hz s (a fixed grid); the first joint state to arrive after a
due time is rendered and published at once, so an image leaves the camera a render's time after
the state it shows, as a real camera's frame leaves it right after its exposure. (Rendering on a
timer of its own made each image wait for the timer, half a frame period on average, with a state
up to one driver period old: a wait that obs -> chunk latency paid on every chunk, docs/profiling.md.)
No joint states, no frames: the simulated scene only moves with the arm.
"""
from __future__ import annotations

import time

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image, JointState

from so100_driver.arm import JOINT_NAMES
from so100_driver.sim import at_target, render, scene_for_seed, tool_tip

IMAGE_TOPIC = "/camera/front/image_raw"


class SimCameraNode(Node):
    def __init__(self) -> None:
        super().__init__("sim_camera")
        rate_hz = self.declare_parameter("rate_hz", 30.0).value
        self.seed = self.declare_parameter("seed", 0).value
        self.size = self.declare_parameter("size", 96).value
        self.frame_id = self.declare_parameter("frame_id", "sim_camera").value
        self.scene = scene_for_seed(self.seed)
        self.positions: np.ndarray | None = None
        self.stamp = None
        self.started = time.monotonic()
        self.reached_after_s: float | None = None
        self.distance = float("nan")
        self.period = 1.0 / rate_hz
        self.next_frame_at = 0.0  # monotonic time the next frame is due
        self.create_subscription(JointState, "/joint_states", self._on_joint_state, qos_profile_sensor_data)
        self.image_pub = self.create_publisher(Image, IMAGE_TOPIC, qos_profile_sensor_data)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(1.0, self._publish_diagnostics)

    def _on_joint_state(self, msg: JointState) -> None:
        index = {name: i for i, name in enumerate(msg.name)}
        if all(j in index for j in JOINT_NAMES):
            self.positions = np.array([msg.position[index[j]] for j in JOINT_NAMES])
            self.stamp = msg.header.stamp
            now = time.monotonic()
            if now >= self.next_frame_at:
                self.next_frame_at += self.period
                if self.next_frame_at <= now:  # a period or more late: start a new grid, no burst
                    self.next_frame_at = now + self.period
                self._publish_image()

    def _publish_image(self) -> None:
        pixels = render(self.positions, self.scene, self.size)
        tip = tool_tip(self.positions)
        self.distance = float(np.linalg.norm(tip[:2] - np.asarray(self.scene.target)))
        if self.reached_after_s is None and at_target(tip, self.scene):
            self.reached_after_s = time.monotonic() - self.started
            self.get_logger().info(f"target reached after {self.reached_after_s:.1f} s")
        msg = Image(height=pixels.shape[0], width=pixels.shape[1], encoding="rgb8", is_bigendian=0,
                    step=pixels.shape[1] * 3, data=pixels.tobytes())
        msg.header.stamp = self.stamp
        msg.header.frame_id = self.frame_id
        self.image_pub.publish(msg)

    def _publish_diagnostics(self) -> None:
        reached = self.reached_after_s is not None
        status = DiagnosticStatus(
            level=DiagnosticStatus.OK if self.positions is not None else DiagnosticStatus.WARN,
            name="sim_camera: task", hardware_id="sim",
            message=("target reached" if reached else "reaching") if self.positions is not None
            else "waiting for /joint_states")
        values = {"seed": str(self.seed), "tip_to_target_m": f"{self.distance:.4f}",
                  "target_reached_after_s": f"{self.reached_after_s:.2f}" if reached else ""}
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(array)


def main(args: list[str] | None = None) -> None:
    rclpy.init(args=args)
    node = None
    try:
        node = SimCameraNode()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
