"""A Foxglove WebSocket server that forwards the graph's topics, for watching a run live in the
Foxglove app without a ROS install (docs/foxglove.md): a stand-in for `foxglove_bridge`, which
comes only with ROS 2 from apt.

Parameters: `PARAMETERS` below (docs/foxglove.md shows the same table).
Topics: each topic of `topics` and `camera_topics` (relative names resolve in the node's namespace)
is subscribed once the graph shows a publisher of it; nothing is published, so the node is never on
the command path. Our topics' channels are advertised at start with the types our nodes publish
(foxglove_channels.TOPIC_TYPES, the cameras by the policy's rule), so that a client connected
before the policy has loaded never races a channel advertised while it is subscribing; a publisher
of another type re-advertises the channel with that type, and any other topic is advertised with the
type its publishers show. Subscriptions are best effort (every publisher matches them and none
waits for this node), except a topic whose publishers all offer transient local durability
(robot_description), taken reliable and transient local so its one message arrives; that message
is kept and sent again whenever a client subscribes to its channel, as a late ROS subscriber would
get it. Each message's CDR bytes go out unchanged on a Foxglove channel (encoding `cdr`, schema
`ros2msg` with the full message definition: rtc_tools.foxglove_channels). A topic whose type has
no definition here is skipped with one warning. A port that cannot be bound is one line on stderr
and exit code 1.
"""
from __future__ import annotations

import time

import foxglove
from foxglove.websocket import ServerListener
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rtc_runtime.node_main import StartupError, run_node
from rtc_runtime.parameters import ParameterSpec, declare

from rtc_tools.bag_types import ros_message_class
from rtc_tools.foxglove_channels import (DEFAULT_CAMERA_TOPICS, FORWARDED_TOPICS, TOPIC_TYPES, camera_types,
                                           channel_spec, latched)

PARAMETERS = (
    ParameterSpec("port", 8765, "TCP port of the WebSocket server (0: any free port, logged)", minimum=0,
                  maximum=65535),
    ParameterSpec("address", "127.0.0.1", "address the server listens on; 0.0.0.0 for other machines"),
    ParameterSpec("topics", list(FORWARDED_TOPICS), "topics to forward besides the cameras (relative names: in "
                  "the node's namespace)", unique=True),
    ParameterSpec("camera_topics", list(DEFAULT_CAMERA_TOPICS), "the policy's camera topics (ending in "
                  "/compressed: sensor_msgs/CompressedImage, else sensor_msgs/Image)", unique=True),
)
DISCOVERY_PERIOD_S = 0.5
DEPTH = 10
BEST_EFFORT = QoSProfile(depth=DEPTH, reliability=ReliabilityPolicy.BEST_EFFORT)
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


class LatchedTopics(ServerListener):
    """Keeps the last message of each latched topic and sends it again when a client subscribes to
    its channel, as DDS hands it to a late ROS subscriber (the server's other events: no-ops)."""

    def __init__(self) -> None:
        self.channels: dict[str, foxglove.Channel] = {}
        self.messages: dict[str, bytes] = {}

    def keep(self, channel: foxglove.Channel, data: bytes) -> None:
        self.channels[channel.topic()] = channel
        self.messages[channel.topic()] = data

    def on_subscribe(self, _client, channel) -> None:
        data = self.messages.get(channel.topic)
        if data is not None:  # the channel's other subscribers get it again too: harmless for a latch
            self.channels[channel.topic].log(data, log_time=time.time_ns())


class FoxgloveServerNode(Node):
    def __init__(self) -> None:
        super().__init__("foxglove_server")
        p = declare(self, PARAMETERS)
        self.fatal_error = ""
        known = {**{t: TOPIC_TYPES.get(t) for t in p["topics"]}, **camera_types(p["camera_topics"])}
        self.pending = {self.resolve_topic_name(t): msgtype for t, msgtype in known.items()}  # not subscribed yet
        self.channels: dict[str, foxglove.Channel] = {}
        self.subscriptions_by_topic = {}
        self.latched = LatchedTopics()
        self.foxglove_context = foxglove.Context()
        for topic, msgtype in self.pending.items():  # before any client connects: advertised on connection
            if msgtype:
                self.channels[topic] = self._channel(topic, msgtype)
        try:
            self.server = foxglove.start_server(name=self.get_fully_qualified_name(), host=p["address"],
                                                port=p["port"], context=self.foxglove_context,
                                                server_listener=self.latched)
        except RuntimeError as exc:
            reason = str(exc).removeprefix("FoxgloveError: ")
            raise StartupError(f"cannot serve on {p['address']}:{p['port']}: {reason}") from None
        self.get_logger().info(f"Foxglove WebSocket server on ws://{p['address']}:{self.server.port}, "
                               f"forwarding {len(self.pending)} topics once they have publishers")
        self.create_timer(DISCOVERY_PERIOD_S, self.discover)

    def start(self) -> None:
        self.discover()

    def stop(self) -> None:
        self.server.stop()

    def _channel(self, topic: str, msgtype: str) -> foxglove.Channel:
        spec = channel_spec(topic, msgtype)
        return foxglove.Channel(spec.topic, schema=foxglove.Schema(
            name=spec.schema_name, encoding=spec.schema_encoding, data=spec.schema.encode()),
            message_encoding=spec.message_encoding, context=self.foxglove_context)

    def discover(self) -> None:
        """Subscribe to each wanted topic that now has a publisher."""
        for topic in sorted(self.pending):
            infos = self.get_publishers_info_by_topic(topic)
            if not infos:
                continue
            del self.pending[topic]
            msgtype = infos[0].topic_type
            channel = self.channels.pop(topic, None)
            try:
                if channel is None or channel.schema_name() != msgtype:
                    if channel is not None:  # not the type our nodes publish: advertise the one it has
                        channel.close()
                    channel = self._channel(topic, msgtype)
                message_class = ros_message_class(msgtype)
            except (ValueError, ImportError, AttributeError) as exc:
                self.get_logger().warning(f"not forwarding {topic} ({msgtype}): {exc}")
                continue
            self.channels[topic] = channel
            keep = latched([info.qos_profile.durability.name.lower() for info in infos])
            self.subscriptions_by_topic[topic] = self.create_subscription(
                message_class, topic, lambda data, channel=channel, keep=keep: self.forward(channel, data, keep),
                LATCHED if keep else BEST_EFFORT, raw=True)
            self.get_logger().info(f"forwarding {topic} ({msgtype})")

    def forward(self, channel: foxglove.Channel, data: bytes, keep: bool) -> None:
        if keep:
            self.latched.keep(channel, data)
        channel.log(data, log_time=time.time_ns())


def main(args: list[str] | None = None) -> None:
    run_node("foxglove_server", FoxgloveServerNode, args=args)


if __name__ == "__main__":
    main()
