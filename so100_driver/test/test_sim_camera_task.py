"""sim_camera in its own process over DDS: the task's progress in /diagnostics and retargeting.

The test plays the arm (joint states by name): it moves the tool tip to the target, holds it there,
and sees the camera show the next target (`scene_for_seed(seed, k)`) `retarget_after_s` later, count
targets shown and reached, and count a move across the obstacle as a contact. Without
`retarget_after_s` the target never changes.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import Image, JointState  # noqa: E402

from so100_driver.arm import JOINT_NAMES  # noqa: E402
from so100_driver.sim import inverse_kinematics_tip_down, scene_for_seed  # noqa: E402
from so100_driver.sim.scene import TIP_HEIGHT  # noqa: E402
from so100_driver.sim_camera_node import IMAGE_TOPIC  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]
SEED = 3


def pose_at(xy: tuple[float, float]) -> list[float]:
    """Joint angles that put the tool tip above the table at `xy`."""
    return [float(v) for v in inverse_kinematics_tip_down(np.array([xy[0], xy[1], TIP_HEIGHT]))]


class Arm:
    """The test's node: publishes joint states and, between them, takes in the camera's task
    diagnostics and images (callbacks run only inside `hold`)."""

    def __init__(self) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("sim_camera_test_arm", context=self.context)
        self.task: dict[str, str] = {}
        self.images = 0
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.node.create_subscription(Image, IMAGE_TOPIC, self._on_image, qos_profile_sensor_data)
        self.states = self.node.create_publisher(JointState, "joint_states", qos_profile_sensor_data)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name == "sim_camera: task":
                self.task = {kv.key: kv.value for kv in status.values}

    def _on_image(self, _msg: Image) -> None:
        self.images += 1

    def value(self, key: str) -> str:
        return self.task.get(key, "")

    def hold(self, positions: list[float], condition: Callable[[], bool], timeout: float) -> bool:
        """Publish `positions` about every 10 ms (reversed joint order: matched by name) until `condition`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.states.publish(JointState(name=JOINT_NAMES[::-1], position=positions[::-1]))
            self.executor.spin_once(timeout_sec=0.01)
            if condition():
                return True
        return False

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


@pytest.fixture
def arm():
    node = Arm()
    try:
        yield node
    finally:
        node.close()


def camera(processes, *params: str):
    args = [sys.executable, "-m", "so100_driver.sim_camera_node", "--ros-args", "-p", f"seed:={SEED}"]
    for param in params:
        args += ["-p", param]
    return processes.start(args, name="camera")


def test_a_reached_target_is_followed_by_the_next_one(processes, arm):
    proc = camera(processes, "retarget_after_s:=0.5")
    for k in range(3):
        target = scene_for_seed(SEED, k).target
        assert arm.hold(pose_at(target), lambda k=k: arm.value("targets_reached") == str(k + 1), 30.0), \
            (k, arm.task, processes.log(proc))
        # Holding at the reached target: the next one appears half a second later.
        assert arm.hold(pose_at(target), lambda k=k: arm.value("targets_shown") == str(k + 2), 10.0), \
            (k, arm.task, processes.log(proc))
        assert f"new target {k + 1} at ({scene_for_seed(SEED, k + 1).target[0]:.3f}" in processes.log(proc)
    assert arm.value("obstacle_contacts") == "0"
    assert arm.images > 0


def test_without_retargeting_the_target_stays_and_contacts_are_counted(processes, arm):
    proc = camera(processes)
    scene = scene_for_seed(SEED)
    assert arm.hold(pose_at(scene.target), lambda: arm.value("targets_reached") == "1", 30.0), \
        (arm.task, processes.log(proc))
    cx, cy = scene.obstacle_center
    # Across the obstacle's footprint, one side to the other, frame by frame (at most 30 frames/s).
    for y in (cy + 0.05, cy - 0.05, cy + 0.05):
        arm.hold(pose_at((cx, y)), lambda: False, 0.3)
    assert arm.hold(pose_at((cx, cy + 0.05)), lambda: int(arm.value("obstacle_contacts") or 0) >= 2, 5.0), arm.task
    assert arm.value("targets_shown") == "1" and "new target" not in processes.log(proc)


def test_a_negative_retarget_time_is_refused_in_one_line(processes):
    proc = camera(processes, "retarget_after_s:=-1.0")
    assert proc.wait(30) == 2
    log = processes.log(proc)
    assert "parameter retarget_after_s" in log and "Traceback" not in log
