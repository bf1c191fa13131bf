"""The live view end to end: the simulated graph started by the runner with `--foxglove PORT`, and a
WebSocket client that subscribes the way the Foxglove app does and decodes every forwarded topic.

Each message is decoded twice: with rclpy's `deserialize_message` into the topic's own type (the
bytes are the CDR that DDS carried), and with MCAP's independent ros2msg parser from the definition
the channel advertised (what the Foxglove app does, which has no ROS types installed).
"""
from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from foxglove_client import connect_with_retry, free_port, receive
from node_threads import assert_control_loops_use_udp_only, node_threads

pytestmark = pytest.mark.ros

PKG = Path(__file__).resolve().parents[1]
ODD_TOPIC = "odd/request"  # a type with no .msg definition anywhere: a service's request
ODD_TYPE = "diagnostic_msgs/srv/SelfTest_Request"


def forwarded_types() -> dict:
    from diagnostic_msgs.msg import DiagnosticArray
    from rtc_msgs.msg import ActionChunk, ExecutorStatus, InferenceTiming
    from sensor_msgs.msg import Image, JointState
    from std_msgs.msg import String

    return {"/joint_states": JointState, "/so100/command": JointState, "/rtc/action_chunk": ActionChunk,
            "/rtc/executor_status": ExecutorStatus, "/rtc/timing": InferenceTiming,
            "/diagnostics": DiagnosticArray, "/robot_description": String, "/camera/front/image_raw": Image}


@pytest.mark.slow
def test_a_foxglove_client_decodes_every_forwarded_topic_of_a_simulated_run(processes, tmp_path):
    import rclpy
    from diagnostic_msgs.srv import SelfTest
    from mcap.records import Schema
    from mcap_ros2.decoder import DecoderFactory
    from rclpy.serialization import deserialize_message

    from rtc_tools.foxglove_channels import FORWARDED_TOPICS

    types = forwarded_types()
    config = tmp_path / "params.yaml"  # the simulated graph's file, and one topic of an unknown type
    config.write_text((PKG / "config" / "so100_sim.yaml").read_text() + "/**/foxglove_server:\n  ros__parameters:\n"
                      f"    topics: {[*FORWARDED_TOPICS, ODD_TOPIC]}\n")
    port = free_port()
    rclpy.init()
    try:
        odd = rclpy.create_node("odd_publisher")
        odd.create_publisher(SelfTest.Request, ODD_TOPIC, 1)
        runner = processes.start([sys.executable, "-m", "rtc_bringup.run", "--sim", "--duration", "120",
                                  "--foxglove", str(port), f"config_file:={config}"], name="runner")
        connect_with_retry(port, timeout=60)
        got = receive(port, timeout=90, wanted=set(types))
        threads = node_threads(runner.pid)  # while the graph runs: the commands and joint states reached the server
        # the server looks for the odd topic's publisher every discovery period: keep it until it has
        processes.wait_for_log(runner, f"not forwarding /{ODD_TOPIC} ({ODD_TYPE})", timeout=30)
        odd.destroy_node()
    finally:
        rclpy.try_shutdown()
    assert processes.stop(runner) == 0, processes.log(runner)[-4000:]
    log = processes.log(runner)

    assert sorted(set(types) - set(got.messages)) == [], f"no message on these; log:\n{log[-4000:]}"
    decoders = DecoderFactory()
    for topic, message_type in types.items():
        channel = got.channels[topic]
        schema_name = f"{message_type.__module__.split('.')[0]}/msg/{message_type.__name__}"
        assert (channel["encoding"], channel["schemaEncoding"], channel["schemaName"]) == ("cdr", "ros2msg",
                                                                                           schema_name)
        decode = decoders.decoder_for("cdr", Schema(id=channel["id"], name=channel["schemaName"],
                                                    encoding="ros2msg", data=channel["schema"].encode()))
        for payload in got.messages[topic]:
            message = deserialize_message(payload, message_type)
            parsed = decode(payload)
            assert parsed.header.stamp.sec == message.header.stamp.sec if hasattr(message, "header") \
                else parsed.data == message.data
    chunk = deserialize_message(got.messages["/rtc/action_chunk"][0], types["/rtc/action_chunk"])
    assert chunk.length * chunk.action_dim == len(chunk.actions) > 0
    joints = deserialize_message(got.messages["/joint_states"][0], types["/joint_states"])
    assert list(joints.name)[:1] == ["shoulder_pan"] and len(joints.position) == len(joints.name)
    image = deserialize_message(got.messages["/camera/front/image_raw"][0], types["/camera/front/image_raw"])
    assert len(image.data) == image.height * image.step > 0
    assert "<robot" in deserialize_message(got.messages["/robot_description"][0], types["/robot_description"]).data

    assert "run: control loops: DDS over UDP only" in log
    assert_control_loops_use_udp_only(threads)
    assert f"/{ODD_TOPIC}" not in got.channels
    assert f"not forwarding /{ODD_TOPIC} ({ODD_TYPE})" in log
    assert "Callback failed" not in log and "Traceback" not in log  # the client's unsubscribe on leaving


def test_a_port_in_use_is_one_line_and_a_non_zero_exit(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "rtc_tools.foxglove_server", "--ros-args", "-p",
                                 f"port:={port}"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"foxglove_server: cannot serve on 127.0.0.1:{port}: Failed to bind port: Address already in use (os error 98)"]


def test_topics_resolve_in_the_namespace_and_are_advertised_before_any_publisher(processes):
    import re
    import time

    from rtc_tools.foxglove_channels import TOPIC_TYPES

    proc = processes.start([sys.executable, "-m", "rtc_tools.foxglove_server", "--ros-args", "-r", "__ns:=/arm1",
                            "-p", "port:=0", "-p", "camera_topics:=[cam/image_raw/compressed]"], name="server")
    deadline = time.monotonic() + 30
    while not (found := re.search(r"ws://127\.0\.0\.1:(\d+)", processes.log(proc))):
        assert proc.poll() is None and time.monotonic() < deadline, processes.log(proc)
        time.sleep(0.1)
    got = receive(int(found.group(1)), timeout=2.0)
    assert {topic: channel["schemaName"] for topic, channel in got.channels.items()} == {
        **{t if t.startswith("/") else f"/arm1/{t}": msgtype for t, msgtype in TOPIC_TYPES.items()},
        "/arm1/cam/image_raw/compressed": "sensor_msgs/msg/CompressedImage"}
    assert processes.stop(proc) == 0, processes.log(proc)
