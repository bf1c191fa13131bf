"""System tests of failures: the camera stops, and inference raises. The graph runs from the runner
(separate processes, real DDS); this test process plays the camera and watches what the nodes report.
"""
from __future__ import annotations

import sys
import time

import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rtc_msgs.msg import ActionChunk, ExecutorStatus
from sensor_msgs.msg import Image

pytestmark = [pytest.mark.ros, pytest.mark.slow]

CAMERA = "/test/camera/image_raw"


class Watcher:
    """The test's own node: publishes camera images, keeps what the graph reports."""

    def __init__(self) -> None:
        self.node = rclpy.create_node("system_test_watcher")
        self.camera = self.node.create_publisher(Image, CAMERA, qos_profile_sensor_data)
        self.status: ExecutorStatus | None = None
        self.policy_diag: DiagnosticStatus | None = None
        self.chunks = 0
        self.node.create_subscription(ExecutorStatus, "/rtc/executor_status", self._on_status,
                                      QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE))
        self.node.create_subscription(ActionChunk, "/rtc/action_chunk", self._on_chunk,
                                      QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, 50)

    def _on_status(self, msg):
        self.status = msg

    def _on_chunk(self, _msg):
        self.chunks += 1

    def _on_diag(self, msg):
        for status in msg.status:
            if status.name.startswith("rtc_policy"):
                self.policy_diag = status

    def publish_image(self, encoding: str = "rgb8") -> None:
        pixels = np.full((96, 96, 3), 200, dtype=np.uint8)
        channels = 3 if encoding == "rgb8" else 2
        msg = Image(height=96, width=96, encoding=encoding, step=96 * channels,
                    data=pixels.tobytes()[: 96 * 96 * channels])
        msg.header.stamp = self.node.get_clock().now().to_msg()
        self.camera.publish(msg)

    def spin_for(self, seconds: float, camera: str | None = None) -> None:
        """Spin; publish camera images at 30 Hz with this encoding unless None."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if camera:
                self.publish_image(camera)
            rclpy.spin_once(self.node, timeout_sec=1 / 30)

    def wait_for(self, condition, timeout: float, camera: str | None = None, what: str = "") -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if condition():
                return
            self.spin_for(0.1, camera)
        pytest.fail(f"timed out waiting for {what}; status={self.status}; policy={self.policy_diag}")


@pytest.fixture
def watcher():
    rclpy.init()
    w = Watcher()
    try:
        yield w
    finally:
        w.node.destroy_node()
        rclpy.try_shutdown()


def test_camera_loss_pauses_inference_and_policy_errors_recover(processes, watcher):
    processes.start([sys.executable, "-m", "rtc_bringup.run", "--sim", f"cameras:=front={CAMERA}"], name="graph")
    watcher.wait_for(lambda: watcher.chunks >= 3, 90, camera="rgb8", what="three chunks")

    # The camera stops: inference pauses and says so; the executor drains, then holds.
    chunks_before = watcher.chunks
    watcher.wait_for(lambda: watcher.status.holding and watcher.status.remaining == 0, 30, what="executor holding")
    watcher.wait_for(lambda: "paused" in watcher.policy_diag.message, 30, what="policy paused")
    # WARN while paused, ERROR once paused for 5 s (threshold.paused_s, docs/diagnostics.md)
    assert watcher.policy_diag.level == DiagnosticStatus.WARN or "paused_s" in watcher.policy_diag.message
    underruns = watcher.status.underrun_count
    watcher.spin_for(1.0)
    assert watcher.status.underrun_count > underruns  # holding counts as underrun ticks
    assert watcher.chunks <= chunks_before + 1  # at most the inference already under way

    # Images the policy cannot take: the node reports ERROR and stays up.
    watcher.wait_for(lambda: watcher.policy_diag.level == DiagnosticStatus.ERROR, 30, camera="mono16",
                     what="policy ERROR")
    assert "inference failed" in watcher.policy_diag.message

    # Good images again: it recovers.
    chunks_at_error = watcher.chunks
    watcher.wait_for(lambda: watcher.chunks > chunks_at_error + 1, 20, camera="rgb8", what="recovery")
    watcher.wait_for(lambda: watcher.policy_diag.level == DiagnosticStatus.OK, 30, camera="rgb8", what="OK")
    watcher.wait_for(lambda: not watcher.status.holding, 30, camera="rgb8", what="executor moving again")
