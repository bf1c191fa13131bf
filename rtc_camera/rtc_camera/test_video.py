"""A video file of known frames: the camera to point the node at where there is none (tests, bench/camera.py).

Each frame is red in its left half and blue in its right half (so a swapped channel order shows),
with a bright bar whose row is the frame's index, written as Motion JPEG (OpenCV's own encoder, in
every opencv-python build).
"""
from __future__ import annotations

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


def write_test_video(path: Path, width: int, height: int, frames: int, fps: float = 30.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path}")
    for index in range(frames):
        writer.write(np.ascontiguousarray(frame_rgb(index, width, height)[:, :, ::-1]))
    writer.release()
    return path
