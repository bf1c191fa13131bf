"""Record a run into a rosbag2 directory (sqlite3 storage, as `ros2 bag record` writes it).

    python -m rtc_bringup.recorder OUT_DIR [--topics /a /b ...]

Messages are taken as serialized CDR (raw subscriptions), so what lands in the bag is the bytes on
the wire; `ros2 bag play` and rosbags read the result. Stops and closes the bag on SIGINT/SIGTERM.
"""
from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

import rclpy
from rclpy.signals import SignalHandlerOptions
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosbags.rosbag2 import Writer

from rtc_bringup.bag_types import typestore

DEFAULT_TOPICS = {
    "/joint_states": "sensor_msgs/msg/JointState",
    "/so100/command": "sensor_msgs/msg/JointState",
    "/rtc/action_chunk": "rtc_msgs/msg/ActionChunk",
    "/rtc/executor_status": "rtc_msgs/msg/ExecutorStatus",
    "/rtc/timing": "rtc_msgs/msg/InferenceTiming",
    "/diagnostics": "diagnostic_msgs/msg/DiagnosticArray",
}
# Reliable and deep: a recorder must not drop what a reliable publisher sends.
QOS = QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE)


def _ros_type(msgtype: str):
    package, _, name = msgtype.split("/")
    module = __import__(f"{package}.msg", fromlist=[name])
    return getattr(module, name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="bag directory to create (must not exist)")
    parser.add_argument("--topics", nargs="*", default=list(DEFAULT_TOPICS), help="topics to record")
    args = parser.parse_args(argv)
    unknown = [t for t in args.topics if t not in DEFAULT_TOPICS]
    if unknown:
        parser.error(f"no message type known for {unknown}; recordable: {list(DEFAULT_TOPICS)}")

    store = typestore()
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)  # our handler closes the bag
    node = rclpy.create_node("rtc_recorder")
    stopping = False

    def stop(_signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    with Writer(args.out, version=9) as writer:
        for topic in args.topics:
            msgtype = DEFAULT_TOPICS[topic]
            connection = writer.add_connection(topic, msgtype, typestore=store)

            def write(data: bytes, connection=connection) -> None:
                writer.write(connection, node.get_clock().now().nanoseconds, data)

            node.create_subscription(_ros_type(msgtype), topic, write, QOS, raw=True)
        while not stopping:
            rclpy.spin_once(node, timeout_sec=0.1)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
