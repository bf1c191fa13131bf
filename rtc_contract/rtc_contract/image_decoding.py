"""Camera messages to RGB arrays without cv_bridge (which ROS 2 from pip does not have).

Covers what cameras on a LeRobot setup publish: raw rgb8, bgr8, mono8, and compressed jpeg/png of
8 bits per channel. Anything else (16-bit mono16/16UC1 raw or png, compressedDepth, other codecs) is
a ValueError naming the encoding, so a misconfigured camera is reported instead of silently feeding
the policy wrong colours or pixels saturated to 255.

Size caps: `image_size_problem` reads an image's dimensions without decoding it (the message's
width and height; a jpeg/png header through Pillow's lazy open), so that an oversized image is
refused before it costs memory: a 9000 x 9000 png decodes to about 250 MB.
"""
from __future__ import annotations

import io

import numpy as np

RAW_ENCODINGS = ("rgb8", "bgr8", "mono8")
COMPRESSED_FORMATS = ("jpeg", "jpg", "png")
# Encodings image_transport names in a CompressedImage format ("<source>; <codec> compressed <target>").
COMPRESSED_ENCODINGS = ("rgb8", "bgr8", "mono8", "rgba8", "bgra8")
# Pillow modes of 8 bits per channel; 16-bit png opens as "I;16*" or "I", which convert("RGB") clips.
EIGHT_BIT_MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr")


def image_size_problem(width: int, height: int, max_pixels: int) -> str | None:
    """Why an image of `width` x `height` is refused (one line), or None when within `max_pixels`."""
    if width * height > max_pixels:
        return f"image of {width} x {height} = {width * height} pixels is over max_image_pixels {max_pixels}"
    return None


def compressed_size_problem(data: bytes, max_pixels: int) -> str | None:
    """image_size_problem of a jpeg/png from its header (Pillow's open reads the header, not the
    pixels); None also for bytes with no readable header, which decoding then reports."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except Image.DecompressionBombError as exc:  # Pillow's own limit, checked at open
        return f"compressed image refused by Pillow's decompression bomb check: {exc}"
    except OSError:
        return None
    return image_size_problem(width, height, max_pixels)


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
    encodings = [w for w in words if w not in (codec, "compressed")]
    if any(e not in COMPRESSED_ENCODINGS for e in encodings):
        raise ValueError(f"compressed image format {fmt!r} is not supported; 8-bit encodings only "
                         f"({', '.join(COMPRESSED_ENCODINGS)})")
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.mode not in EIGHT_BIT_MODES:
                raise ValueError(f"{codec} image of mode {image.mode} is not 8 bits per channel "
                                 "(a 16-bit image would saturate); publish 8-bit images")
            return np.asarray(image.convert("RGB"))
    except OSError as exc:
        raise ValueError(f"cannot decode {codec} image of {len(data)} bytes: {exc}") from exc


def message_to_rgb(msg) -> np.ndarray:
    """A sensor_msgs/Image or CompressedImage (any object with their fields: rclpy's or a bag
    reader's) -> HxWx3 uint8 RGB, writable."""
    if hasattr(msg, "format"):
        return compressed_to_rgb(msg.format, bytes(msg.data)).copy()
    return raw_to_rgb(msg.encoding, msg.height, msg.width, msg.step, bytes(msg.data))
