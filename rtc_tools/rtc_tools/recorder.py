"""Record a run into a rosbag2 directory: MCAP by default (rosbag2's default since Iron), sqlite3 on
request, written with rosbags, so `ros2 bag info|play`, rosbags, the `mcap` tools, Foxglove and
PlotJuggler open it. A stand-in for `ros2 bag record -s mcap`, which comes only with ROS 2 from apt
(the ROS 2 wheels have no rosbag2).

    python -m rtc_tools.recorder OUT_DIR [--storage mcap|sqlite3] [--images compressed|raw|none]
                                           [--cameras TOPIC ...] [--topics EXTRA_TOPIC ...]

What a replay needs is recorded by default: RECORDED_TOPICS and the camera topics. Camera images
are compressed losslessly to PNG by default (`<topic>/compressed`, sensor_msgs/CompressedImage, the
header kept), so an offline replay sees the exact pixels the policy saw; `--images raw` keeps the
raw Image, `none` leaves cameras out. A topic is subscribed once a publisher of it appears, with the
type the graph reports and a QoS that matches every publisher (reliable only if all of them are, as
`ros2 bag record` does); our own topics are subscribed at once (reliable, as our nodes publish
them). The publishers' offered QoS and each type's message definition go into the bag.
Messages are taken as serialized CDR (raw subscriptions): what lands in the bag is the bytes on the
wire. Stops and closes the bag on SIGINT/SIGTERM.
"""
from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import rclpy
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import serialize_message
from rclpy.signals import SignalHandlerOptions
from rosbags.rosbag2 import StoragePlugin, Writer

from rtc_contract.topics import (ACTION_CHUNK_TOPIC, COMMAND_TOPICS, COMPRESSED_IMAGE_TYPE, DIAGNOSTICS_TOPIC,
                                 EXECUTOR_STATUS_TOPIC, IMAGE_TYPE, JOINT_STATES_TOPIC, TIMING_TOPIC, root_types)
from rtc_runtime.node_main import stop_on_signals
from rtc_tools.bag_types import bag_qos, ros_message_class, typestore_with

# Our nodes' topics, all published reliably: subscribed at start, so that the first messages (the
# policy node waits for every chunk reader to match before its first chunk) are recorded.
RECORDED_TOPICS = root_types(JOINT_STATES_TOPIC, COMMAND_TOPICS["joint_state"], COMMAND_TOPICS["float64_array"],
                             ACTION_CHUNK_TOPIC, EXECUTOR_STATUS_TOPIC, TIMING_TOPIC, DIAGNOSTICS_TOPIC)
DEFAULT_CAMERAS = ("/camera/front/image_raw",)
STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
DEPTH = 200  # keep-last depth of every subscription: a recorder must not drop a burst
DISCOVERY_PERIOD_S = 0.5


RELIABLE = QoSProfile(depth=DEPTH, reliability=ReliabilityPolicy.RELIABLE)


def subscription_qos(offered: list) -> QoSProfile:
    """A QoS that matches every publisher in `offered` (rclpy QoSProfiles)."""
    reliable = all(q.reliability == ReliabilityPolicy.RELIABLE for q in offered)
    transient = all(q.durability == DurabilityPolicy.TRANSIENT_LOCAL for q in offered)
    return QoSProfile(depth=DEPTH,
                      reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL if transient else DurabilityPolicy.VOLATILE)


def png_compressed(image):
    """sensor_msgs/Image -> sensor_msgs/CompressedImage, PNG (lossless), same header; None for an
    encoding the policy node cannot read either."""
    from PIL import Image as PILImage
    from rtc_contract.image_decoding import raw_to_rgb
    from sensor_msgs.msg import CompressedImage

    try:
        rgb = raw_to_rgb(image.encoding, image.height, image.width, image.step, bytes(image.data))
    except ValueError:
        return None
    buffer = io.BytesIO()
    PILImage.fromarray(rgb).save(buffer, format="PNG", compress_level=1)
    return CompressedImage(header=image.header, format="rgb8; png compressed rgb8", data=buffer.getvalue())


class Recorder:
    """Subscribes to the wanted topics (ours at once, others as their publishers appear) and writes
    what arrives. A topic's bag connection is made with its first message, when the graph knows
    the QoS its publishers offer."""

    def __init__(self, node, writer: Writer, extra_topics: list[str], cameras: list[str], images: str) -> None:
        self.node, self.writer = node, writer
        self.pending = (set(extra_topics) | (set(cameras) if images != "none" else set())) - set(RECORDED_TOPICS)
        self.compress = set(cameras) if images == "compressed" else set()
        self.connections: dict[str, object] = {}
        self.subscriptions = []
        for topic, msgtype in RECORDED_TOPICS.items():
            self._subscribe(topic, msgtype, RELIABLE)

    def discover(self) -> None:
        types = dict(self.node.get_topic_names_and_types())
        for topic in sorted(self.pending):
            infos = self.node.get_publishers_info_by_topic(topic)
            if not infos or topic not in types:
                continue
            self.pending.discard(topic)
            msgtype = types[topic][0]
            try:
                typestore_with(msgtype)
                self._subscribe(topic, msgtype, subscription_qos([info.qos_profile for info in infos]))
            except (KeyError, ValueError, ImportError, AttributeError) as exc:
                print(f"recorder: not recording {topic} ({msgtype}): {exc}", file=sys.stderr, flush=True)

    def _subscribe(self, topic: str, msgtype: str, qos: QoSProfile) -> None:
        if topic in self.compress and msgtype == IMAGE_TYPE:
            def write_compressed(image, topic=f"{topic}/compressed", source=topic) -> None:
                compressed = png_compressed(image)
                if compressed is not None:
                    self._write(topic, COMPRESSED_IMAGE_TYPE, source, serialize_message(compressed))

            self.subscriptions.append(
                self.node.create_subscription(ros_message_class(msgtype), topic, write_compressed, qos))
        else:
            def write(data: bytes, topic=topic, msgtype=msgtype) -> None:
                self._write(topic, msgtype, topic, data)

            self.subscriptions.append(
                self.node.create_subscription(ros_message_class(msgtype), topic, write, qos, raw=True))

    def _write(self, topic: str, msgtype: str, source: str, data: bytes) -> None:
        connection = self.connections.get(topic)
        if connection is None:
            offered = [bag_qos(info.qos_profile) for info in self.node.get_publishers_info_by_topic(source)]
            connection = self.writer.add_connection(topic, msgtype, typestore=typestore_with(msgtype),
                                                    offered_qos_profiles=offered)
            self.connections[topic] = connection
            print(f"recorder: recording {topic} ({msgtype})", flush=True)
        self.writer.write(connection, self.node.get_clock().now().nanoseconds, data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="bag directory to create (must not exist)")
    parser.add_argument("--storage", choices=sorted(STORAGES), default="mcap", help="storage format (default mcap)")
    parser.add_argument("--images", choices=("compressed", "raw", "none"), default="compressed",
                        help="camera images: PNG-compressed (default, lossless), raw, or none")
    parser.add_argument("--cameras", nargs="*", default=list(DEFAULT_CAMERAS), help="camera image topics (raw)")
    parser.add_argument("--topics", nargs="*", default=[], help="extra topics to record, any type")
    args = parser.parse_args(argv)
    if args.out.exists():
        print(f"recorder: {args.out} exists; give a new directory", file=sys.stderr)
        return 2

    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)  # our handler closes the bag
    node = rclpy.create_node("rtc_recorder")
    stop = stop_on_signals()
    with Writer(args.out, version=Writer.VERSION_LATEST, storage_plugin=STORAGES[args.storage]) as writer:
        recorder = Recorder(node, writer, args.topics, args.cameras, args.images)
        node.create_timer(DISCOVERY_PERIOD_S, recorder.discover)
        recorder.discover()
        while not stop.is_set():
            rclpy.spin_once(node, timeout_sec=0.1)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
