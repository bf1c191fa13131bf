"""Simulated camera: renders the reaching task's top-down view from /joint_states.

Parameters: `PARAMETERS` below (docs/architecture.md, "Simulation", shows the same table).
Topics (relative): subscribes joint_states (sensor_msgs/JointState, radians, matched by name); publishes
camera/front/image_raw (sensor_msgs/Image, rgb8, sensor-data QoS) stamped with the joint state's
stamp, and /diagnostics at 1 Hz with the task's progress (tip distance to the target, when the
first target was reached, targets shown and reached, obstacle contacts). No image is published
before the first joint state.

Retargeting: with `retarget_after_s` > 0, once the tool tip has reached the target and that many
seconds have passed, the scene gets its next target (`scene_for_seed(seed, k)`), so a long run keeps
the arm moving; a target never reached stays. Obstacle contacts count the frames whose tip moved
across the obstacle's footprint since the frame before (as `rtc_sim_eval` counts a collision).

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
from rclpy.node import Node
from rclpy.experimental import EventsExecutor
from rclpy.qos import qos_profile_sensor_data
from rtc_runtime.diagnostics import Diagnostics, Level, Report
from rtc_runtime.node_main import run_node
from rtc_runtime.parameters import ParameterSpec, declare
from rtc_runtime.profiling import record_span
from rtc_runtime.tracing import tracer
from sensor_msgs.msg import Image, JointState

from so100_driver.arm import JOINT_NAMES
from so100_driver.camera_frames import FrameGrid, image_message
from so100_driver.sim import at_target, render, scene_for_seed, segment_hits_obstacle, tool_tip
from so100_driver.topics import IMAGE_TOPIC, JOINT_STATES_TOPIC

PARAMETERS = (
    ParameterSpec("rate_hz", 30.0, "images per second", unit="Hz", minimum=0.0, above_minimum=True, maximum=1000.0),
    ParameterSpec("seed", 0, "the scene (so100_driver.sim.scene_for_seed); the driver's sim_task_seed starts the "
                  "arm at its start pose"),
    ParameterSpec("size", 96, "image width and height", unit="pixels", minimum=8, maximum=4096),
    ParameterSpec("frame_id", "sim_camera", "frame_id of the images"),
    ParameterSpec("retarget_after_s", 0.0, "time the tool tip holds at a reached target before the next target "
                  "appears (scene_for_seed(seed, k)); 0: the target never changes", unit="s", minimum=0.0,
                  maximum=3600.0),
)


class SimCameraNode(Node):
    def __init__(self) -> None:
        super().__init__("sim_camera")
        p = declare(self, PARAMETERS)
        rate_hz, self.seed, self.size, self.frame_id = p["rate_hz"], p["seed"], p["size"], p["frame_id"]
        self.retarget_after_s = p["retarget_after_s"]
        self.fatal_error = ""
        self.scene = scene_for_seed(self.seed)
        self.target_index = 0  # targets shown: target_index + 1
        self.targets_reached = 0
        self.current_reached_at: float | None = None  # monotonic time the current target was reached
        self.obstacle_contacts = 0
        self.last_tip: np.ndarray | None = None
        self.positions: np.ndarray | None = None
        self.stamp = None
        self.started = time.monotonic()
        self.reached_after_s: float | None = None
        self.distance = float("nan")
        self.frames = FrameGrid(1.0 / rate_hz)
        self.create_subscription(JointState, JOINT_STATES_TOPIC, self._on_joint_state, qos_profile_sensor_data)
        self.image_pub = self.create_publisher(Image, IMAGE_TOPIC, qos_profile_sensor_data)
        Diagnostics(self, hardware_id=f"sim scene {self.seed}").add("task", self._task_report)
        self.tracer = tracer(self.get_name())  # live with RTC_TRACE=1: a sink of every record_span

    def start(self) -> None:
        """Everything runs from the joint-state subscription and the diagnostics timer."""

    def stop(self) -> None:
        """Nothing of its own to stop."""

    def _on_joint_state(self, msg: JointState) -> None:
        index = {name: i for i, name in enumerate(msg.name)}
        if all(j in index for j in JOINT_NAMES):
            self.positions = np.array([msg.position[index[j]] for j in JOINT_NAMES])
            self.stamp = msg.header.stamp
            if self.frames.due(time.monotonic()):
                self._publish_image()

    def _publish_image(self) -> None:
        started_ns = time.monotonic_ns()
        self._update_task(tool_tip(self.positions), time.monotonic())
        pixels = render(self.positions, self.scene, self.size)
        self.image_pub.publish(image_message(pixels, self.stamp, self.frame_id))
        record_span("camera.render_publish", started_ns, time.monotonic_ns())

    def _update_task(self, tip: np.ndarray, now: float) -> None:
        """Progress of the task for the frame about to be rendered: contacts, reached, next target."""
        if self.last_tip is not None and segment_hits_obstacle(self.last_tip, tip, self.scene):
            self.obstacle_contacts += 1
        self.last_tip = tip
        self.distance = float(np.linalg.norm(tip[:2] - np.asarray(self.scene.target)))
        if self.current_reached_at is None and at_target(tip, self.scene):
            self.current_reached_at = now
            self.targets_reached += 1
            if self.reached_after_s is None:
                self.reached_after_s = now - self.started
            self.get_logger().info(f"target {self.target_index} reached after {now - self.started:.1f} s")
        if (self.retarget_after_s > 0.0 and self.current_reached_at is not None
                and now - self.current_reached_at >= self.retarget_after_s):
            self.target_index += 1
            self.scene = scene_for_seed(self.seed, self.target_index)
            self.current_reached_at = None
            x, y = self.scene.target
            self.get_logger().info(f"new target {self.target_index} at ({x:.3f}, {y:.3f}) m")

    def _task_report(self) -> Report:
        reached = self.reached_after_s is not None
        if self.positions is None:
            report = Report(Level.WARN, "waiting for /joint_states")
        else:
            report = Report(Level.OK, "target reached" if self.current_reached_at is not None else "reaching")
        report.values = {"seed": self.seed, "tip_to_target_m": f"{self.distance:.4f}",
                         "target_reached_after_s": f"{self.reached_after_s:.2f}" if reached else "",
                         "targets_shown": self.target_index + 1, "targets_reached": self.targets_reached,
                         "obstacle_contacts": self.obstacle_contacts}
        return report


def main(args: list[str] | None = None) -> None:
    # EventsExecutor: a joint state reaches the renderer without a wait set rebuilt in Python per wake
    run_node("sim_camera", SimCameraNode, args=args, executor=EventsExecutor)


if __name__ == "__main__":
    main()
