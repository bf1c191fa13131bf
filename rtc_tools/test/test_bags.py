"""Bags written the way rosbag2 writes them (rosbags' Writer, MCAP and sqlite3): the report reads
both alike, and hostile bags (truncated, unknown type, missing topic, out-of-order stamps, another
robot's joints) get one clear line from the report, the replay and the player, never a traceback."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer
from test_report import make  # rosbags messages with empty defaults

from rtc_tools.bag_types import typestore, typestore_with
from rtc_tools.play import Schedule
from rtc_tools.report import main as report_main
from rtc_tools.report import read_bag, summarize

STATUS = "rtc_msgs/msg/ExecutorStatus"
CHUNK = "rtc_msgs/msg/ActionChunk"
JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]
STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}


def write_run(path: Path, storage: str = "mcap", joints: list[str] = JOINTS, order=lambda ticks: ticks,
              topics: tuple[str, ...] = ("/rtc/action_chunk", "/rtc/executor_status", "/joint_states",
                                         "/camera/front/image_raw"), task: dict[str, str] | None = None,
              compressed: bool = False, diagnostic: str = "sim_camera: task") -> None:
    """Chunk 1 from tick 0, chunk 2 (source_step 3) merged with d_real 2 after tick 4; statuses of
    ticks 0..8 received (stamped) in the order `order` gives; one joint state and one image; with
    `task`, one /diagnostics message with those values as the status named `diagnostic`; `compressed`: MCAP
    chunks compressed with zstd, as rosbag2's default storage preset writes them."""
    store = typestore()
    time = make(store, "builtin_interfaces/msg/Time", sec=1, nanosec=0)
    writer = Writer(path, version=9, storage_plugin=STORAGES[storage])
    if compressed:
        writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
    with writer:
        connections = {t: writer.add_connection(t, m, typestore=typestore_with(m)) for t, m in (
            ("/rtc/action_chunk", CHUNK), ("/rtc/executor_status", STATUS),
            ("/joint_states", "sensor_msgs/msg/JointState"), ("/camera/front/image_raw", "sensor_msgs/msg/Image"),
            ("/diagnostics", "diagnostic_msgs/msg/DiagnosticArray"),
        ) if t in topics or (task is not None and t == "/diagnostics")}

        def write(topic: str, t_ns: int, msgtype: str, msg) -> None:
            if topic in connections:
                writer.write(connections[topic], t_ns, store.serialize_cdr(msg, msgtype))

        header = make(store, "std_msgs/msg/Header", stamp=time)
        if task is not None:
            values = [make(store, "diagnostic_msgs/msg/KeyValue", key=k, value=v) for k, v in task.items()]
            status = make(store, "diagnostic_msgs/msg/DiagnosticStatus", name=diagnostic, values=values)
            write("/diagnostics", 10**9, "diagnostic_msgs/msg/DiagnosticArray",
                  make(store, "diagnostic_msgs/msg/DiagnosticArray", header=header, status=[status]))
        write("/joint_states", 10**8, "sensor_msgs/msg/JointState", make(
            store, "sensor_msgs/msg/JointState", header=header, name=joints, position=np.zeros(len(joints))))
        write("/camera/front/image_raw", 10**8, "sensor_msgs/msg/Image", make(
            store, "sensor_msgs/msg/Image", header=header, height=2, width=2, encoding="rgb8", step=6,
            data=np.zeros(12, np.uint8)))
        for chunk_id, source_step in ((1, 0), (2, 3)):
            rows = (0.5 * (chunk_id - 1) + 0.01 * np.arange(10, dtype=np.float32))[:, None].repeat(len(joints), 1)
            write("/rtc/action_chunk", chunk_id * 2 * 10**8, CHUNK, make(
                store, CHUNK, header=header, state_stamp=time, chunk_id=chunk_id, source_step=source_step,
                length=10, action_dim=len(joints), prev_chunk_id=chunk_id - 1, inference_delay=3,
                guidance_mode="identity", joint_names=joints, actions=rows.ravel().astype(np.float32)))
        for position, tick in enumerate(order(list(range(9)))):
            chunk_id, source_step = (1, 0) if tick < 5 else (2, 3)
            next_id, next_source = (1, 0) if tick < 4 else (2, 3)
            write("/rtc/executor_status", (position + 2) * 10**8, STATUS, make(
                store, STATUS, step=tick + 1, control_rate_hz=30.0, merged_count=1 if tick < 4 else 2,
                active_chunk_id=next_id, index_in_chunk=tick + 1 - next_source, last_d_real=2, last_d_assumed=3,
                served_chunk_id=chunk_id, served_index=tick - source_step))


def one_line_error(argv: list[str]) -> str:
    """Run a tool as a user does; assert it failed with exactly one line and no traceback."""
    result = subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0, result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip() and "Warning" not in line]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_the_report_reads_mcap_and_sqlite3_alike(tmp_path, storage):
    write_run(tmp_path / "bag", storage)
    assert list((tmp_path / "bag").glob("*.mcap" if storage == "mcap" else "*.db3"))
    summary = summarize(read_bag(tmp_path / "bag"))
    assert summary.chunks == 2 and summary.merged == 2 and summary.delays == [(3, 2)]
    assert np.isclose(summary.seam_ratio, 48.0, rtol=1e-3)


def test_out_of_order_stamps_give_the_same_report(tmp_path):
    write_run(tmp_path / "ordered")
    write_run(tmp_path / "shuffled", order=lambda ticks: ticks[::-1])
    ordered, shuffled = summarize(read_bag(tmp_path / "ordered")), summarize(read_bag(tmp_path / "shuffled"))
    assert (shuffled.chunks, shuffled.merged, shuffled.delays) == (ordered.chunks, ordered.merged, ordered.delays)
    assert shuffled.seam_ratio == ordered.seam_ratio


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_a_truncated_bag_is_one_line(tmp_path, storage):
    write_run(tmp_path / "bag", storage)
    (data,) = [p for p in (tmp_path / "bag").iterdir() if p.name != "metadata.yaml"]
    os.truncate(data, data.stat().st_size // 2)
    for tool in ("rtc_tools.report", "rtc_tools.replay", "rtc_tools.play"):
        line = one_line_error(["-m", tool, str(tmp_path / "bag")])
        assert "truncated" in line or "malformed" in line or "damaged" in line, line


def test_not_a_bag_is_one_line(tmp_path, capsys):
    assert report_main([str(tmp_path)]) == 1
    assert capsys.readouterr().err.strip() == f"report: {tmp_path} is not a rosbag2 directory (no metadata.yaml)"


def test_a_missing_topic_is_one_line(tmp_path, capsys):
    write_run(tmp_path / "bag", topics=("/rtc/action_chunk", "/joint_states", "/camera/front/image_raw"))
    assert report_main([str(tmp_path / "bag")]) == 1
    assert "no messages on /rtc/executor_status" in capsys.readouterr().err
    line = one_line_error(["-m", "rtc_tools.replay", str(tmp_path / "bag")])
    assert "no messages on /rtc/executor_status" in line


def test_a_run_without_chunks_still_has_a_report(tmp_path):
    write_run(tmp_path / "bag", topics=("/rtc/executor_status", "/joint_states"))
    assert summarize(read_bag(tmp_path / "bag")).chunks == 0


def test_an_unknown_message_type_is_one_line(tmp_path, capsys):
    store = typestore()
    with Writer(tmp_path / "bag", version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        # A type no one has installed, with its definition in the bag, on the chunk topic.
        chunk = writer.add_connection("/rtc/action_chunk", "acme_msgs/msg/Plan", msgdef="int32 x\n",
                                      rihs01="RIHS01_" + "0" * 64)
        status = writer.add_connection("/rtc/executor_status", STATUS, typestore=store)
        writer.write(chunk, 1, bytes([0, 1, 0, 0, 7, 0, 0, 0]))
        writer.write(status, 2, store.serialize_cdr(make(store, STATUS, step=1), STATUS))
    assert report_main([str(tmp_path / "bag")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "report: topic /rtc/action_chunk has type acme_msgs/msg/Plan in this bag; " \
                  "expected rtc_msgs/msg/ActionChunk"


def test_a_bag_of_another_robot_is_one_line(tmp_path):
    other = ["base_yaw", "arm_pitch", "forearm", "wrist", "twist", "claw"]
    write_run(tmp_path / "bag", joints=other)
    assert summarize(read_bag(tmp_path / "bag")).chunks == 2  # the report reads any joints
    line = one_line_error(["-m", "rtc_tools.replay", str(tmp_path / "bag")])
    assert line.startswith("rtc_replay: ") and "base_yaw" in line and "not in calibration" in line


def test_play_refuses_topics_the_bag_lacks_in_one_line(tmp_path):
    write_run(tmp_path / "bag")
    line = one_line_error(["-m", "rtc_tools.play", str(tmp_path / "bag"), "--topics", "/nope"])
    assert line.startswith("rtc_play: the bag has no topic /nope")


def test_play_keeps_the_recorded_schedule_at_any_rate():
    schedule = Schedule(bag_start_ns=5 * 10**9, wall_start_s=100.0, rate=2.0)
    assert schedule.due(5 * 10**9) == 100.0
    assert schedule.due(7 * 10**9) == pytest.approx(101.0)  # 2 s of bag at twice the speed
    assert schedule.bag_time_ns(101.0) == 7 * 10**9


def test_the_replay_keeps_only_the_messages_inferences_used():
    from types import SimpleNamespace

    from rtc_tools.replay import Indexed

    def msg(stamp_s: int):
        return SimpleNamespace(header=SimpleNamespace(stamp=SimpleNamespace(sec=stamp_s, nanosec=0)))

    # inferences at 25 and 45 (receive time); one names stamp 3 exactly
    index = Indexed(stamps={3 * 10**9}, times_ns=[25, 45])
    messages = {t: msg(t // 10) for t in (10, 20, 30, 40, 50)}
    for received, m in messages.items():
        index.add(received, m)
    assert list(index.by_stamp) == [3 * 10**9]             # the named one, nothing else by stamp
    assert index.latest_before(25) is messages[20]           # newest received by 25
    assert index.latest_before(45) is messages[40]
    assert index.latest_before(99) is messages[50]


def claim_chunk_size(bag: Path, claimed: int) -> None:
    """Rewrite the uncompressed size every MCAP chunk (and its index) claims to `claimed`."""
    (path,) = bag.glob("*.mcap")
    data = bytearray(path.read_bytes())
    offset, patched = 8, 0  # after the magic: op (1 byte), length (8), body
    while offset < len(data) - 8:
        op, length = data[offset], int.from_bytes(data[offset + 1:offset + 9], "little")
        body = offset + 9
        if op == 0x06:  # Chunk: start time, end time, uncompressed size, ...
            data[body + 16:body + 24] = claimed.to_bytes(8, "little")
            patched += 1
        elif op == 0x08:  # ChunkIndex: ..., compressed size, uncompressed size (last)
            data[body + length - 8:body + length] = claimed.to_bytes(8, "little")
        offset = body + length
    assert patched
    path.write_bytes(bytes(data))


def test_a_compressed_bag_reads_as_the_uncompressed_one(tmp_path):
    write_run(tmp_path / "bag", compressed=True)
    summary = summarize(read_bag(tmp_path / "bag"))
    assert summary.chunks == 2 and summary.merged == 2 and summary.delays == [(3, 2)]


@pytest.mark.parametrize("claimed, says", [
    (2**40, f"claims {2**40} bytes uncompressed, over the reader's cap"),  # would allocate a terabyte
    (16, "decompresses to more than the 16 bytes it claims"),  # inflates past its claim: a bomb's shape
])
def test_a_compression_bomb_is_one_line(tmp_path, claimed, says):
    write_run(tmp_path / "bag", compressed=True)
    claim_chunk_size(tmp_path / "bag", claimed)
    for tool in ("rtc_tools.report", "rtc_tools.replay"):
        line = one_line_error(["-m", tool, str(tmp_path / "bag")])
        assert says in line and "compression bomb" in line, line


def test_rosbag2_file_compression_is_refused_in_one_line(tmp_path):
    write_run(tmp_path / "bag")
    metadata = tmp_path / "bag" / "metadata.yaml"
    metadata.write_text(metadata.read_text().replace("compression_mode: ''", "compression_mode: file"))
    assert "compression_mode: file" in metadata.read_text()
    line = one_line_error(["-m", "rtc_tools.report", str(tmp_path / "bag")])
    assert "compressed by rosbag2 (file mode)" in line and "ros2 bag convert" in line, line


@pytest.mark.parametrize("recorded", ["lerobot/pi0", "/nonexistent/checkpoint"])
def test_the_replay_never_loads_a_checkpoint_the_bag_names_that_is_not_here(tmp_path, recorded):
    # the bag's policy node names a hub id (or another machine's path): no download, no load; the
    # user names the checkpoint
    write_run(tmp_path / "bag", task={"policy": recorded}, diagnostic="rtc_policy: inference")
    result = subprocess.run([sys.executable, "-m", "rtc_tools.replay", str(tmp_path / "bag"),
                             "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == f"rtc_replay: the bag names policy {recorded!r}, which is no directory here " \
        "(a hub id, or a path on another machine); name the checkpoint to replay with --policy_path"


def test_the_replay_loads_the_checkpoint_the_user_names_or_a_local_one_the_bag_names(tmp_path):
    from rtc_tools.replay import checkpoint_to_replay

    assert checkpoint_to_replay("mine", "lerobot/pi0") == "mine"
    assert checkpoint_to_replay("", None) == ""  # the built-in
    assert checkpoint_to_replay("", str(tmp_path)) == str(tmp_path)
    with pytest.raises(ValueError, match="--policy_path"):
        checkpoint_to_replay("", "lerobot/pi0")
