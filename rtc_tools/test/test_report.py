"""The report reads bags written the way rosbag2 writes them (rosbags' Writer, storage version 9),
with the message definitions the bag was recorded with: the current ExecutorStatus and one from
before it said which row each tick served."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from rosbags.rosbag2 import Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Nodetype

from rtc_tools.bag_types import installed_definition
from rtc_tools.report import Recording, envelope, plot, read_bag, summarize

STATUS = "rtc_msgs/msg/ExecutorStatus"
CHUNK = "rtc_msgs/msg/ActionChunk"
NUMPY = {"float32": np.float32, "float64": np.float64, "uint8": np.uint8}


def make(store, msgtype: str, **values):
    """A rosbags message with zero/empty defaults for every field not given."""
    fields = {}
    for name, (kind, detail) in store.fielddefs[msgtype][1]:
        if name in values:
            fields[name] = values[name]
        elif kind == Nodetype.NAME:
            fields[name] = make(store, detail)
        elif kind == Nodetype.BASE:
            fields[name] = "" if detail[0] == "string" else False if detail[0] == "bool" else 0
        else:
            element = detail[0]
            fields[name] = np.array([], NUMPY.get(element[1][0], np.float64)) if element[0] == Nodetype.BASE \
                and element[1][0] in NUMPY else []
    return store.types[msgtype](**fields)


def write_run(path: Path, status_definition: str, served: bool, arm=None, extra=lambda tick: {}) -> None:
    """Chunk 1 (rows 0.00, 0.01, ...) from tick 0, chunk 2 (rows 0.50, 0.51, ...) merged between
    ticks 4 and 5 with source_step 3, so tick 5 serves chunk 2 row 2; `arm(writer, store)` adds more."""
    store = get_typestore(Stores.ROS2_KILTED)
    store.register(get_types_from_msg(status_definition, STATUS))
    store.register(get_types_from_msg(installed_definition(CHUNK), CHUNK))
    chunks = {1: (0, 0.0), 2: (3, 0.5)}
    with Writer(path, version=9) as writer:
        statuses = writer.add_connection("/rtc/executor_status", STATUS, typestore=store)
        chunk_topic = writer.add_connection("/rtc/action_chunk", CHUNK, typestore=store)
        for chunk_id, (source_step, start) in chunks.items():
            rows = (start + 0.01 * np.arange(10, dtype=np.float32))[:, None].repeat(2, axis=1)
            msg = make(store, CHUNK, chunk_id=chunk_id, source_step=source_step, length=10, action_dim=2,
                       prev_chunk_id=chunk_id - 1, inference_delay=3, joint_names=["a", "b"],
                       actions=rows.ravel().astype(np.float32))
            writer.write(chunk_topic, (1 if chunk_id == 1 else 45) * 10**8, store.serialize_cdr(msg, CHUNK))
        for tick in range(9):  # the status published after tick `tick` ran (step = tick + 1)
            chunk_id, source_step = (1, 0) if tick < 5 else (2, 3)
            next_id, next_source = (1, 0) if tick < 4 else (2, 3)  # chunk 2 merged after tick 4's status
            fields = dict(step=tick + 1, control_rate_hz=30.0, merged_count=1 if tick < 4 else 2,
                          active_chunk_id=next_id, index_in_chunk=tick + 1 - next_source,
                          last_d_real=2, last_d_assumed=3)
            if served:
                fields.update(served_chunk_id=chunk_id, served_index=tick - source_step)
            fields.update(extra(tick))
            writer.write(statuses, (tick + 2) * 10**8, store.serialize_cdr(make(store, STATUS, **fields), STATUS))
        if arm:
            arm(writer, store)


def test_a_run_is_rebuilt_from_the_rows_each_tick_served(tmp_path):
    write_run(tmp_path / "bag", installed_definition(STATUS), served=True)
    rec = read_bag(tmp_path / "bag")
    assert [(step, chunk, row) for _, step, chunk, row in rec.statuses] == \
        [(t, 1, t) for t in range(5)] + [(t, 2, t - 3) for t in range(5, 9)]
    summary = summarize(rec)
    assert summary.chunks == 2 and summary.merged == 2 and summary.delays == [(3, 2)]
    # the seam: 0.04 at tick 4 -> 0.52 at tick 5 against 0.01 within chunks
    assert np.isclose(summary.seam_ratio, 48.0, rtol=1e-3)


def write_arm(writer: Writer, store, lag_s: float, delivery_s: float) -> None:
    """The arm of a run: commands at 30 Hz on a 0.3 rad/s ramp of joint "a" (joint "b" still),
    /joint_states at 100 Hz following them `lag_s` late with the names in another order; the
    commands reach the recorder `delivery_s` after their stamp, the joint states at once."""
    joint_state, time_msg = "sensor_msgs/msg/JointState", store.types["builtin_interfaces/msg/Time"]
    commands = writer.add_connection("/so100/command", joint_state, typestore=store)
    states = writer.add_connection("/joint_states", joint_state, typestore=store)
    messages = [(t, commands, ["a", "b"], [0.3 * t, 0.1]) for t in np.arange(0.5, 2.0, 1 / 30)]
    messages += [(t, states, ["b", "a"], [0.1, 0.3 * max(t - lag_s, 0.0)]) for t in np.arange(0.3, 2.2, 0.01)]
    for t, connection, names, positions in sorted(messages, key=lambda m: m[0]):
        stamp_ns = int(round(t * 1e9))
        header = make(store, "std_msgs/msg/Header", stamp=time_msg(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9))
        msg = make(store, joint_state, header=header, name=names, position=np.array(positions))
        delivery_ns = int(delivery_s * 1e9) if connection is commands else 0
        writer.write(connection, stamp_ns + delivery_ns, store.serialize_cdr(msg, joint_state))


def test_the_report_measures_what_the_arm_did_on_the_stamps_clock(tmp_path):
    write_run(tmp_path / "bag", installed_definition(STATUS), served=True,
              arm=lambda writer, store: write_arm(writer, store, lag_s=0.05, delivery_s=0.02))
    summary = summarize(read_bag(tmp_path / "bag"))
    a, b = summary.tracking_error_rad["a"], summary.tracking_error_rad["b"]
    # 0.05 s behind a 0.3 rad/s ramp, matched by name: 0.015 rad on the stamps' clock (0.021 by arrival)
    assert np.isclose(a.p50, 0.015, atol=1e-6) and np.isclose(a.max, 0.015, atol=1e-6) and b.max < 1e-9
    measured = summary.measured
    assert np.isclose(measured.velocity_rad_s["overall"].p50, 0.3, atol=1e-3)
    assert np.isclose(measured.filter["interval_s"], 0.01)
    assert measured.jerk_rad_s3["overall"].max > 0  # the ramp starts from rest at 0.35 s
    text = "\n".join(summary.lines())
    assert "tracking error rad  a" in text and "measured seam jerk  ratio" in text


def test_a_bag_recorded_before_the_served_fields_still_reads(tmp_path):
    current = installed_definition(STATUS)
    old = "\n".join(line for line in current.splitlines() if not line.startswith(("uint64 served_", "uint32 served_")))
    assert old != current
    write_run(tmp_path / "bag", old, served=False)
    rec = read_bag(tmp_path / "bag")
    # without the served fields, each status's next-pop row stands for its step
    assert [(step, chunk) for _, step, chunk, _ in rec.statuses] == [(t, 1) for t in range(1, 5)] + \
        [(t, 2) for t in range(5, 10)]
    assert summarize(rec).chunks == 2


def test_holds_and_resets_are_marked(tmp_path):
    def on_hold_then_reset(tick: int) -> dict:
        return dict(on_hold=tick in (2, 3), epoch=1 if tick >= 7 else 0)

    write_run(tmp_path / "bag", installed_definition(STATUS), served=True, extra=on_hold_then_reset)
    rec = read_bag(tmp_path / "bag")
    assert len(rec.holds) == 1 and len(rec.resets) == 1
    summary = summarize(rec)
    assert (summary.holds, summary.resets) == (1, 1) and np.isclose(summary.held_s, 0.2)
    assert any(line.startswith("holds / resets      1 on ~/hold (0.2 s), 1 ~/reset") for line in summary.lines())


def test_statuses_repeated_between_rows_count_each_tick_once(tmp_path):
    """With speed_scale < 1 the executor repeats a step's status between rows: each tick still counts once."""
    from rtc_tools.bag_reader import decoded, open_bag
    from rtc_tools.report import served_rows_and_merges

    write_run(tmp_path / "bag", installed_definition(STATUS), served=True)
    with open_bag(tmp_path / "bag") as (reader, store):
        statuses = [(t * 1e-9, msg) for _, t, msg in decoded(reader, store, {"/rtc/executor_status": STATUS})]
    served, merges = served_rows_and_merges(statuses + [(t + 0.01, msg) for t, msg in statuses])
    assert [row[1:] for row in served] == [row[1:] for row in read_bag(tmp_path / "bag").statuses]
    assert len(merges) == 2


def test_the_overview_envelope_keeps_every_jump():
    times = np.arange(0.0, 600.0, 0.01)
    values = np.where(np.arange(len(times)) == 33_333, 1.0, 0.0)  # one sample's spike in ten minutes
    centres, lo, hi = envelope(times, values, 1000)
    assert len(centres) == 1000 and hi.max() == 1.0 and lo.max() == 0.0
    assert abs(centres[np.argmax(hi)] - times[33_333]) <= 0.6


def test_a_long_run_is_drawn_as_an_overview_beside_its_largest_seam(tmp_path):
    ticks = np.arange(30 * 120)  # two minutes at 30 Hz, chunks of 15 rows on a slow sine, one jump
    positions = 0.3 * np.sin(ticks / 100.0) + np.where(ticks >= 1500, 0.05, 0.0)
    chunks = {1 + k // 15: None for k in ticks}
    for chunk_id in chunks:
        rows = positions[(chunk_id - 1) * 15:chunk_id * 15]
        chunks[chunk_id] = np.column_stack([rows, -rows])
    rec = Recording(statuses=[(k / 30, k, 1 + k // 15, k % 15) for k in ticks], chunks=chunks,
                    joint_names=["a", "b"],
                    measured=[(k / 30 + 0.02, {"b": -p, "a": p}) for k, p in zip(ticks, positions)])
    joints, latency = plot(rec, tmp_path)
    assert joints.stat().st_size > 10_000 and latency.exists()
