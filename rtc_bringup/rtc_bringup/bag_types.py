"""A rosbags typestore that knows rtc_msgs, so bags of a run can be written and read without ROS.

The message definitions are read from rtc_msgs' installed share/ directory: the same .msg files the
ROS build used, so the CDR bytes rclpy hands over decode with the same layout. A bag is read with
the definitions it was recorded with (`bag_typestore`), so a bag from an older release still reads.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

MESSAGES = ("ActionChunk", "ExecutorStatus", "InferenceTiming")


def installed_definition(msgtype: str) -> str:
    from ament_index_python.packages import get_package_share_directory

    name = msgtype.rsplit("/", 1)[1]
    return (Path(get_package_share_directory("rtc_msgs")) / "msg" / f"{name}.msg").read_text()


@lru_cache(maxsize=1)
def typestore() -> Typestore:
    store = get_typestore(Stores.ROS2_KILTED)
    types = {}
    for name in MESSAGES:
        msgtype = f"rtc_msgs/msg/{name}"
        types.update(get_types_from_msg(installed_definition(msgtype), msgtype))
    store.register(types)
    return store


def bag_typestore(reader: Reader) -> Typestore:
    """ROS 2 Kilted's types, and rtc_msgs as the open bag `reader` recorded them (the installed
    definition for a connection that carries none)."""
    store = get_typestore(Stores.ROS2_KILTED)
    types = {}
    for connection in reader.connections:
        if connection.msgtype.startswith("rtc_msgs/"):
            recorded = connection.msgdef.data if connection.msgdef else ""
            types.update(get_types_from_msg(recorded or installed_definition(connection.msgtype), connection.msgtype))
    store.register(types)
    return store
