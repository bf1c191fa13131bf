"""System tests of bags for offline evaluation, over real files: a 20 s simulated run recorded to MCAP
by the runner's recorder, replayed offline (rtc_replay) and played into a live policy node and
executor (rtc_play) with no camera and no driver running; the bag opens with MCAP's own reader and
with rosbags, and carries what `ros2 bag info` reads."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from ament_index_python.packages import get_package_share_directory

from rtc_tools.bag_reader import decoded, open_bag
from rtc_bringup.graph import build_graph
from rtc_tools.replay import CHUNK_TOPIC
from rtc_tools.report import read_bag, summarize
from rtc_bringup.run import node_command

pytestmark = [pytest.mark.ros, pytest.mark.slow, pytest.mark.timeout(900)]  # LeRobot imports slowly under load

RUN_S = 20.0
LOADED = "[rtc_policy]: loaded"  # the policy node's log line once its policy is loaded
LOAD_TIMEOUT_S = 240.0           # importing LeRobot takes half a minute on a busy 2-core machine
CAMERA = "/camera/front/image_raw/compressed"


def wait_for_line(log: Path, text: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            pytest.fail(f"exited ({proc.returncode}) before {text!r}:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.5)
    pytest.fail(f"no {text!r} within {timeout:.0f} s:\n{log.read_text(errors='replace')[-3000:]}")


def stop(proc: subprocess.Popen, timeout: float = 60.0) -> int:
    """SIGINT to the process's group, then SIGKILL if it does not end."""
    try:
        os.killpg(proc.pid, signal.SIGINT)
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return proc.returncode
    except ProcessLookupError:
        return proc.wait()


def record_after_load(out: Path, name: str, seconds: float, *arguments: str, sim: bool = True) -> Path:
    """The bag (out/NAME_bag) of a runner run that lasts `seconds` from the policy's load on (its
    imports take from 1 to 30 s on a loaded machine, which a fixed-length run would lose); its log is
    out/NAME.log. `sim`: False leaves sim to the arguments."""
    bag, log_path = out / f"{name}_bag", out / f"{name}.log"
    with open(log_path, "wb") as log:
        runner = subprocess.Popen([sys.executable, "-m", "rtc_bringup.run", *(["--sim"] if sim else []), "--record",
                                   str(bag), *arguments], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_line(log_path, LOADED, runner, LOAD_TIMEOUT_S)
        time.sleep(seconds)
        # The runner stops every node it started, recorder last, and only then exits.
        assert stop(runner) == 0, log_path.read_text(errors="replace")[-3000:]
    finally:
        stop(runner, timeout=1.0)
    return bag


@pytest.fixture(scope="module")
def recorded_bag(tmp_path_factory) -> Path:
    """20 s of the simulated graph after its policy has loaded, recorded to MCAP with the runner."""
    out = tmp_path_factory.mktemp("recorded")
    return record_after_load(out, "recorded", RUN_S)


def test_replay_reruns_every_recorded_inference_faithfully(recorded_bag, tmp_path):
    chunks = len(read_bag(recorded_bag).chunks)
    assert chunks >= 10
    out = tmp_path / "replay"
    result = subprocess.run(
        [sys.executable, "-m", "rtc_tools.replay", str(recorded_bag), "--modes", "off,identity,vjp,prefix",
         "--delays", "recorded,4", "--plot-denoising", "3", "--out", str(out)],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    print(result.stdout)
    replay = json.loads((out / "replay.json").read_text())
    assert replay["inferences"] == chunks and replay["skipped"] == []
    # recorded policy, mode, delay and noise seed: the recorded chunk again
    assert replay["faithful_inferences"] == chunks
    assert replay["faithful_max_abs_rad"] <= 1e-5
    table = {(row["mode"], row["delay"]): row for row in replay["table"]}
    assert set(table) == {(m, d) for m in ("off", "identity", "vjp", "prefix") for d in ("recorded", "4")}
    assert all(row["inferences"] == chunks for row in table.values())
    assert table[("identity", "recorded")]["recorded_max_rad"] <= 1e-5  # the run's own mode
    assert table[("off", "recorded")]["recorded_max_rad"] > 1e-3       # another mode, another chunk
    assert (out / "denoising_3.png").stat().st_size > 10_000


def test_demo_figure_draws_a_recorded_run_with_its_reports_figures(recorded_bag, tmp_path):
    out = tmp_path / "comparison.png"
    result = subprocess.run([sys.executable, "-m", "rtc_tools.demo_figure", str(out), f"RTC={recorded_bag}",
                             "--json", str(tmp_path / "figures.json")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    (figures,) = json.loads((tmp_path / "figures.json").read_text())
    summary = summarize(read_bag(recorded_bag))
    assert figures["seam_ratio"] == summary.seam_ratio and figures["chunks_merged"] == summary.merged >= 10
    assert (figures["guidance"], figures["merge"]) == ("identity", "rtc")  # the shipped configuration
    # The camera's task counts: one target (no retargeting by default), no obstacle contact.
    assert figures["targets_shown"] == 1 and figures["obstacle_contacts"] >= 0
    assert figures["targets_reached"] == (1 if summary.target_reached_after_s is not None else 0)
    assert 10_000 < out.stat().st_size < 200_000


def test_the_report_measures_what_the_simulated_arm_did(recorded_bag, tmp_path):
    result = subprocess.run([sys.executable, "-m", "rtc_tools.report", str(recorded_bag), "--json",
                             str(tmp_path / "summary.json")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    joints = {"shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"}
    assert set(summary["tracking_error_rad"]) == joints  # every commanded joint matched by name
    for errors in summary["tracking_error_rad"].values():
        assert 0 <= errors["p50"] <= errors["p95"] <= errors["max"] < 0.5  # the arm follows its commands
    measured = summary["measured"]
    assert measured["filter"]["interval_s"] == pytest.approx(0.01, rel=0.2)  # the driver's 100 Hz
    assert measured["velocity_rad_s"]["overall"]["max"] > 0.05  # it moved
    for quantity in ("velocity_rad_s", "acceleration_rad_s2", "jerk_rad_s3"):
        assert measured[quantity]["at_seams"]["max"] <= measured[quantity]["overall"]["max"]
    # the ratio: the largest jerk at a seam over the p99 of the moving jerk within chunks, at least the
    # jerk one tick of flicker gives
    assert measured["inner_jerk_p99_rad_s3"] >= measured["filter"]["jerk_floor_rad_s3"] > 0
    assert summary["measured_seam_jerk_ratio"] == pytest.approx(
        measured["seam_jerk_max_rad_s3"] / measured["inner_jerk_p99_rad_s3"]) and summary["measured_seam_jerk_ratio"] > 0
    assert summary["seam_step_max_rad"] > 0
    # the control loops' cadence as their last /diagnostics gave it (LeRobot's CycleTimer line)
    assert {name.split(": ")[0].lstrip("/") for name in summary["cadence"]} >= {"rtc_executor", "so100_driver"}
    assert all("Hz target" in line and "headroom" in line for line in summary["cadence"].values())
    assert "cadence             rtc_executor: control loop" in result.stdout
    assert "measured seam jerk  ratio" in result.stdout and "tracking error rad  gripper" in result.stdout


def test_bag_opens_in_mcap_and_rosbags_with_our_definitions(recorded_bag):
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory
    from rosbags.rosbag2 import Reader

    mcap_files = list(recorded_bag.glob("*.mcap"))
    assert len(mcap_files) == 1
    with open(mcap_files[0], "rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        schemas = {s.name: s for s in reader.get_summary().schemas.values()}
        chunk_schema = schemas["rtc_msgs/msg/ActionChunk"]
        assert chunk_schema.encoding == "ros2msg" and b"int64 noise_seed" in chunk_schema.data
        assert {"rtc_msgs/msg/ExecutorStatus", "rtc_msgs/msg/InferenceTiming", "sensor_msgs/msg/CompressedImage",
                "sensor_msgs/msg/JointState", "diagnostic_msgs/msg/DiagnosticArray"} <= set(schemas)
        _, _, _, chunk = next(reader.iter_decoded_messages(topics=[CHUNK_TOPIC]))
        assert chunk.chunk_id >= 1 and len(chunk.actions) == chunk.length * chunk.action_dim
        assert chunk.noise_seed == 0

    metadata = yaml.safe_load((recorded_bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert metadata["version"] == 9 and metadata["storage_identifier"] == "mcap"
    topics = {t["topic_metadata"]["name"]: t["topic_metadata"] for t in metadata["topics_with_message_count"]}
    assert {"/joint_states", "/so100/command", CHUNK_TOPIC, "/rtc/executor_status", "/rtc/timing", "/diagnostics",
            CAMERA} <= set(topics)
    assert all(t["offered_qos_profiles"] for t in topics.values())
    assert topics[CHUNK_TOPIC]["offered_qos_profiles"][0]["reliability"] == "reliable"
    assert topics[CAMERA]["offered_qos_profiles"][0]["reliability"] == "best_effort"  # the camera's sensor QoS
    with Reader(recorded_bag) as reader:
        assert {c.topic for c in reader.connections} == set(topics)
        assert all(c.msgdef.data for c in reader.connections)


def test_play_feeds_a_live_policy_node_without_camera_or_driver(recorded_bag, processes, tmp_path):
    first_chunk_s = min(t for t, *_ in read_bag(recorded_bag).timings)
    specs = {s.name: s for s in build_graph({"cameras": f"front={CAMERA}"},
                                            Path(get_package_share_directory("rtc_bringup")))}
    params_dir = Path(tempfile.mkdtemp(dir=tmp_path))
    live_bag = tmp_path / "live_bag"
    recorder = processes.start(["python", "-m", "rtc_tools.recorder", str(live_bag)], name="recorder")
    policy = processes.start(node_command(specs["rtc_policy"], params_dir), name="policy")
    # no driver here: the player's /joint_states are the arm's, so the executor follows the player's node
    executor = processes.start(node_command(specs["rtc_executor"], params_dir) + ["-p", "state_publisher:=rtc_play"],
                               name="executor")
    wait_for_line(tmp_path / "policy.log", LOADED, policy, LOAD_TIMEOUT_S)
    # the recorded run's inputs from just before its first inference to the end: the same window
    # --delay 3: on a loaded machine the executor can match the player's /joint_states after the policy
    # node has, and refuse the first chunk (not_ready); give discovery time before the first message
    play = subprocess.run([sys.executable, "-m", "rtc_tools.play", str(recorded_bag), "--start",
                           str(max(first_chunk_s - 0.3, 0.0)), "--delay", "3", "--topics", "/joint_states",
                           CAMERA, "--allow-actuation"],  # no driver here: the played joint states are the arm
                          capture_output=True, text=True, timeout=RUN_S + 120)
    assert play.returncode == 0, play.stderr[-2000:]
    for proc in (policy, executor, recorder):
        processes.stop(proc)
    assert recorder.returncode == 0, processes.log(recorder)[-2000:]
    # A chunk's stamp is its image's: played chunks carry the recorded run's times. Compare the chunks
    # made from the same stretch of recorded observations.
    recorded_stamps, live_stamps = chunk_stamps(recorded_bag), chunk_stamps(live_bag)
    first, last = min(recorded_stamps), max(recorded_stamps)
    live = [s for s in live_stamps if first <= s <= last]
    print(f"recorded {len(recorded_stamps)} chunks, live from the bag {len(live)} in the same stretch "
          f"({len(live_stamps)} in all); {play.stdout.strip()}")
    assert abs(len(live) - len(recorded_stamps)) <= 0.1 * len(recorded_stamps), (len(live), len(recorded_stamps))
    assert summarize(read_bag(live_bag)).rejected == 0


def chunk_stamps(bag: Path) -> list[int]:
    with open_bag(bag) as (reader, store):
        return [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec
                for _, _, m in decoded(reader, store, {CHUNK_TOPIC: "rtc_msgs/msg/ActionChunk"})]
