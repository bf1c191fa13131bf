"""LeRobot's `cameras` syntax turned into camera settings, with errors that name the camera and field.

    {front: {type: opencv, index_or_path: 0, width: 640, height: 480, fps: 30},
     wrist: {type: opencv, index_or_path: /dev/video4, width: 640, height: 480, fps: 30, fourcc: MJPG}}

The text is YAML (LeRobot's command line takes the same flow mapping). Each camera takes the keys of
LeRobot 0.4.4's OpenCVCameraConfig: `type` (opencv, the default), `index_or_path` (a device index, a
device path such as /dev/video0 or a video file), `width`, `height`, `fps`, `fourcc` (4 characters,
e.g. MJPG), `warmup_s` (seconds of frames read and dropped after opening a device; default 1),
`rotation` (0, 90, 180, -90 degrees) and `color_mode` (rgb; the published image is always rgb8).
A camera publishes on camera/<name>/image_raw, the topic the policy node's camera_topics name.
No rclpy or OpenCV import here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

__all__ = ["CameraSpec", "IMAGE_TOPIC", "parse_cameras", "image_topic", "compressed_topic"]

IMAGE_TOPIC = "camera/{name}/image_raw"  # relative: it follows the node's namespace

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
KEYS = ("type", "index_or_path", "width", "height", "fps", "fourcc", "warmup_s", "rotation", "color_mode")
ROTATIONS = (0, 90, 180, -90)


@dataclass(frozen=True)
class CameraSpec:
    name: str
    index_or_path: int | str
    width: int | None = None  # None: the source's own
    height: int | None = None
    fps: float | None = None  # None: the source's own
    fourcc: str | None = None
    warmup_s: float = 1.0
    rotation: int = 0  # degrees clockwise, as LeRobot's Cv2Rotation

    @property
    def is_device(self) -> bool:
        """A camera (index or /dev path), which paces its own frames; else a video file."""
        return isinstance(self.index_or_path, int) or str(self.index_or_path).startswith("/dev/")


def image_topic(name: str) -> str:
    return IMAGE_TOPIC.format(name=name)


def compressed_topic(name: str) -> str:
    return f"{image_topic(name)}/compressed"


def _positive(camera: str, key: str, value: Any, kind: type) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)) \
            or value <= 0:
        raise ValueError(f"camera {camera}: {key} = {value!r} must be a positive {'integer' if kind is int else 'number'}")
    return kind(value)


def _camera(name: Any, body: Any) -> CameraSpec:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"camera name {name!r} must be letters, digits and _, not starting with a digit "
                         "(it becomes the topic camera/<name>/image_raw)")
    if not isinstance(body, dict):
        raise ValueError(f"camera {name}: expected a mapping such as {{type: opencv, index_or_path: 0}}, got {body!r}")
    unknown = sorted(set(body) - set(KEYS))
    if unknown:
        raise ValueError(f"camera {name}: unknown key(s) {unknown}; known: {list(KEYS)}")
    kind = body.get("type", "opencv")
    if kind != "opencv":
        raise ValueError(f"camera {name}: type {kind!r} is not supported; this node opens type opencv")
    if "index_or_path" not in body:
        raise ValueError(f"camera {name}: index_or_path is required (a device index, /dev/videoN or a video file)")
    source = body["index_or_path"]
    if isinstance(source, bool) or not isinstance(source, (int, str)) or source == "" or \
            (isinstance(source, int) and source < 0):
        raise ValueError(f"camera {name}: index_or_path = {source!r} must be a device index >= 0 or a path")
    width, height = (_positive(name, k, body.get(k), int) for k in ("width", "height"))
    if (width is None) != (height is None):
        raise ValueError(f"camera {name}: give both width and height, or neither")
    fourcc = body.get("fourcc")
    if fourcc is not None and (not isinstance(fourcc, str) or len(fourcc) != 4):
        raise ValueError(f"camera {name}: fourcc = {fourcc!r} must be 4 characters, e.g. MJPG or YUYV")
    warmup = body.get("warmup_s", 1.0)
    if isinstance(warmup, bool) or not isinstance(warmup, (int, float)) or warmup < 0:
        raise ValueError(f"camera {name}: warmup_s = {warmup!r} must be a number >= 0")
    rotation = body.get("rotation", 0)
    if rotation not in ROTATIONS or isinstance(rotation, bool):
        raise ValueError(f"camera {name}: rotation = {rotation!r} must be one of {list(ROTATIONS)}")
    if str(body.get("color_mode", "rgb")).lower() != "rgb":
        raise ValueError(f"camera {name}: color_mode {body['color_mode']!r}: the node publishes rgb8 only")
    return CameraSpec(name, source, width, height, _positive(name, "fps", body.get("fps"), float), fourcc,
                      float(warmup), int(rotation))


def parse_cameras(text: str) -> list[CameraSpec]:
    """`{name: {type: opencv, index_or_path: ..., ...}, ...}` -> one CameraSpec per camera, in order.
    ValueError with one line naming the camera and the key at fault."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at column {mark.column + 1}" if mark is not None else ""
        raise ValueError(f"cameras {text!r} is not a YAML mapping{where}: "
                         f"{getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, dict) or not data:
        raise ValueError(f"cameras {text!r} must be a mapping of camera names, e.g. "
                         "{front: {type: opencv, index_or_path: 0, width: 640, height: 480, fps: 30}}")
    return [_camera(name, body) for name, body in data.items()]
