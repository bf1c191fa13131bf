"""Camera node: the cameras of one LeRobot `cameras` parameter as image topics, one capture thread each.

Parameters: `PARAMETERS` below (docs/real_arm.md, "Cameras", shows the same table).
Topics (relative: they follow the node's namespace; /diagnostics is global), per camera <name>:
  publishes  camera/<name>/image_raw (sensor_msgs/Image, rgb8, sensor-data QoS), stamped with the ROS
             time the frame left OpenCV (capture), frame_id camera_<name>
  publishes  camera/<name>/image_raw/compressed (sensor_msgs/CompressedImage, format
             "rgb8; jpeg compressed bgr8") with publish_compressed
  publishes  /diagnostics at 1 Hz: status "rtc_camera: <name>" with measured_fps, dropped frames,
             capture-to-publish latency; ERROR while the source is lost

Start-up: a bad `cameras` text or a camera that cannot be opened (no such file or device, a size or
fps it does not take) is one line and exit code 2, before any frame is published.
Running: a video file plays in a loop (opened again at its end). A read that fails (a device
unplugged, a file gone) releases the source and opens it again at once, then every
reconnect_interval_s; meanwhile the camera publishes nothing and its status is ERROR.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from rtc_runtime.diagnostics import Diagnostics, Level, Report
from rtc_runtime.node_main import run_node
from rtc_runtime.parameters import ParameterError, ParameterSpec, declare
from sensor_msgs.msg import CompressedImage, Image

from rtc_camera.camera_spec import IMAGE_TOPIC, CameraSpec, compressed_topic, image_topic, parse_cameras
from rtc_camera.frame_pacing import CaptureStats, FramePacer
from rtc_camera.opencv_source import OpenCVSource, SourceError, to_jpeg, to_rgb

PARAMETERS = (
    ParameterSpec("cameras", "", "LeRobot's cameras: {name: {type: opencv, index_or_path: 0, width: 640, "
                  "height: 480, fps: 30}, ...} (index, /dev/videoN or a video file)", non_empty=True),
    ParameterSpec("publish_compressed", False, "also publish camera/<name>/image_raw/compressed (JPEG)"),
    ParameterSpec("jpeg_quality", 90, "JPEG quality of the compressed images", minimum=1, maximum=100),
    ParameterSpec("reconnect_interval_s", 1.0, "wait between attempts to open a lost source again", unit="s",
                  minimum=0.0, above_minimum=True),
)
COMPRESSED_FORMAT = "rgb8; jpeg compressed bgr8"  # image_transport's naming
TOPICS = (IMAGE_TOPIC, f"{IMAGE_TOPIC}/compressed")  # per camera, {name} filled in


@dataclass
class Camera:
    spec: CameraSpec
    source: OpenCVSource
    image_pub: object
    compressed_pub: object | None
    stats: CaptureStats
    lost: str = ""  # why the source is lost; empty while streaming
    attempts: int = 0  # failed attempts to open it again since it was lost
    thread: threading.Thread | None = field(default=None, repr=False)


class CameraNode(Node):
    def __init__(self) -> None:
        super().__init__("rtc_camera")
        p = declare(self, PARAMETERS)
        try:
            specs = parse_cameras(p["cameras"])
        except ValueError as exc:
            raise ParameterError(f"parameter cameras: {exc}") from None
        self.jpeg_quality, self.reconnect_interval_s = p["jpeg_quality"], p["reconnect_interval_s"]
        self.fatal_error = ""
        self.stop_event = threading.Event()
        self.cameras: list[Camera] = []
        for spec in specs:
            source = OpenCVSource(spec)
            try:
                source.open()
            except SourceError as exc:
                for camera in self.cameras:
                    camera.source.release()
                raise ParameterError(f"parameter cameras: {exc}") from None
            for warning in source.warnings:
                self.get_logger().warning(warning)
            self.cameras.append(Camera(
                spec, source, self.create_publisher(Image, image_topic(spec.name), qos_profile_sensor_data),
                self.create_publisher(CompressedImage, compressed_topic(spec.name), qos_profile_sensor_data)
                if p["publish_compressed"] else None, CaptureStats(time.monotonic())))
            self.get_logger().info(f"{source}: open, {source.fps:g} fps -> {image_topic(spec.name)}")
        self.diagnostics = Diagnostics(self, hardware_id=", ".join(str(s.index_or_path) for s in specs))
        for camera in self.cameras:
            self.diagnostics.add(camera.spec.name, lambda camera=camera: self._report(camera))

    def start(self) -> None:
        for camera in self.cameras:
            camera.thread = threading.Thread(target=self._capture_loop, args=(camera,),
                                             name=f"camera-{camera.spec.name}", daemon=True)
            camera.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        for camera in self.cameras:
            if camera.thread is not None:
                camera.thread.join(timeout=2.0)
            camera.source.release()

    # ----- capture (one thread per camera) ---------------------------------------------------
    def _capture_loop(self, camera: Camera) -> None:
        pacer = FramePacer(camera.source.fps, time.monotonic())
        while not self.stop_event.is_set():
            if not camera.spec.is_device:  # a file would be read as fast as the disk allows
                self.stop_event.wait(pacer.wait_s(time.monotonic()))
            frame = camera.source.read()
            captured_at, stamp = time.monotonic(), self.get_clock().now().to_msg()
            if frame is None:
                self._reopen(camera)
                pacer = FramePacer(camera.source.fps, time.monotonic())
                continue
            dropped = pacer.captured(captured_at)
            self._publish(camera, to_rgb(frame, camera.spec.rotation), stamp)
            camera.stats.published(captured_at, time.monotonic(), dropped)

    def _publish(self, camera: Camera, rgb, stamp) -> None:
        height, width, _ = rgb.shape
        image = Image(height=height, width=width, encoding="rgb8", is_bigendian=0, step=width * 3,
                      data=rgb.tobytes())
        image.header.stamp, image.header.frame_id = stamp, f"camera_{camera.spec.name}"
        camera.image_pub.publish(image)
        if camera.compressed_pub is not None:
            compressed = CompressedImage(format=COMPRESSED_FORMAT, data=to_jpeg(rgb, self.jpeg_quality))
            compressed.header = image.header
            camera.compressed_pub.publish(compressed)

    def _reopen(self, camera: Camera) -> None:
        """The source gave no frame: open it again at once (a file's end), then every
        reconnect_interval_s until it opens or the node stops."""
        camera.source.release()
        log = self.get_logger()
        while not self.stop_event.is_set():
            try:
                camera.source.open()
            except SourceError as exc:
                if not camera.lost:
                    log.error(f"{camera.source}: lost ({exc}); trying every {self.reconnect_interval_s:g} s")
                camera.lost, camera.attempts = str(exc), camera.attempts + 1
                self.stop_event.wait(self.reconnect_interval_s)
                continue
            if camera.lost:
                log.info(f"{camera.source}: open again after {camera.attempts} failed attempt(s)")
            camera.lost, camera.attempts = "", 0
            camera.stats.reopened_source()
            return

    # ----- diagnostics -----------------------------------------------------------------------
    def _report(self, camera: Camera) -> Report:
        report = Report()
        lost, attempts = camera.lost, camera.attempts
        if lost:
            report.raise_to(Level.ERROR, f"source lost, {attempts} reconnect attempt(s): {lost}")
        spec = camera.spec
        report.values = {
            "source": str(spec.index_or_path),
            "topic": self.resolve_topic_name(image_topic(spec.name)),
            "size": f"{spec.width}x{spec.height}" if spec.width else "native",
            "target_fps": camera.source.fps or 0.0,
            **camera.stats.period(time.monotonic()),
            "reconnect_attempts": attempts,
            "compressed": camera.compressed_pub is not None,
        }
        return report


def main(args: list[str] | None = None) -> None:
    run_node("camera_node", CameraNode, args=args)


if __name__ == "__main__":
    main()
