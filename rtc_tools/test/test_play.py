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
                                 "--rate", "2", "--clock", "50", "--delay", "3",  # --delay: discovery under load
                                 "--allow-actuation"],
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


def write_live_graph_run(path, count: int) -> None:
    """`count` messages on each of a command topic, /joint_states, executor status (the actuating
    topics) and a harmless /chatter (std_msgs/String)."""
    from rtc_tools.bag_types import typestore_with

    store = typestore()
    status_type = "rtc_msgs/msg/ExecutorStatus"
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        qos = [bag_qos(QoSProfile(depth=10))]
        connections = {topic: (writer.add_connection(topic, msgtype, typestore=typestore_with(msgtype),
                                                     offered_qos_profiles=qos), msgtype)
                       for topic, msgtype in (("/so100/command", JOINT_STATE), ("/joint_states", JOINT_STATE),
                                              ("/rtc/executor_status", status_type),
                                              ("/chatter", "std_msgs/msg/String"))}
        for i in range(count):
            for topic, (connection, msgtype) in connections.items():
                if msgtype == JOINT_STATE:
                    msg = make(store, JOINT_STATE, name=["a"], position=np.array([float(i)]))
                elif msgtype == status_type:
                    msg = make(store, status_type, step=i, control_rate_hz=30.0)
                else:
                    msg = make(store, msgtype, data=str(i))
                writer.write(connection, START_NS + i * PERIOD_NS, store.serialize_cdr(msg, msgtype))


def test_play_publishes_no_actuating_topic_unless_allowed(tmp_path):
    """A bag with arm commands, joint states and executor status played into a live graph: without
    --allow-actuation none of those reach a subscriber (one line names them), the rest does; with
    it, all of them do."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rtc_msgs.msg import ExecutorStatus
    from sensor_msgs.msg import JointState
    from std_msgs.msg import String

    write_live_graph_run(tmp_path / "bag", 10)
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node("play_actuation_test", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    received = {}
    qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
    for topic, msg_type in (("/so100/command", JointState), ("/joint_states", JointState),
                            ("/rtc/executor_status", ExecutorStatus), ("/chatter", String)):
        node.create_subscription(msg_type, topic, lambda _m, topic=topic: received.setdefault(topic, []).append(1),
                                 qos)

    def run(*extra: str) -> tuple[dict, str]:
        received.clear()
        play = subprocess.Popen([sys.executable, "-m", "rtc_tools.play", str(tmp_path / "bag"), "--delay", "3",
                                 *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while play.poll() is None:
            executor.spin_once(timeout_sec=0.05)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        out, err = play.communicate()
        assert play.returncode == 0, err
        return {topic: len(got) for topic, got in received.items()}, err

    try:
        counts, err = run()
        assert counts == {"/chatter": 10}, counts
        notice = [line for line in err.splitlines() if "not publishing" in line]
        assert len(notice) == 1 and "--allow-actuation" in notice[0], err
        for topic in ("/joint_states", "/rtc/executor_status", "/so100/command"):
            assert topic in notice[0]
        counts, err = run("--allow-actuation")
        assert counts == {"/chatter": 10, "/joint_states": 10, "/rtc/executor_status": 10, "/so100/command": 10}
        assert "not publishing" not in err
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)
