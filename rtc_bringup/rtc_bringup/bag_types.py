"""A rosbags typestore that knows rtc_msgs, so bags of a run can be written and read without ROS.

The message definitions are read from rtc_msgs' installed share/ directory: the same .msg files the
ROS build used, so the CDR bytes rclpy hands over decode with the same layout.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

MESSAGES = ("ActionChunk", "ExecutorStatus", "InferenceTiming")


@lru_cache(maxsize=1)
def typestore() -> Typestore:
    from ament_index_python.packages import get_package_share_directory

    msg_dir = Path(get_package_share_directory("rtc_msgs")) / "msg"
    store = get_typestore(Stores.ROS2_KILTED)
    types = {}
    for name in MESSAGES:
        types.update(get_types_from_msg((msg_dir / f"{name}.msg").read_text(), f"rtc_msgs/msg/{name}"))
    store.register(types)
    return store
