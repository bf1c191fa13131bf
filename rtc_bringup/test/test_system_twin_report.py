"""System test: a run of the whole graph on the MuJoCo twin, recorded by the runner, and its report.

`rtc_run --sim --world mujoco --duration N --record BAG` then `rtc_report BAG --json`: the report prints
and writes the pick-and-place outcome the twin node measured from the physics (its `twin: task`
status in the bag's /diagnostics) beside what the arm did, measured from /joint_states: tracking error
per joint and velocity, acceleration and jerk. The kinematic world's target line is not printed for
the twin. (Whatever the twin's default policy does, placed or not, the outcome is the physics'.)
"""
from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from rosbags.rosbag2 import Reader

pytestmark = [pytest.mark.ros, pytest.mark.slow, pytest.mark.timeout(600)]

RUN_S = 25


def test_the_report_of_a_twin_run_gives_the_task_outcome_tracking_error_and_measured_jerk(tmp_path):
    bag = tmp_path / "bag"
    run = subprocess.run([sys.executable, "-m", "rtc_bringup.run", "--sim", "--world", "mujoco", "--duration",
                          str(RUN_S), "--record", str(bag)], capture_output=True, text=True, timeout=RUN_S + 240)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    report = subprocess.run([sys.executable, "-m", "rtc_tools.report", str(bag), "--json", str(tmp_path / "summary.json")],
                            capture_output=True, text=True, timeout=300)
    assert report.returncode == 0, report.stderr[-3000:]
    print(report.stdout)
    lines = report.stdout.splitlines()
    (outcome_line,) = [line for line in lines if line.startswith("task outcome        ")]
    assert "(layout seed 0)" in outcome_line and ("cube placed" in outcome_line or "cube not placed" in outcome_line)
    assert any("peak contact force" in line and "dropped outside the zone:" in line for line in lines)
    assert not any(line.startswith("target reached") for line in lines)  # the kinematic world's line
    assert sum(line.startswith("tracking error rad  ") for line in lines) == 6  # one per joint
    assert any(line.startswith("measured |jerk| rad/s^3") for line in lines)

    # the twin policy's own input (the wrist camera) is in the bag beside the front view (PNG, the default)
    with Reader(bag) as reader:
        recorded = {topic for topic, info in reader.topics.items() if info.msgcount}
    assert {f"/camera/{name}/image_raw/compressed" for name in ("front", "wrist")} <= recorded, recorded

    summary = json.loads((tmp_path / "summary.json").read_text())
    outcome = summary["task_outcome"]
    assert outcome["seed"] == 0 and isinstance(outcome["success"], bool)
    # placed (by a policy trained on the twin) with its time, or not placed and no time
    assert (outcome["success_after_s"] > 0) if outcome["success"] else outcome["success_after_s"] is None
    assert outcome["peak_contact_force_n"] >= 0 and math.isfinite(outcome["cube_to_zone_m"])
    assert set(summary["tracking_error_rad"]) == {"shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex",
                                                  "wrist_roll", "gripper"}
    assert math.isfinite(summary["measured"]["jerk_rad_s3"]["overall"]["p50"])
