"""rtc_play over real DDS: a written bag is published again from the start offset, in order, with
the offered QoS the bag carries and the bag time on /clock."""
from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosbags.rosbag2 import StoragePlugin, Writer
from test_report import make  # rosbags messages with empty defaults

from rtc_tools.bag_types import bag_qos, typestore

pytestmark = [pytest.mark.ros]

JOINT_STATE = "sensor_msgs/msg/JointState"
START_NS = 1_000 * 10**9
PERIOD_NS = 50 * 10**6


def write_joint_states(path, count: int) -> None:
    """`count` joint states 50 ms apart; message i has position [i] and header stamp i seconds."""
    store = typestore()
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        connection = writer.add_connection("/joint_states", JOINT_STATE, typestore=store,
                                           offered_qos_profiles=[bag_qos(QoSProfile(depth=10))])
        for i in range(count):
            header = make(store, "std_msgs/msg/Header", stamp=make(store, "builtin_interfaces/msg/Time", sec=i))
            msg = make(store, JOINT_STATE, header=header, name=["a"], position=np.array([float(i)]))
            writer.write(connection, START_NS + i * PERIOD_NS, store.serialize_cdr(msg, JOINT_STATE))


def test_play_publishes_from_the_offset_in_order_with_clock(tmp_path):
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import JointState

    write_joint_states(tmp_path / "bag", 40)
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node("play_test", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    received, clocks = [], []
    node.create_subscription(JointState, "/joint_states", lambda m: received.append(m.position[0]),
                             QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
    node.create_subscription(Clock, "/clock", lambda m: clocks.append(m.clock.sec * 10**9 + m.clock.nanosec), 100)
    try:
        play = subprocess.Popen([sys.executable, "-m", "rtc_tools.play", str(tmp_path / "bag"), "--start", "0.5",
                                 "--rate", "2", "--clock", "50", "--delay", "3"],  # --delay: discovery under load
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        while play.poll() is None:
            executor.spin_once(timeout_sec=0.05)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:  # what is still in flight
            executor.spin_once(timeout_sec=0.05)
        out, err = play.communicate()
        assert play.returncode == 0, err
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)
    # 0.5 s into the bag is message 10; all of the rest, in order
    assert received == [float(i) for i in range(10, 40)], received
    assert "published 30 messages" in out
    assert clocks and clocks == sorted(clocks)
    assert START_NS + 10 * PERIOD_NS - 10**8 <= clocks[0] and clocks[-1] <= START_NS + 40 * PERIOD_NS
