"""What the live Foxglove server forwards, and how each topic becomes a Foxglove channel.

Plain data, no rclpy: the server node (rtc_tools.foxglove_server) wires it to subscriptions.
A channel carries a topic's CDR bytes unchanged (message encoding `cdr`) with the type's full
ROS 2 definition (schema encoding `ros2msg`, the text rosbag2 and MCAP store), which is what
`foxglove_bridge` advertises too: the Foxglove app decodes both alike, and one layout serves both.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rtc_contract import topics as contract_topics
from rtc_contract.topics import TASK_TOPIC, image_type
from rtc_tools.bag_types import message_definition

# What our graph's nodes publish (rtc_contract.topics: relative, they follow the graph's namespace,
# except the global /diagnostics; rtc/task is a user's input). Camera topics are the policy's (`camera_types`).
TOPIC_TYPES = {topic: msgtype for topic, msgtype in contract_topics.TOPIC_TYPES.items() if topic != TASK_TOPIC}
FORWARDED_TOPICS = tuple(TOPIC_TYPES)
DEFAULT_CAMERA_TOPICS = ("camera/front/image_raw",)
SCHEMA_ENCODING = "ros2msg"
MESSAGE_ENCODING = "cdr"


@dataclass(frozen=True)
class ChannelSpec:
    """One Foxglove channel: the topic (fully resolved), its ROS 2 type and that type's definition."""

    topic: str
    schema_name: str  # "pkg/msg/Name", as foxglove_bridge names it
    schema: str
    schema_encoding: str = SCHEMA_ENCODING
    message_encoding: str = MESSAGE_ENCODING


def camera_types(camera_topics: Sequence[str]) -> dict[str, str]:
    """The type of each camera topic, by the policy node's rule: a topic ending in /compressed is a
    sensor_msgs/CompressedImage, any other a sensor_msgs/Image."""
    return {t: image_type(t) for t in camera_topics}


def channel_spec(topic: str, msgtype: str) -> ChannelSpec:
    """The channel for `topic` of ROS 2 type `msgtype` ("pkg/msg/Name"); ValueError (one line,
    naming the topic) when the type's definition, or one it uses, is not known here."""
    try:
        return ChannelSpec(topic=topic, schema_name=msgtype, schema=message_definition(msgtype))
    except ValueError as exc:
        raise ValueError(f"{topic}: {exc}") from None


def latched(durabilities: Sequence[str]) -> bool:
    """Whether to subscribe reliable and transient local (to get a message published once before
    we joined, like robot_description): only when every publisher offers it. Everything else is
    taken best effort, which every publisher matches and which asks nothing of them."""
    return bool(durabilities) and all(d == "transient_local" for d in durabilities)
