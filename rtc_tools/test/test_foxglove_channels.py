"""The live view's channel table, without a ROS graph: which topics, and each channel's schema.

The schema text is checked against an independent ros2msg parser (mcap_ros2, the decoder MCAP's
tools use; the Foxglove app parses the same format): CDR bytes that rclpy serializes decode with it
to the same field values. The layout in config/ reads only forwarded topics and fields that exist.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rtc_tools.foxglove_channels import (DEFAULT_CAMERA_TOPICS, FORWARDED_TOPICS, TOPIC_TYPES, camera_types,
                                           channel_spec, latched)
from rtc_tools.recorder import RECORDED_TOPICS

SEPARATOR = "=" * 80


def test_forwarded_topics_are_ours_with_the_types_our_nodes_publish():
    # Everything a recording keeps is on the live view too (relative there, to follow a namespace).
    assert {t.lstrip("/"): ty for t, ty in RECORDED_TOPICS.items()}.items() <= \
        {t.lstrip("/"): ty for t, ty in TOPIC_TYPES.items()}.items()
    assert camera_types(["cam/front/image_raw", "/wrist/image_raw/compressed"]) == {
        "cam/front/image_raw": "sensor_msgs/msg/Image", "/wrist/image_raw/compressed": "sensor_msgs/msg/CompressedImage"}
    for topic, msgtype in {**TOPIC_TYPES, **camera_types(DEFAULT_CAMERA_TOPICS)}.items():
        assert channel_spec(topic, msgtype).schema


def test_channel_carries_the_full_definition_as_rosbag2_writes_it():
    spec = channel_spec("/rtc/executor_status", "rtc_msgs/msg/ExecutorStatus")
    assert (spec.topic, spec.schema_name, spec.schema_encoding, spec.message_encoding) == \
        ("/rtc/executor_status", "rtc_msgs/msg/ExecutorStatus", "ros2msg", "cdr")
    main, *used = spec.schema.split(SEPARATOR + "\n")
    assert "int32 last_d_real" in main and "uint64 step" in main
    assert {block.splitlines()[0] for block in used} == {"MSG: std_msgs/Header", "MSG: builtin_interfaces/Time"}


def test_a_type_without_a_definition_is_one_line_naming_the_topic():
    with pytest.raises(ValueError, match=r"^/odd: no message definition for nonexistent_msgs/msg/Foo") as info:
        channel_spec("/odd", "nonexistent_msgs/msg/Foo")
    assert "\n" not in str(info.value)


def test_only_an_all_transient_local_topic_is_taken_latched():
    assert latched(["transient_local"]) and latched(["transient_local", "transient_local"])
    assert not latched(["transient_local", "volatile"]) and not latched(["volatile"]) and not latched([])


def _timing():
    from rtc_msgs.msg import InferenceTiming

    return InferenceTiming(chunk_id=7, policy_inference_ms=12.5, last_d_real=3, end_to_end_ms=40.25)


def _image():
    from sensor_msgs.msg import Image

    return Image(height=2, width=3, encoding="rgb8", step=9, data=bytes(range(18)))


def _chunk():
    from rtc_msgs.msg import ActionChunk

    return ActionChunk(chunk_id=4, joint_names=["a", "b"], length=2, action_dim=2, actions=[0.5, -1.0, 2.0, 0.25],
                       source_step=99, guidance_mode="identity")


def _diagnostics():
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

    return DiagnosticArray(status=[DiagnosticStatus(level=DiagnosticStatus.WARN, name="rtc_executor: timing",
                                                    values=[KeyValue(key="missed_ticks", value="2")])])


@pytest.mark.parametrize("make, check", [
    (_timing, lambda m: (m.chunk_id, m.policy_inference_ms, m.last_d_real, m.end_to_end_ms) == (7, 12.5, 3, 40.25)),
    (_image, lambda m: (m.height, m.width, m.encoding, bytes(m.data)) == (2, 3, "rgb8", bytes(range(18)))),
    (_chunk, lambda m: (m.chunk_id, list(m.joint_names), list(m.actions), m.source_step)
     == (4, ["a", "b"], [0.5, -1.0, 2.0, 0.25], 99)),
    (_diagnostics, lambda m: (m.status[0].level, m.status[0].values[0].key) == (1, "missed_ticks")),
])
def test_schema_decodes_rclpy_bytes_in_an_independent_parser(make, check):
    pytest.importorskip("rclpy")
    from mcap.records import Schema
    from mcap_ros2.decoder import DecoderFactory
    from rclpy.serialization import serialize_message

    message = make()
    msgtype = f"{type(message).__module__.split('.')[0]}/msg/{type(message).__name__}"
    spec = channel_spec("/t", msgtype)
    decode = DecoderFactory().decoder_for(spec.message_encoding, Schema(
        id=1, name=spec.schema_name, encoding=spec.schema_encoding, data=spec.schema.encode()))
    assert check(decode(serialize_message(message)))


LAYOUT = Path(__file__).resolve().parents[2] / "rtc_bringup" / "config" / "foxglove_layout.json"  # shipped with the graph
LAYOUT_TYPES = {"/rtc/timing": "rtc_msgs/msg/InferenceTiming", "/rtc/executor_status": "rtc_msgs/msg/ExecutorStatus",
                "/joint_states": "sensor_msgs/msg/JointState", "/so100/command": "sensor_msgs/msg/JointState",
                "/camera/front/image_raw": "sensor_msgs/msg/Image",
                "/diagnostics": "diagnostic_msgs/msg/DiagnosticArray"}


def _layout_paths() -> list[str]:
    """Every topic or message path the layout's panels read."""
    found = []

    def visit(value, key=""):
        if isinstance(value, dict):
            for k, v in value.items():
                visit(v, k)
        elif isinstance(value, list):
            for v in value:
                visit(v, key)
        elif isinstance(value, str) and value.startswith("/") and key in ("value", "imageTopic", "topicToRender"):
            found.append(value)

    visit(json.loads(LAYOUT.read_text())["configById"])
    return found


def test_the_layout_reads_forwarded_topics_and_fields_that_exist():
    paths = _layout_paths()
    topics = {re.match(r"(/[\w/]+)", p).group(1) for p in paths}
    assert topics == set(LAYOUT_TYPES), "panels read these topics"
    assert {t.lstrip("/") for t in topics} <= {t.lstrip("/") for t in (*FORWARDED_TOPICS, *DEFAULT_CAMERA_TOPICS)}
    for path in paths:
        topic, _, field = path.partition(".")
        if field:
            name = re.match(r"\w+", field).group(0)
            definition = channel_spec(topic, LAYOUT_TYPES[topic]).schema.split("=" * 80)[0]
            assert re.search(rf"^\S+ {name}$", definition, re.M), f"{path}: no field {name} in {LAYOUT_TYPES[topic]}"


def test_the_layout_places_every_panel_it_configures():
    layout = json.loads(LAYOUT.read_text())
    placed = set(re.findall(r'"(\w+![\w]+)"', json.dumps(layout["layout"])))
    assert placed == set(layout["configById"])
