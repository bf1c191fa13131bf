"""The camera node on a 640x480 video source: measured fps and capture-to-publish latency.

Writes a 640x480 Motion-JPEG video (rtc_camera.test_video), starts `rtc_camera camera_node` on it as its
own process (30 fps, the file looping), and listens over DDS for `--duration` seconds: the node's own
/diagnostics figures per second (measured_fps, dropped frames, capture-to-publish p50/p99/max: the
time from the frame leaving OpenCV to publish() returning, conversion to rgb8 and the JPEG included)
and, at a subscriber in this process, the frames received per second and the age of each image on
arrival (arrival minus its capture stamp: the node's latency plus DDS transport of 900 KB).
Once with the raw topic only, once with publish_compressed (the JPEG encoded per frame too).

Usage (in the project's environment, `source tools/env.sh`):
  python bench/camera.py [--duration 30] [--fps 30] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from rtc_camera.test_video import write_test_video

WIDTH, HEIGHT = 640, 480


def measure(video: Path, fps: float, duration: float, compressed: bool) -> dict:
    cameras = f"{{front: {{type: opencv, index_or_path: {video}, width: {WIDTH}, height: {HEIGHT}, fps: {fps:g}}}}}"
    node_proc = subprocess.Popen([sys.executable, "-m", "rtc_camera.camera_node", "--ros-args", "-p",
                                  f"cameras:=\"{cameras}\"", "-p", f"publish_compressed:={str(compressed).lower()}"],
                                 start_new_session=True)
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node("camera_bench", context=context)
    lock = threading.Lock()
    ages, arrivals, reports = [], [], []

    def on_image(msg: Image) -> None:
        now = node.get_clock().now().nanoseconds
        with lock:
            arrivals.append(time.monotonic())
            ages.append((now - (msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec)) / 1e6)

    def on_diagnostics(msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name == "rtc_camera: front":
                with lock:
                    reports.append({kv.key: kv.value for kv in status.values})

    node.create_subscription(Image, "camera/front/image_raw", on_image, qos_profile_sensor_data)
    node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 10)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    try:
        deadline = time.monotonic() + 60.0
        while not arrivals and time.monotonic() < deadline:  # start-up and discovery
            executor.spin_once(timeout_sec=0.1)
        with lock:
            ages.clear(), arrivals.clear(), reports.clear()
        end = time.monotonic() + duration
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.1)
    finally:
        os.killpg(node_proc.pid, signal.SIGINT)
        node_proc.wait(10)
        node.destroy_node()
        rclpy.try_shutdown(context=context)
    full = reports[1:]  # the first period began before the measurement
    per_period = lambda key: np.array([float(r[key]) for r in full if r[key] != "nan"])  # noqa: E731
    age = np.array(ages)
    return {
        "compressed": compressed,
        "node_measured_fps_mean": float(per_period("measured_fps").mean()),
        "node_dropped_frames": int(full[-1]["dropped_frames"]) - int(full[0]["dropped_frames"]),
        "capture_to_publish_p50_ms_median": float(np.median(per_period("capture_to_publish_p50_ms"))),
        "capture_to_publish_p99_ms_max": float(per_period("capture_to_publish_p99_ms").max()),
        "capture_to_publish_max_ms": float(per_period("capture_to_publish_max_ms").max()),
        "received_fps": (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]),
        "age_on_arrival_ms": {"p50": float(np.percentile(age, 50)), "p99": float(np.percentile(age, 99)),
                              "max": float(age.max())},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        video = write_test_video(Path(tmp) / "front.avi", WIDTH, HEIGHT, frames=int(args.fps * 4), fps=args.fps)
        results = [measure(video, args.fps, args.duration, compressed) for compressed in (False, True)]
    for r in results:
        age = r["age_on_arrival_ms"]
        print(f"{WIDTH}x{HEIGHT} @ {args.fps:g} fps, {'raw + JPEG' if r['compressed'] else 'raw rgb8'}: "
              f"node {r['node_measured_fps_mean']:.2f} fps, {r['node_dropped_frames']} dropped; "
              f"capture->publish p50 {r['capture_to_publish_p50_ms_median']:.2f} ms, "
              f"p99 {r['capture_to_publish_p99_ms_max']:.2f} ms, max {r['capture_to_publish_max_ms']:.2f} ms; "
              f"received {r['received_fps']:.2f} fps, age on arrival p50 {age['p50']:.2f} ms, "
              f"p99 {age['p99']:.2f} ms, max {age['max']:.2f} ms")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
