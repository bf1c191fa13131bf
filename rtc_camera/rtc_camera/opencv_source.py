"""One OpenCV capture opened the way LeRobot's OpenCVCamera opens it, and its frames as RGB.

Opening: a device index, a device path or a video file through cv2.VideoCapture; on a device the
fourcc is set first (it decides which sizes and rates exist), then width, height and fps, each read
back and refused when the device did not take it (a fourcc it ignores is only a warning, as in
LeRobot); then frames are read and dropped for `warmup_s` (exposure and white balance settle), and
at least one must come. A video file cannot be configured: its size must be the one asked for, its
fps is the pacing's when none is given. Every failure is a `SourceError` with one line.
Frames: BGR from OpenCV to RGB rows (rotated as asked), and JPEG for the compressed topic; the
conversion to sensor_msgs fields is plain numpy (cv_bridge has no wheel).
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import cv2
import numpy as np

from rtc_camera.camera_spec import CameraSpec

__all__ = ["SourceError", "OpenCVSource", "to_rgb", "to_jpeg"]

_ROTATE = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, -90: cv2.ROTATE_90_COUNTERCLOCKWISE}


class SourceError(RuntimeError):
    """The source cannot be opened or configured; the text says which and why."""


def _fourcc_text(code: float) -> str:
    value = int(code)
    return "".join(chr((value >> 8 * i) & 0xFF) for i in range(4))


class OpenCVSource:
    def __init__(self, spec: CameraSpec) -> None:
        self.spec = spec
        self.capture: cv2.VideoCapture | None = None
        self.fps = spec.fps  # the pacing's fps once open
        self.warnings: list[str] = []

    def __str__(self) -> str:
        return f"camera {self.spec.name} ({self.spec.index_or_path})"

    @property
    def is_open(self) -> bool:
        return self.capture is not None

    def open(self) -> None:
        spec = self.spec
        source = spec.index_or_path
        if isinstance(source, str) and not Path(source).exists():
            raise SourceError(f"{self}: no such {'device' if spec.is_device else 'file'}")
        cv2.setNumThreads(1)
        capture = cv2.VideoCapture(source)
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"{self}: OpenCV cannot open it (list cameras with `lerobot-find-cameras opencv` "
                              "or `v4l2-ctl --list-devices`)")
        try:
            self._configure(capture)
        except SourceError:
            capture.release()
            raise
        self.capture = capture

    def _configure(self, capture: cv2.VideoCapture) -> None:
        spec, self.warnings = self.spec, []
        want = (spec.width, spec.height) if spec.rotation in (0, 180) else (spec.height, spec.width)
        if spec.is_device:
            if spec.fourcc:
                capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*spec.fourcc))
                actual = _fourcc_text(capture.get(cv2.CAP_PROP_FOURCC))
                if actual != spec.fourcc:
                    self.warnings.append(f"{self}: fourcc {spec.fourcc} not taken, the device streams {actual!r}")
            if spec.width is not None:
                capture.set(cv2.CAP_PROP_FRAME_WIDTH, float(want[0]))
                capture.set(cv2.CAP_PROP_FRAME_HEIGHT, float(want[1]))
            if spec.fps is not None:
                capture.set(cv2.CAP_PROP_FPS, float(spec.fps))
        size = (round(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), round(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        if spec.width is not None and size != want:
            raise SourceError(f"{self}: streams {size[0]}x{size[1]}, not the {want[0]}x{want[1]} asked for")
        native_fps = capture.get(cv2.CAP_PROP_FPS)
        if spec.is_device and spec.fps is not None and not math.isclose(native_fps, spec.fps, rel_tol=1e-3):
            raise SourceError(f"{self}: runs at {native_fps:g} fps, not the {spec.fps:g} asked for")
        self.fps = spec.fps or (native_fps if native_fps > 0 else 30.0)
        if spec.is_device and spec.warmup_s > 0:
            deadline, frames = time.monotonic() + spec.warmup_s, 0
            while time.monotonic() < deadline:
                frames += bool(capture.read()[0])
            if not frames:
                raise SourceError(f"{self}: no frame during the {spec.warmup_s:g} s warm-up")

    def read(self) -> np.ndarray | None:
        """The next frame, BGR HxWx3 uint8, or None when the source gave none (end of file, lost device)."""
        if self.capture is None:
            return None
        ok, frame = self.capture.read()
        if not ok or frame is None or frame.ndim != 3 or frame.shape[2] != 3:
            return None
        return frame

    def release(self) -> None:
        if self.capture is not None:
            self.capture.release()
            self.capture = None


def to_rgb(frame_bgr: np.ndarray, rotation: int = 0) -> np.ndarray:
    """An HxWx3 RGB copy, rotated clockwise by `rotation` degrees (0, 90, 180, -90)."""
    if rotation:
        frame_bgr = cv2.rotate(frame_bgr, _ROTATE[rotation])
    return cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)  # a strided numpy flip copies several times slower


def to_jpeg(frame_rgb: np.ndarray, quality: int) -> bytes:
    """JPEG bytes of an RGB frame (OpenCV encodes BGR, so the channels go back first)."""
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"JPEG encoding of a {frame_rgb.shape} frame failed")
    return encoded.tobytes()
