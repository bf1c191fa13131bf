"""The sim:=false graph: policy_path required, the guard envelope from the calibration (the one
`python -m so100_driver.safety CAL.json` prints), robot_id, cameras in LeRobot's syntax, dry_run."""
from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from so100_driver.arm import LEROBOT_ROBOT_NAMES, default_calibration_path

from rtc_bringup.graph import build_graph, effective_parameters, guard_envelope

PKG = Path(__file__).resolve().parents[1]
REAL = {"sim": "false", "policy_path": "/ckpt/pretrained_model"}


@pytest.fixture
def arm_calibration(tmp_path: Path) -> Path:
    """An arm whose ranges differ from the simulated arm's (so the shipped numbers would be wrong)."""
    data = json.loads(default_calibration_path().read_text())
    data["elbow_flex"].update(range_min=data["elbow_flex"]["range_min"] + 300, range_max=data["elbow_flex"]["range_max"] - 100)
    data["gripper"]["range_max"] -= 250
    path = tmp_path / "my_arm.json"
    path.write_text(json.dumps(data))
    return path


def printed_envelope(calibration: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "so100_driver.safety", str(calibration)], capture_output=True,
                         text=True, check=True, timeout=60).stdout
    return yaml.safe_load(textwrap.dedent(out))


def test_the_guard_envelope_is_what_the_safety_module_prints_for_the_arms_calibration(arm_calibration):
    specs = build_graph({**REAL, "calibration_file": str(arm_calibration)}, PKG)
    executor = effective_parameters(next(s for s in specs if s.name == "rtc_executor"))
    printed = printed_envelope(arm_calibration)
    assert {k: executor[k] for k in printed} == printed
    assert printed != printed_envelope(default_calibration_path())  # not the simulated arm's numbers
    line = guard_envelope(specs)
    assert line.startswith("guard envelope (rtc_executor): ") and "\n" not in line
    assert f"position_upper_limits={printed['position_upper_limits']}" in line


def test_a_value_in_the_parameter_file_narrows_the_computed_envelope(arm_calibration, tmp_path):
    config = tmp_path / "mine.yaml"
    config.write_text((PKG / "config" / "so100_rtc.yaml").read_text() +
                      "/**/rtc_executor:\n  ros__parameters:\n    max_velocity: [1.0]\n")
    specs = build_graph({**REAL, "calibration_file": str(arm_calibration), "config_file": str(config)}, PKG)
    executor = effective_parameters(next(s for s in specs if s.name == "rtc_executor"))
    printed = printed_envelope(arm_calibration)
    assert executor["max_velocity"] == [1.0]
    assert executor["position_lower_limits"] == printed["position_lower_limits"]


def test_the_simulated_arm_keeps_its_config_files_envelope():
    executor = effective_parameters(next(s for s in build_graph({}, PKG) if s.name == "rtc_executor"))
    assert executor["position_upper_limits"] == printed_envelope(default_calibration_path())["position_upper_limits"]
    assert "position_upper_limits" not in next(s for s in build_graph({}, PKG) if s.name == "rtc_executor").overrides


@pytest.mark.parametrize("arguments, message", [
    ({"sim": "false"}, "argument policy_path is required with sim:=false"),
    ({"sim": "false", "policy_path": "  "}, "argument policy_path is required"),
    ({**REAL, "calibration_file": "/nonexistent/arm.json"}, "calibration for the guard envelope"),
    ({**REAL, "robot_id": "arm", "calibration_file": "/cal.json"}, "give one of them"),
    ({**REAL, "cameras": "{front: {index_or_path: 0, fps: fast}}"}, "argument cameras: camera front: fps = 'fast'"),
    ({"cameras": "{front: {index_or_path: 0}}"}, "needs sim:=false"),
    ({**REAL, "driver": "false", "dry_run": "true"}, "dry_run:=true needs the so100_driver"),
    ({"dry_run": "maybe"}, "argument dry_run:='maybe'"),
])
def test_bad_real_arm_arguments_are_one_line(arguments, message):
    with pytest.raises(ValueError) as error:
        build_graph(arguments, PKG)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_robot_id_finds_the_file_lerobot_calibrate_wrote(monkeypatch, tmp_path, arm_calibration):
    monkeypatch.setenv("HF_LEROBOT_CALIBRATION", str(tmp_path / "calibration"))
    written = tmp_path / "calibration" / "robots" / LEROBOT_ROBOT_NAMES[0] / "my_arm.json"
    written.parent.mkdir(parents=True)
    written.write_text(arm_calibration.read_text())
    specs = {s.name: s for s in build_graph({**REAL, "robot_id": "my_arm"}, PKG)}
    assert effective_parameters(specs["so100_driver"])["calibration_file"] == str(written)
    assert specs["rtc_policy"].overrides["calibration_file"] == str(written)
    assert effective_parameters(specs["rtc_executor"])["position_lower_limits"] == \
        printed_envelope(arm_calibration)["position_lower_limits"]
    with pytest.raises(ValueError, match="argument robot_id:='other_arm': no calibration for robot id"):
        build_graph({**REAL, "robot_id": "other_arm"}, PKG)


def test_lerobots_cameras_start_one_camera_node_whose_topics_the_policy_reads():
    cameras = "{front: {type: opencv, index_or_path: 0, width: 640, height: 480, fps: 30}, wrist: {index_or_path: 2}}"
    specs = build_graph({**REAL, "calibration_file": str(default_calibration_path()), "cameras": cameras,
                         "foxglove": "true"}, PKG)
    names = [s.name for s in specs]
    assert names.index("rtc_camera") < names.index("rtc_policy") and names.count("rtc_camera") == 1
    by_name = {s.name: s for s in specs}
    assert (by_name["rtc_camera"].package, by_name["rtc_camera"].executable) == ("rtc_camera", "rtc_camera")
    assert effective_parameters(by_name["rtc_camera"])["cameras"] == cameras
    assert by_name["rtc_policy"].overrides["camera_topics"] == ["front=camera/front/image_raw",
                                                                "wrist=camera/wrist/image_raw"]
    assert by_name["foxglove_server"].overrides["camera_topics"] == ["camera/front/image_raw", "camera/wrist/image_raw"]
    plain = [s.name for s in build_graph({**REAL, "cameras": "front=/usb_cam/image_raw"}, PKG)]
    assert "rtc_camera" not in plain  # name=topic: another camera driver publishes


def test_dry_run_keeps_the_drivers_torque_off_and_lifts_only_the_seam_check():
    specs = {s.name: s for s in build_graph({**REAL, "dry_run": "true"}, PKG)}
    assert specs["so100_driver"].overrides["dry_run"] is True
    assert all("dry_run" not in s.overrides for n, s in specs.items() if n != "so100_driver")
    assert specs["rtc_executor"].overrides["guard_max_seam"] >= 2 * math.pi
    live = {s.name: s for s in build_graph(REAL, PKG)}
    assert "dry_run" not in live["so100_driver"].overrides and "guard_max_seam" not in live["rtc_executor"].overrides
