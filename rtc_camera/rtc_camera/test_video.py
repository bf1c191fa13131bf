"""A video file of known frames: the camera to point the node at where there is none (tests, bench/camera.py).

Each frame is red in its left half and blue in its right half (so a swapped channel order shows),
with a bright bar whose row is the frame's index (`write_video` writes any frames), as Motion JPEG (OpenCV's own encoder, in
every opencv-python build).
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

RED, BLUE = (200, 30, 30), (30, 30, 200)  # RGB


def frame_rgb(index: int, width: int, height: int) -> np.ndarray:
    frame = np.empty((height, width, 3), np.uint8)
    frame[:, : width // 2] = RED
    frame[:, width // 2 :] = BLUE
    frame[index % height, :] = 255
    return frame


def write_video(path: Path, frames_rgb: Iterable[np.ndarray], width: int, height: int, fps: float = 30.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path}")
    for frame in frames_rgb:
        writer.write(np.ascontiguousarray(frame[:, :, ::-1]))
    writer.release()
    return path


def write_test_video(path: Path, width: int, height: int, frames: int, fps: float = 30.0) -> Path:
    return write_video(path, (frame_rgb(i, width, height) for i in range(frames)), width, height, fps)
