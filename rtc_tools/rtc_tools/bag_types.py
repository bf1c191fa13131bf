"""A rosbags typestore that knows rtc_msgs, so bags of a run can be written and read without ROS.

The message definitions are read from rtc_msgs' installed share/ directory: the same .msg files the
ROS build used, so the CDR bytes rclpy hands over decode with the same layout, and the bag carries
them for other tools (`message_definition`, which the live Foxglove server sends too). A bag is
read with the definitions it was recorded with (`bag_typestore`), so a bag from an older release
still reads. `bag_qos` turns a publisher's rclpy QoS into the offered
QoS profile rosbag2 keeps in metadata.yaml (what `ros2 bag play` offers again).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, TypesysError, get_types_from_idl, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

MESSAGES = ("ActionChunk", "ExecutorStatus", "InferenceTiming")


def ros_message_class(msgtype: str):
    """The rclpy message class of `msgtype` ("pkg/msg/Name"); ImportError/AttributeError if not installed."""
    package, _, name = msgtype.split("/")
    return getattr(__import__(f"{package}.msg", fromlist=[name]), name)


def installed_definition(msgtype: str) -> str:
    """The .msg text of `msgtype` ("pkg/msg/Name") from its package's installed share/ directory."""
    from ament_index_python.packages import get_package_share_directory

    package, _, name = msgtype.split("/")
    return (Path(get_package_share_directory(package)) / "msg" / f"{name}.msg").read_text()


@lru_cache(maxsize=1)
def typestore() -> Typestore:
    store = get_typestore(Stores.ROS2_KILTED)
    types = {}
    for name in MESSAGES:
        msgtype = f"rtc_msgs/msg/{name}"
        types.update(get_types_from_msg(installed_definition(msgtype), msgtype))
    store.register(types)
    return store


def typestore_with(msgtype: str) -> Typestore:
    """`typestore()`, also knowing `msgtype` (from its installed .msg if ROS 2 Kilted's store lacks
    it). ValueError when its definition, or one it uses, is not found."""
    store = typestore()
    try:
        if msgtype not in store.fielddefs:
            store.register(get_types_from_msg(installed_definition(msgtype), msgtype))
        store.generate_msgdef(msgtype, ros_version=2)
    except (KeyError, OSError, TypesysError, ValueError) as exc:
        raise ValueError(f"no message definition for {msgtype}: {exc}") from None
    return store


def message_definition(msgtype: str) -> str:
    """The full ROS 2 definition of `msgtype` as rosbag2 and MCAP carry it (schema encoding
    `ros2msg`): its .msg text, then each type it uses after a line of 80 `=` and `MSG: pkg/Type`.
    ValueError when a definition is not found."""
    return typestore_with(msgtype).generate_msgdef(msgtype, ros_version=2)[0]


def _qos_time(duration) -> QosTime:
    nanoseconds = duration.nanoseconds
    return QosTime(nanoseconds // 10**9, nanoseconds % 10**9)


def bag_qos(profile) -> Qos:
    """An rclpy QoSProfile as rosbag2's offered QoS profile (enum values are rmw's in both)."""
    return Qos(
        history=QosHistory(int(profile.history)), depth=profile.depth,
        reliability=QosReliability(int(profile.reliability)), durability=QosDurability(int(profile.durability)),
        deadline=_qos_time(profile.deadline), lifespan=_qos_time(profile.lifespan),
        liveliness=QosLiveliness(int(profile.liveliness)),
        liveliness_lease_duration=_qos_time(profile.liveliness_lease_duration),
        avoid_ros_namespace_conventions=bool(profile.avoid_ros_namespace_conventions))


def bag_typestore(reader: Reader) -> Typestore:
    """ROS 2 Kilted's types, rtc_msgs as the open bag `reader` recorded them (the installed definition
    for a connection that carries none), and any other type the bag defines. A type with neither a
    definition nor an installed one stays unknown (decoding it is the caller's error)."""
    store = get_typestore(Stores.ROS2_KILTED)
    for connection in reader.connections:
        recorded = connection.msgdef.data if connection.msgdef else ""
        ours = connection.msgtype.startswith("rtc_msgs/")
        if not ours and (connection.msgtype in store.fielddefs or not recorded):
            continue
        definition = recorded or installed_definition(connection.msgtype)
        if connection.msgdef and connection.msgdef.format.name == "IDL":
            types = get_types_from_idl(definition)
        else:
            types = get_types_from_msg(definition, connection.msgtype)
        store.register(types)
    return store
