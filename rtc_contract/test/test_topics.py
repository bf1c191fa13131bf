"""Which resolved topics actuate the arm (rtc_play leaves them out by default), in any namespace."""
from __future__ import annotations

import pytest

from rtc_contract.topics import COMMAND_TOPICS, actuates


@pytest.mark.parametrize("topic", ["/so100/command", "/arm1/so100/command_array", "/so100/joint_trajectory",
                                   "/joint_states", "/arm1/joint_states", "/rtc/executor_status",
                                   "/arm1/rtc/executor_status", *COMMAND_TOPICS.values()])
def test_command_joint_state_and_status_topics_actuate(topic):
    assert actuates(topic)


@pytest.mark.parametrize("topic", ["/rtc/action_chunk", "/rtc/timing", "/diagnostics", "/camera/front/image_raw",
                                   "/my_joint_states", "/so100/command_echo", "/tf"])
def test_other_topics_do_not(topic):
    assert not actuates(topic)


def test_every_topic_has_a_type_and_our_types_exist():
    from pathlib import Path

    from rtc_contract.topics import ACTION_CHUNK_TOPIC, EXECUTOR_STATUS_TOPIC, TASK_TOPIC, TIMING_TOPIC, TOPIC_TYPES

    assert {ACTION_CHUNK_TOPIC, EXECUTOR_STATUS_TOPIC, TIMING_TOPIC, TASK_TOPIC, *COMMAND_TOPICS.values()} \
        <= set(TOPIC_TYPES)
    msg_dir = Path(__file__).resolve().parents[2] / "rtc_msgs" / "msg"
    for msgtype in TOPIC_TYPES.values():
        package, kind, name = msgtype.split("/")
        assert kind == "msg" and name[0].isupper(), msgtype
        if package == "rtc_msgs":
            assert (msg_dir / f"{name}.msg").is_file(), msgtype


def test_camera_types_and_root_names():
    from rtc_contract.topics import image_type, in_root, root_types

    assert image_type("camera/front/image_raw") == "sensor_msgs/msg/Image"
    assert image_type("camera/front/image_raw/compressed") == "sensor_msgs/msg/CompressedImage"
    assert in_root("rtc/timing") == "/rtc/timing" and in_root("/diagnostics") == "/diagnostics"
    assert root_types("joint_states", "/diagnostics") == {"/joint_states": "sensor_msgs/msg/JointState",
                                                         "/diagnostics": "diagnostic_msgs/msg/DiagnosticArray"}
