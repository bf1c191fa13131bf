"""Camera messages to RGB arrays without cv_bridge (which ROS 2 from pip does not have).

Covers what cameras on a LeRobot setup publish: raw rgb8, bgr8, mono8 (and their 16-bit-free
variants only), and compressed jpeg/png. Anything else is a ValueError naming the encoding, so a
misconfigured camera is reported instead of silently feeding the policy wrong colours.
"""
from __future__ import annotations

import io

import numpy as np

RAW_ENCODINGS = ("rgb8", "bgr8", "mono8")
COMPRESSED_FORMATS = ("jpeg", "jpg", "png")


def raw_to_rgb(encoding: str, height: int, width: int, step: int, data: bytes) -> np.ndarray:
    """sensor_msgs/Image fields -> HxWx3 uint8 RGB (a copy: the message buffer may be reused)."""
    channels = {"rgb8": 3, "bgr8": 3, "mono8": 1}.get(encoding)
    if channels is None:
        raise ValueError(f"image encoding {encoding!r} is not supported; use one of {RAW_ENCODINGS}")
    row_bytes = width * channels
    if step < row_bytes or len(data) < step * (height - 1) + row_bytes:
        raise ValueError(f"{encoding} image {width}x{height} (step {step}) needs more than the "
                         f"{len(data)} data bytes it carries")
    buffer = np.frombuffer(data, dtype=np.uint8, count=step * height if len(data) >= step * height
                           else len(data))
    rows = np.lib.stride_tricks.as_strided(buffer, shape=(height, row_bytes), strides=(step, 1))
    pixels = rows.reshape(height, width, channels)
    if encoding == "mono8":
        return np.repeat(pixels, 3, axis=2)
    if encoding == "bgr8":
        return np.ascontiguousarray(pixels[:, :, ::-1])
    return pixels.copy()


def compressed_to_rgb(fmt: str, data: bytes) -> np.ndarray:
    """sensor_msgs/CompressedImage -> HxWx3 uint8 RGB. `fmt` is the message's format field
    (e.g. "jpeg", or image_transport's "rgb8; jpeg compressed bgr8")."""
    words = fmt.replace(";", " ").lower().split()
    codec = words[words.index("compressed") - 1] if "compressed" in words[1:] else (words or [""])[-1]
    if codec not in COMPRESSED_FORMATS:
        raise ValueError(f"compressed image format {fmt!r} is not supported; use jpeg or png")
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("RGB"))
    except OSError as exc:
        raise ValueError(f"cannot decode {codec} image of {len(data)} bytes: {exc}") from exc
