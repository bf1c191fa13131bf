"""Publish a bag's messages again on their recorded schedule, where `ros2 bag play` is not installed:
a stand-in for `ros2 bag play`, which comes only with ROS 2 from apt (the wheels have no rosbag2).

    rtc_play BAG [--rate 1.0] [--start SECONDS] [--topics /a /b ...] [--clock HZ] [--allow-actuation]

Messages go out as the serialized bytes the bag holds, on publishers with the QoS the bag says was
offered (reliability, durability, depth), at bag time / rate after the start; `--start` skips the
first seconds of the bag; `--clock HZ` also publishes the bag time on /clock (rosgraph_msgs/Clock)
for nodes run with use_sim_time. A topic whose message type is not installed is left out, with one
line. Topics that move the arm or feed the executor's and the policy's view of it (the command
topics, joint states, executor status: rtc_contract.topics.ACTUATING_TOPICS) are left out, with one
line naming them, unless `--allow-actuation` is given: played into a live graph they would replay
the old episode open-loop against the executor. Ends after the last message, or on SIGINT/SIGTERM.
The same with ROS 2 from apt (which publishes every topic it is given):
`ros2 bag play BAG --rate R --start-offset S --topics ... [--clock HZ]`.
"""
from __future__ import annotations

import argparse
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from rtc_contract.topics import actuates
from rtc_tools.bag_reader import BagError, open_bag, raw_messages
from rtc_tools.bag_types import ros_message_class

ACK_WAIT_S = 2.0  # at the end, how long reliable readers get to acknowledge the last messages
DELAY_S = 1.0  # default --delay: after creating the publishers, let subscribers match before the first message


@dataclass(frozen=True)
class Schedule:
    """Bag time -> wall time: message at bag time t goes out at `wall_start + (t - bag_start) / rate`."""

    bag_start_ns: int
    wall_start_s: float
    rate: float

    def due(self, bag_ns: int) -> float:
        return self.wall_start_s + (bag_ns - self.bag_start_ns) / 1e9 / self.rate

    def bag_time_ns(self, wall_s: float) -> int:
        return self.bag_start_ns + int((wall_s - self.wall_start_s) * self.rate * 1e9)


def publisher_qos(offered: list):
    """rclpy QoS from the bag's offered profiles: reliable/transient only if every publisher was."""
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from rosbags.interfaces import QosDurability, QosReliability

    reliable = bool(offered) and all(q.reliability == QosReliability.RELIABLE for q in offered)
    transient = bool(offered) and all(q.durability == QosDurability.TRANSIENT_LOCAL for q in offered)
    depth = max([q.depth for q in offered if q.depth > 0], default=10)
    return QoSProfile(depth=depth,
                      reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL if transient else DurabilityPolicy.VOLATILE)


def play(bag: Path, rate: float, start_s: float, topics: list[str] | None, clock_hz: float,
         stopping=lambda: False, delay_s: float = DELAY_S, allow_actuation: bool = False) -> int:
    """Publish the bag; returns the number of messages published. Without `allow_actuation`, the
    actuating topics are left out (one line on stderr names them)."""
    import rclpy
    from rclpy.duration import Duration
    from rosgraph_msgs.msg import Clock

    node = rclpy.create_node("rtc_play")
    published = 0
    try:
        with open_bag(bag) as (reader, _store):
            chosen = [c for c in reader.connections if topics is None or c.topic in topics]
            absent = sorted(set(topics or ()) - {c.topic for c in reader.connections})
            if absent:
                raise BagError(f"the bag has no topic {', '.join(absent)}; it has "
                               f"{', '.join(sorted({c.topic for c in reader.connections}))}")
            if not allow_actuation:
                skipped = sorted({c.topic for c in chosen if actuates(c.topic)})
                if skipped:
                    print(f"rtc_play: not publishing {', '.join(skipped)} (they would drive the arm or the "
                          "executor; --allow-actuation publishes them)", file=sys.stderr)
                chosen = [c for c in chosen if not actuates(c.topic)]
            publishers = {}
            for connection in chosen:
                if connection.topic in publishers:
                    continue
                try:
                    msg_class = ros_message_class(connection.msgtype)
                except (ImportError, AttributeError, ValueError):
                    print(f"rtc_play: leaving out {connection.topic}: type {connection.msgtype} is not installed",
                          file=sys.stderr)
                    continue
                qos = publisher_qos(list(connection.ext.offered_qos_profiles))
                publishers[connection.topic] = node.create_publisher(msg_class, connection.topic, qos)
            clock_pub = node.create_publisher(Clock, "/clock", 10) if clock_hz > 0 else None
            connections = [c for c in chosen if c.topic in publishers]
            if not connections:
                return 0
            bag_start = reader.start_time + int(start_s * 1e9)
            time.sleep(delay_s)
            schedule = Schedule(bag_start, time.monotonic(), rate)
            next_clock = schedule.wall_start_s
            for connection, stamp_ns, raw in raw_messages(reader, connections, bag_start):
                if stopping():
                    break
                due = schedule.due(stamp_ns)
                while not stopping():
                    now = time.monotonic()
                    if clock_pub is not None and now >= next_clock:
                        msg = Clock()
                        bag_now = schedule.bag_time_ns(now)
                        msg.clock.sec, msg.clock.nanosec = divmod(bag_now, 10**9)
                        clock_pub.publish(msg)
                        next_clock = now + 1.0 / clock_hz
                    wake = min(due, next_clock) if clock_pub is not None else due
                    if now >= due:
                        break
                    time.sleep(min(wake - now, 0.05))
                publishers[connection.topic].publish(bytes(raw))
                published += 1
            # Exiting drops what a reliable reader has not acknowledged yet: the last messages.
            for publisher in publishers.values():
                publisher.wait_for_all_acked(Duration(seconds=ACK_WAIT_S))
    finally:
        node.destroy_node()
    return published


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rtc_play", description=__doc__.split("\n\n")[0])
    parser.add_argument("bag", type=Path)
    parser.add_argument("--rate", type=float, default=1.0, help="playback speed factor (2: twice as fast)")
    parser.add_argument("--start", type=float, default=0.0, metavar="SECONDS", help="skip the bag's first seconds")
    parser.add_argument("--topics", nargs="+", help="topics to publish; default: all")
    parser.add_argument("--clock", type=float, default=0.0, metavar="HZ", help="publish /clock at this rate")
    parser.add_argument("--delay", type=float, default=DELAY_S, metavar="SECONDS",
                        help="wait this long after creating the publishers, so that subscribers match first "
                        "(as ros2 bag play --delay)")
    parser.add_argument("--allow-actuation", action="store_true",
                        help="also publish the command topics, joint states and executor status (left out by "
                        "default: into a live graph they replay the recorded arm commands open-loop and "
                        "corrupt the executor's hold position and the policy's clock)")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.start < 0 or args.clock < 0 or not args.delay >= 0:
        print("rtc_play: --rate must be > 0, --start, --clock and --delay >= 0", file=sys.stderr)
        return 2
    import rclpy
    from rclpy.signals import SignalHandlerOptions

    stop = False

    def request_stop(_signum, _frame):
        nonlocal stop
        stop = True

    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        count = play(args.bag, args.rate, args.start, args.topics, args.clock, lambda: stop, args.delay,
                     args.allow_actuation)
    except BagError as exc:
        print(f"rtc_play: {exc}", file=sys.stderr)
        return 1
    finally:
        rclpy.try_shutdown()
    print(f"rtc_play: published {count} messages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
