"""System test of the real-arm graph: sim:=false against the bus emulator on a pty (opened by the driver
as a real port), an rtc_camera node reading a video file, the built-in policy given by its path.

The graph merges chunks; the executor's guard envelope is the one `python -m so100_driver.safety CAL.json`
prints for the arm's calibration; with dry_run:=true the servos never get torque or a goal (the
emulator counts every write) while the commands are still published; an empty policy_path is one
line and exit code 2 before any node starts.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml
from rtc_camera.test_video import write_video
from so100_driver.arm import MOTOR_IDS, default_calibration_path, load_calibration
from so100_driver.emulator import ServoBusEmulator
from so100_driver.sim import render, scene_for_seed, start_joint_positions, start_position_ticks
from test_system_bags import record_after_load

from rtc_tools.bag_reader import decoded, open_bag
from rtc_tools.report import read_bag, summarize

pytestmark = [pytest.mark.ros, pytest.mark.slow, pytest.mark.timeout(900)]  # LeRobot imports slowly under load

RUN_S = 12.0
SCENE = scene_for_seed(0)


@pytest.fixture
def arm(tmp_path: Path):
    """A calibrated arm (ranges unlike the simulated arm's) on a pty, the way a USB adapter appears,
    at the simulated task's start pose: the scene the built-in policy was trained on."""
    data = json.loads(default_calibration_path().read_text())
    data["elbow_flex"].update(range_min=data["elbow_flex"]["range_min"] + 200, range_max=data["elbow_flex"]["range_max"] - 150)
    calibration = tmp_path / "my_arm.json"
    calibration.write_text(json.dumps(data))
    start = start_position_ticks(SCENE, load_calibration(calibration))
    with ServoBusEmulator.for_arm(load_calibration(calibration), link=tmp_path / "ttyACM0", positions=start) as emulator:
        yield emulator, calibration


def real_arm_arguments(tmp_path: Path, emulator: ServoBusEmulator, calibration: Path) -> list[str]:
    from rtc_policy_node.builtin_policy.checkpoint import default_checkpoint_path

    still = render(start_joint_positions(SCENE), SCENE, 96)  # the built-in policy's image size
    video = write_video(tmp_path / "front.avi", [still] * 30, 96, 96)
    return ["sim:=false", "allow_unsigned:=true", f"port:={emulator.port}", f"calibration_file:={calibration}",
            f"policy_path:={default_checkpoint_path()}", "device:=cpu", "robot_description:=false",
            f"cameras:={{front: {{type: opencv, index_or_path: {video}, width: 96, height: 96, fps: 30}}}}"]


def commands_and_states(bag: Path) -> tuple[np.ndarray, np.ndarray]:
    topics = {"/so100/command": "sensor_msgs/msg/JointState", "/joint_states": "sensor_msgs/msg/JointState"}
    found = {topic: [] for topic in topics}
    with open_bag(bag) as (reader, store):
        for topic, _, msg in decoded(reader, store, topics):
            found[topic].append(dict(zip(msg.name, msg.position)))
    return tuple(np.array([[m[j] for j in MOTOR_IDS] for m in found[t]]) for t in topics)


def test_the_real_arm_graph_merges_chunks_inside_the_calibrations_envelope(arm, tmp_path):
    emulator, calibration = arm
    bag = record_after_load(tmp_path, "real", RUN_S, *real_arm_arguments(tmp_path, emulator, calibration), sim=False)
    summary = summarize(read_bag(bag))
    assert summary.merged >= 3, summary
    log = (tmp_path / "real.log").read_text(errors="replace")
    lines = [line for line in log.splitlines() if "guard envelope (rtc_executor):" in line]
    printed = yaml.safe_load(textwrap.dedent(subprocess.run(
        [sys.executable, "-m", "so100_driver.safety", str(calibration)], capture_output=True, text=True,
        check=True, timeout=60).stdout))
    assert len(lines) == 1 and all(f"{k}={v}" in lines[0] for k, v in printed.items()), lines
    assert "rtc_camera" in log and "camera front" in log
    assert all(emulator.torque_was_enabled().values())
    assert all(n > 0 for n in emulator.writes("Goal_Position").values())
    assert not summary.dry_run


def test_a_dry_run_reads_the_arm_runs_the_policy_and_never_writes_a_goal(arm, tmp_path):
    emulator, calibration = arm
    bag = record_after_load(tmp_path, "dry", RUN_S, *real_arm_arguments(tmp_path, emulator, calibration),
                            "dry_run:=true", sim=False)
    summary = summarize(read_bag(bag))
    assert summary.merged >= 3, summary
    assert not any(emulator.torque_was_enabled().values())
    assert set(emulator.writes("Goal_Position").values()) == {0}
    commands, states = commands_and_states(bag)
    assert len(commands) > RUN_S * 10 and len(states) > RUN_S * 10  # commanded and measured, both recorded
    assert np.ptp(states, axis=0).max() < 1e-9  # the arm did not move
    assert "dry run: torque off, reading only" in (tmp_path / "dry.log").read_text(errors="replace")
    report = subprocess.run([sys.executable, "-m", "rtc_tools.report", str(bag), "--plots", str(tmp_path / "plots")],
                            capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr
    assert "torque off the whole run (dry run)" in report.stdout and (tmp_path / "plots" / "joints.png").exists()


def test_an_empty_policy_path_on_a_real_arm_is_one_line_and_exit_2():
    result = subprocess.run([sys.executable, "-m", "rtc_bringup.run", "sim:=false", "port:=/dev/ttyACM0"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "run: argument policy_path is required with sim:=false: the built-in checkpoint was trained on the "
        "simulated task (give your checkpoint's directory or hub id)"]
    assert "starting" not in result.stdout
