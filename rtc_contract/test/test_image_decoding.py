"""Camera payloads decode to the same RGB pixels, whatever the encoding; others are refused, and so are
images over the size cap, from their header, before any pixel is decoded."""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from rtc_contract.image_decoding import compressed_size_problem, compressed_to_rgb, image_size_problem, raw_to_rgb

RGB = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)


def test_rgb8_and_bgr8_give_the_same_pixels():
    assert np.array_equal(raw_to_rgb("rgb8", 5, 7, 21, RGB.tobytes()), RGB)
    assert np.array_equal(raw_to_rgb("bgr8", 5, 7, 21, RGB[:, :, ::-1].tobytes()), RGB)


def test_row_padding_is_skipped():
    padded = np.zeros((5, 24), dtype=np.uint8)
    padded[:, :21] = RGB.reshape(5, 21)
    assert np.array_equal(raw_to_rgb("rgb8", 5, 7, 24, padded.tobytes()), RGB)


def test_mono8_is_grey_rgb():
    grey = RGB[:, :, 0]
    out = raw_to_rgb("mono8", 5, 7, 7, grey.tobytes())
    assert out.shape == (5, 7, 3) and all(np.array_equal(out[:, :, c], grey) for c in range(3))


def _encoded(image: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=fmt, quality=95)
    return buffer.getvalue()


def test_png_is_lossless_and_jpeg_close():
    assert np.array_equal(compressed_to_rgb("png", _encoded(RGB, "PNG")), RGB)
    smooth = np.broadcast_to(np.linspace(0, 255, 32, dtype=np.uint8)[None, :, None], (16, 32, 3)).copy()
    out = compressed_to_rgb("rgb8; jpeg compressed bgr8", _encoded(smooth, "JPEG"))
    assert out.shape == smooth.shape
    assert np.abs(out.astype(int) - smooth).mean() < 4


def _png16(values: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(values.astype(np.uint16)).save(buffer, format="PNG")
    return buffer.getvalue()


DEPTH_MM = np.full((5, 7), 1200, dtype=np.uint16)  # a 16-bit image: 1.2 m everywhere


def test_a_16_bit_png_is_refused_not_saturated():
    with pytest.raises(ValueError, match="not 8 bits per channel"):
        compressed_to_rgb("png", _png16(DEPTH_MM))


@pytest.mark.parametrize("call, message", [
    (lambda: raw_to_rgb("16UC1", 5, 7, 14, bytes(70)), "16UC1"),
    (lambda: raw_to_rgb("mono16", 5, 7, 14, DEPTH_MM.tobytes()), "mono16"),
    (lambda: compressed_to_rgb("mono16; png compressed mono16", _png16(DEPTH_MM)), "mono16"),
    (lambda: compressed_to_rgb("16UC1; compressedDepth png", _png16(DEPTH_MM)), "16UC1"),
    (lambda: raw_to_rgb("rgb8", 5, 7, 21, bytes(10)), "needs more"),
    (lambda: compressed_to_rgb("tiff", b"xx"), "tiff"),
    (lambda: compressed_to_rgb("jpeg", b"not a jpeg"), "cannot decode jpeg"),
])
def test_bad_images_are_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def png_claiming(width: int, height: int) -> bytes:
    """A PNG claiming `width` x `height` RGB, with no pixel data: signature, IHDR, IEND (45 bytes)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + \
        chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real small JPEG whose SOF0 header is rewritten to claim `width` x `height`."""
    buffer = io.BytesIO()
    Image.fromarray(RGB).save(buffer, format="JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


MAX_PIXELS = 4096 * 4096


@pytest.mark.parametrize("crafted", [png_claiming, jpeg_claiming])
def test_an_oversized_compressed_image_is_refused_from_its_header(crafted):
    problem = compressed_size_problem(crafted(9000, 9000), MAX_PIXELS)
    assert problem == f"image of 9000 x 9000 = 81000000 pixels is over max_image_pixels {MAX_PIXELS}"
    assert compressed_size_problem(crafted(640, 480), MAX_PIXELS) is None


def test_a_compressed_image_past_pillows_own_limit_is_refused_too():
    problem = compressed_size_problem(png_claiming(60000, 60000), 10**10)
    assert problem is not None and "decompression bomb" in problem


def test_a_raw_image_is_judged_by_its_claimed_dimensions():
    assert image_size_problem(9000, 9000, MAX_PIXELS).startswith("image of 9000 x 9000")
    assert image_size_problem(4096, 4096, MAX_PIXELS) is None


def test_bytes_without_an_image_header_are_left_to_decoding():
    assert compressed_size_problem(b"not a jpeg", MAX_PIXELS) is None
