"""The camera node's core without ROS: the cameras spec, frame pacing and stats, opening a video file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rtc_camera.camera_spec import CameraSpec, parse_cameras
from rtc_camera.frame_pacing import CaptureStats, FramePacer
from rtc_camera.opencv_source import OpenCVSource, SourceError, to_jpeg, to_rgb
from rtc_camera.test_video import BLUE, RED, write_test_video


def test_lerobots_syntax_gives_one_spec_per_camera_in_order():
    specs = parse_cameras("{front: {type: opencv, index_or_path: 0, width: 640, height: 480, fps: 30}, "
                          "wrist: {index_or_path: /dev/video4, fourcc: MJPG, warmup_s: 0, rotation: -90}, "
                          "replay: {index_or_path: clip.mp4}}")
    assert specs == [CameraSpec("front", 0, 640, 480, 30.0),
                     CameraSpec("wrist", "/dev/video4", fourcc="MJPG", warmup_s=0.0, rotation=-90),
                     CameraSpec("replay", "clip.mp4")]
    assert [s.is_device for s in specs] == [True, True, False]


@pytest.mark.parametrize("text, message", [
    ("", "must be a mapping of camera names"),
    ("front=camera/front/image_raw", "must be a mapping of camera names"),
    ("{front: {index_or_path: 0}", "is not a YAML mapping"),
    ("{front: 0}", "camera front: expected a mapping"),
    ("{1front: {index_or_path: 0}}", "camera name '1front'"),
    ("{front: {type: intelrealsense, index_or_path: 0}}", "camera front: type 'intelrealsense'"),
    ("{front: {width: 640, height: 480}}", "camera front: index_or_path is required"),
    ("{front: {index_or_path: -1}}", "camera front: index_or_path = -1"),
    ("{front: {index_or_path: 0, width: 640}}", "give both width and height"),
    ("{front: {index_or_path: 0, width: 0, height: 480}}", "camera front: width = 0"),
    ("{front: {index_or_path: 0, fps: fast}}", "camera front: fps = 'fast'"),
    ("{front: {index_or_path: 0, fourcc: MJPEG}}", "camera front: fourcc = 'MJPEG'"),
    ("{front: {index_or_path: 0, rotation: 45}}", "camera front: rotation = 45"),
    ("{front: {index_or_path: 0, color_mode: bgr}}", "rgb8 only"),
    ("{front: {index_or_path: 0, exposure: 3}}", "unknown key(s) ['exposure']"),
])
def test_a_bad_spec_is_one_line_naming_the_camera_and_key(text, message):
    with pytest.raises(ValueError) as error:
        parse_cameras(text)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_pacer_keeps_a_grid_and_counts_empty_slots_as_dropped():
    pacer = FramePacer(10.0, start=0.0)
    assert pacer.wait_s(0.0) == 0.0
    assert pacer.captured(0.0) == 0 and pacer.wait_s(0.03) == pytest.approx(0.07)
    assert pacer.captured(0.104) == 0  # a little late: no slot lost, the grid does not drift
    assert pacer.captured(0.36) == 1  # the slot at 0.2 stayed empty
    assert pacer.wait_s(0.36) == pytest.approx(0.04)
    assert pacer.captured(0.39) == 0 and pacer.captured(0.41) == 0
    assert pacer.captured(2.0) == 14
    assert pacer.captured(2.02) == 0 and pacer.next_due == pytest.approx(2.2)
    pacer.next_due = 10.0  # a source faster than the grid is followed, not waited for
    assert pacer.captured(3.0) == 0 and pacer.next_due == pytest.approx(3.1)


def test_stats_report_per_period_and_keep_totals():
    stats = CaptureStats(now=0.0)
    for k in range(20):
        stats.published(captured_at=k * 0.05, published_at=k * 0.05 + 0.002 + 0.001 * (k == 19), dropped_before=k == 5)
    first = stats.period(now=1.0)
    assert first["measured_fps"] == pytest.approx(20.0)
    assert first["capture_to_publish_p50_ms"] == pytest.approx(2.0)
    assert first["capture_to_publish_max_ms"] == pytest.approx(3.0)
    assert first["dropped_frames_in_period"] == 1 and first["dropped_frames"] == 1 and first["frames_published"] == 20
    second = stats.period(now=2.0)
    assert second["measured_fps"] == 0.0 and np.isnan(second["capture_to_publish_p99_ms"])
    assert second["dropped_frames_in_period"] == 0 and second["frames_published"] == 20


def test_a_video_file_opens_with_its_fps_and_gives_rgb_frames(tmp_path: Path):
    path = write_test_video(tmp_path / "clip.avi", 64, 48, frames=5, fps=15)
    source = OpenCVSource(CameraSpec("front", str(path), 64, 48))
    source.open()
    try:
        assert source.fps == pytest.approx(15.0)
        frames = [source.read() for _ in range(6)]
    finally:
        source.release()
    assert all(f is not None for f in frames[:5]) and frames[5] is None  # the end of the file
    rgb = to_rgb(frames[0])
    assert np.abs(rgb[30, 5].astype(int) - RED).max() < 12 and np.abs(rgb[30, 60].astype(int) - BLUE).max() < 12
    assert to_rgb(frames[0], 90).shape == (64, 48, 3)


def test_the_frames_are_what_the_policy_node_decodes(tmp_path: Path):
    """rgb8 rows and the JPEG, read back with the policy node's own decoders (the consumer's view)."""
    decoding = pytest.importorskip("rtc_contract.image_decoding")
    rgb = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    assert np.array_equal(decoding.raw_to_rgb("rgb8", 48, 64, 64 * 3, rgb.tobytes()), rgb)
    decoded = decoding.compressed_to_rgb("rgb8; jpeg compressed bgr8", to_jpeg(np.full((48, 64, 3), RED, np.uint8), 95))
    assert np.abs(decoded.astype(int) - RED).max() < 6


@pytest.mark.parametrize("spec, message", [
    (CameraSpec("front", "/nonexistent/clip.avi"), "camera front (/nonexistent/clip.avi): no such file"),
    (CameraSpec("front", "/dev/video97"), "camera front (/dev/video97): no such device"),
    (CameraSpec("front", 97), "camera front (97): OpenCV cannot open it"),
])
def test_a_missing_source_is_one_line(spec, message):
    with pytest.raises(SourceError) as error:
        OpenCVSource(spec).open()
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_a_file_of_another_size_is_refused(tmp_path: Path):
    path = write_test_video(tmp_path / "clip.avi", 64, 48, frames=2)
    with pytest.raises(SourceError, match="streams 64x48, not the 640x480 asked for"):
        OpenCVSource(CameraSpec("front", str(path), 640, 480)).open()
