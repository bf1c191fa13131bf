"""robot_id -> the calibration file lerobot-calibrate wrote, with LeRobot 0.4.4's own path as the oracle."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lerobot_calibration import CalibrationError, find_robot_calibration, lerobot_calibration_dir
from so100_driver.arm import LEROBOT_ROBOT_NAMES, default_calibration_path

LEROBOTS_PATH = """
from lerobot.robots.so_follower import SOFollower, SOFollowerRobotConfig
print(SOFollower(SOFollowerRobotConfig(port="/dev/null", id="my_arm")).calibration_fpath)
"""


@pytest.mark.slow  # LeRobot imported once per case, in its own process (it reads the variables at import)
@pytest.mark.parametrize("variables", [
    {"HF_HOME": "hf"}, {"HF_HOME": "hf", "HF_LEROBOT_HOME": "lerobot_home"},
    {"HF_HOME": "hf", "HF_LEROBOT_CALIBRATION": "calibrations"}, {"XDG_CACHE_HOME": "cache"},
])
def test_the_path_is_where_lerobot_calibrate_writes(tmp_path: Path, variables: dict[str, str]):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "XDG_CACHE"))}
    env.update({k: str(tmp_path / v) for k, v in variables.items()}, HF_HUB_OFFLINE="1")
    theirs = Path(subprocess.run([sys.executable, "-c", LEROBOTS_PATH], env=env, capture_output=True, text=True,
                                 check=True, timeout=120).stdout.strip().splitlines()[-1])
    assert lerobot_calibration_dir(env) / "robots" / LEROBOT_ROBOT_NAMES[0] / "my_arm.json" == theirs
    theirs.write_text(json.dumps(json.loads(default_calibration_path().read_text())))
    assert find_robot_calibration("my_arm", LEROBOT_ROBOT_NAMES, env) == theirs


def test_an_older_lerobots_name_is_found_and_a_missing_id_names_every_path_tried(tmp_path: Path):
    env = {"HF_LEROBOT_CALIBRATION": str(tmp_path)}
    older = tmp_path / "robots" / "so100_follower" / "arm.json"
    older.parent.mkdir(parents=True)
    older.write_text("{}")
    assert find_robot_calibration("arm", LEROBOT_ROBOT_NAMES, env) == older
    with pytest.raises(CalibrationError) as error:
        find_robot_calibration("other", LEROBOT_ROBOT_NAMES, env)
    assert all(str(tmp_path / "robots" / name / "other.json") in str(error.value) for name in LEROBOT_ROBOT_NAMES)
    assert "--robot.id=other" in str(error.value)
    with pytest.raises(CalibrationError, match="without '/'"):
        find_robot_calibration("../arm", LEROBOT_ROBOT_NAMES, env)
