"""rtc_msgs over real DDS: an ActionChunk published by one process arrives bit-exact in another."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PEER = Path(__file__).with_name("msg_peer.py")

pytestmark = pytest.mark.ros


def test_messages_import_with_documented_constants():
    from rtc_msgs.msg import ActionChunk, ExecutorStatus, InferenceTiming

    assert {ActionChunk.MODE_OFF, ActionChunk.MODE_IDENTITY, ActionChunk.MODE_VJP,
            ActionChunk.MODE_PREFIX} == {"off", "identity", "vjp", "prefix"}
    assert {ExecutorStatus.MODE_RTC, ExecutorStatus.MODE_APPEND,
            ExecutorStatus.MODE_REPLACE} == {"rtc", "append", "replace"}
    timing_fields = InferenceTiming.get_fields_and_field_types()
    scalar_ms = [f for f in timing_fields if f.endswith("_ms")]
    assert "policy_inference_ms" in scalar_ms
    assert all(timing_fields[f] == "double" for f in scalar_ms)


def test_action_chunk_round_trips_between_processes(processes):
    sys.path.insert(0, str(PEER.parent))
    try:
        import msg_peer
    finally:
        sys.path.pop(0)
    expected = msg_peer.as_dict(msg_peer.reference_chunk())

    pub = processes.start(["python", str(PEER), "pub"], name="pub")
    sub = processes.start(["python", str(PEER), "sub"], name="sub")
    try:
        sub.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("no ActionChunk received within 60 s; publisher log:\n" + processes.log(pub))
    lines = processes.log(sub).strip().splitlines()
    assert sub.returncode == 0, processes.log(sub)
    received = json.loads(lines[-1])
    assert received == expected
    assert len(received["actions_bits"]) == 50 * 6
    assert pub.poll() is None, "publisher died: " + processes.log(pub)
