"""Where `lerobot-calibrate` writes a robot's calibration file, so a robot id finds it.

LeRobot 0.4.4 (lerobot.utils.constants, lerobot.robots.robot) writes
`<calibration dir>/robots/<robot name>/<robot id>.json`, the calibration dir being $HF_LEROBOT_CALIBRATION,
else $HF_LEROBOT_HOME/calibration, else $HF_HOME/lerobot/calibration ($HF_HOME defaults to
$XDG_CACHE_HOME/huggingface, i.e. ~/.cache/huggingface). The robot name depends on the LeRobot release
(0.4.4 files SO-100 and SO-101 followers under so_follower, earlier ones under so100_follower or
so101_follower), so an arm's package gives the names to try.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from lerobot_calibration.calibration import CalibrationError

__all__ = ["lerobot_calibration_dir", "find_robot_calibration"]


def lerobot_calibration_dir(env: Mapping[str, str] = os.environ) -> Path:
    if env.get("HF_LEROBOT_CALIBRATION"):
        return Path(env["HF_LEROBOT_CALIBRATION"]).expanduser()
    if env.get("HF_LEROBOT_HOME"):
        return Path(env["HF_LEROBOT_HOME"]).expanduser() / "calibration"
    hf_home = env.get("HF_HOME") or os.path.join(env.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    return Path(hf_home).expanduser() / "lerobot" / "calibration"


def find_robot_calibration(robot_id: str, robot_names: Sequence[str], env: Mapping[str, str] = os.environ) -> Path:
    """The calibration file of robot `robot_id` under the first of `robot_names` that has one;
    CalibrationError naming every path tried."""
    if not robot_id or "/" in robot_id:
        raise CalibrationError(f"robot id {robot_id!r} must be a non-empty name without '/' (lerobot's --robot.id)")
    tried = [lerobot_calibration_dir(env) / "robots" / name / f"{robot_id}.json" for name in robot_names]
    for path in tried:
        if path.is_file():
            return path
    raise CalibrationError(f"no calibration for robot id {robot_id!r}: none of {', '.join(map(str, tried))} exists "
                           f"(run lerobot-calibrate with --robot.id={robot_id}, or give calibration_file)")
