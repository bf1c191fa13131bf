"""camera_node in its own process over DDS, reading a video file the test writes.

Images arrive as the policy node decodes them (rgb8 rows, and the JPEG topic), stamped at capture,
with measured fps, dropped frames and capture-to-publish latency on /diagnostics. Hostile input: a
bad cameras text and a missing file are one line and exit code 2 at start; a file that disappears
while running is an ERROR with reconnect attempts, and the camera streams again once it is back.
"""
from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Iterator

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import CompressedImage, Image  # noqa: E402

from rtc_camera.test_video import BLUE, RED, write_test_video  # noqa: E402
from rtc_contract.image_decoding import compressed_to_rgb, raw_to_rgb  # noqa: E402
from rtc_runtime.ros_peer import RosPeer  # noqa: E402

pytestmark = [pytest.mark.ros]


class Viewer(RosPeer):
    """The test's node: the front camera's images (both topics) and the camera's /diagnostics."""

    def __init__(self) -> None:
        super().__init__("camera_test_viewer")
        self.images: list[tuple[Image, int]] = []  # with the ROS time it arrived (ns)
        self.compressed: list[CompressedImage] = []
        self.statuses: list[DiagnosticStatus] = []
        self.node.create_subscription(Image, "camera/front/image_raw", self._on_image, qos_profile_sensor_data)
        self.node.create_subscription(CompressedImage, "camera/front/image_raw/compressed",
                                      lambda m: self._keep(self.compressed, m), qos_profile_sensor_data)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, 10)
        self.spin()

    def _keep(self, into: list, msg) -> None:
        with self.lock:
            into.append(msg)

    def _on_image(self, msg: Image) -> None:
        self._keep(self.images, (msg, self.node.get_clock().now().nanoseconds))

    def _on_diag(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name == "rtc_camera: front":
                self._keep(self.statuses, status)

    def values(self) -> dict[str, str]:
        with self.lock:
            return {kv.key: kv.value for kv in self.statuses[-1].values} if self.statuses else {}


@pytest.fixture
def viewer() -> Iterator[Viewer]:
    node = Viewer()
    try:
        yield node
    finally:
        node.close()


def _camera(processes, cameras: str, *params: str):
    args = [sys.executable, "-m", "rtc_camera.camera_node", "--ros-args", "-p", f"cameras:={cameras}"]
    for param in params:
        args += ["-p", param]
    return processes.start(args, name="camera_node")


@pytest.mark.slow
def test_a_video_file_streams_as_the_policy_reads_it_and_survives_losing_the_file(processes, viewer, tmp_path):
    video = write_test_video(tmp_path / "front.avi", 64, 48, frames=15, fps=30)
    spare = shutil.copy(video, tmp_path / "spare.avi")
    proc = _camera(processes, f'"{{front: {{type: opencv, index_or_path: {video}, width: 64, height: 48, fps: 30}}}}"',
                   "publish_compressed:=true", "reconnect_interval_s:=0.2")
    assert viewer.wait_for(lambda: len(viewer.images) >= 30 and viewer.compressed and len(viewer.statuses) >= 2,
                           30.0), processes.log(proc)
    with viewer.lock:
        msg, arrived_ns = viewer.images[-1]
        jpeg = viewer.compressed[-1]
    assert (msg.encoding, msg.width, msg.height, msg.header.frame_id) == ("rgb8", 64, 48, "camera_front")
    rgb = raw_to_rgb(msg.encoding, msg.height, msg.width, msg.step, bytes(msg.data))
    assert np.abs(rgb[30, 5].astype(int) - RED).max() < 12 and np.abs(rgb[30, 60].astype(int) - BLUE).max() < 12
    decoded = compressed_to_rgb(jpeg.format, bytes(jpeg.data))
    assert decoded.shape == (48, 64, 3) and np.abs(decoded[30, 5].astype(int) - RED).max() < 16
    stamp_ns = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
    assert 0 < arrived_ns - stamp_ns < 5 * 10**9  # stamped at capture, before it arrived
    stamps = [m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m, _ in viewer.images[-20:]]
    assert all(b > a for a, b in zip(stamps, stamps[1:]))
    # The 15-frame file loops (opened again at its end) and the figures are on /diagnostics.
    assert viewer.wait_for(lambda: int(viewer.values().get("reopened", 0)) >= 1, 10.0), viewer.values()
    values = viewer.values()
    assert float(values["measured_fps"]) > 5.0 and float(values["target_fps"]) == 30.0
    assert float(values["capture_to_publish_p50_ms"]) >= 0.0 and int(values["dropped_frames"]) >= 0
    assert viewer.statuses[-1].level == DiagnosticStatus.OK

    # The file disappears: at its end the camera is lost, ERROR with reconnect attempts, no images.
    video.unlink()
    assert viewer.wait_for(lambda: viewer.statuses[-1].level == DiagnosticStatus.ERROR
                           and int(viewer.values()["reconnect_attempts"]) >= 2, 15.0), viewer.values()
    assert "no such file" in viewer.statuses[-1].message and proc.poll() is None
    with viewer.lock:
        seen = len(viewer.images)
    time.sleep(0.5)
    with viewer.lock:
        assert len(viewer.images) == seen
    # It comes back: streaming again, OK.
    shutil.move(spare, video)
    assert viewer.wait_for(lambda: len(viewer.images) > seen + 10 and viewer.statuses[-1].level == DiagnosticStatus.OK,
                           15.0), processes.log(proc)
    assert "open again after" in processes.log(proc)
    assert processes.stop(proc) == 0


@pytest.mark.parametrize("cameras, message", [
    ("'{front: {type: opencv, index_or_path: /nonexistent/front.avi}}'",
     "camera front (/nonexistent/front.avi): no such file"),
    ("'{front: {type: usb, index_or_path: 0}}'", "camera front: type 'usb'"),
    ("front=camera/front/image_raw", "must be a mapping of camera names"),
    ("''", "parameter cameras is required"),
])
def test_a_missing_source_or_bad_spec_is_one_line_and_exit_2(processes, cameras, message):
    proc = _camera(processes, cameras)
    assert proc.wait(timeout=60) == 2, processes.log(proc)
    lines = processes.log(proc).strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and lines[0].startswith("camera_node: "), lines
