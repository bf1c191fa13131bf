"""Every node's parameters as ROS shows them: the real `ros2 param describe` (the vendored ros2cli)
against each node running as its own process, for every parameter its PARAMETERS declare.

What a user sees in `ros2 param describe` and rqt's parameter editor is the spec: description with
its unit, the range, choices and other limits, and read-only unless the node applies a change
while running (rtc_runtime.parameters)."""
from __future__ import annotations

import importlib
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rtc_bringup.graph import _EXECUTABLES

pytestmark = [pytest.mark.ros, pytest.mark.slow]

# node name -> (module with PARAMETERS, extra --ros-args); package and executable: the graph's
NODES = {
    "rtc_executor": ("rtc_executor.executor_node", ["-p", "joint_names:=[a, b]", "-p", "realtime:=false"]),
    "rtc_policy": ("rtc_policy_node.policy_node", []),
    "so100_driver": ("so100_driver.driver_node", ["-p", "sim:=true", "-p", "realtime:=false"]),
    "sim_camera": ("so100_driver.sim_camera_node", []),
    "rtc_camera": ("rtc_camera.camera_node", []),  # cameras: a video file the test writes
    "twin": ("so100_driver.twin_node", []),  # link: in the test's directory
    "foxglove_server": ("rtc_tools.foxglove_server", ["-p", "port:=0"]),
    "robot_description": ("rtc_bringup.description_node", []),
}
START_TIMEOUT_S = 90.0  # the policy node imports torch and LeRobot first
TYPES = {bool: "boolean", int: "integer", float: "double", str: "string"}


def ros2() -> str:
    return shutil.which("ros2") or str(Path(sys.executable).parent / "ros2")


def ros2_cli(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """One `ros2` command (no daemon: nothing outlives the test)."""
    verb = list(args[:2]) + ["--no-daemon"] + list(args[2:])
    return subprocess.run([ros2(), *verb], capture_output=True, text=True, timeout=timeout, env=os.environ)


def start_node(processes, node: str, *more: str):
    from ament_index_python.packages import get_package_prefix

    package, executable = _EXECUTABLES[node]
    extra = NODES[node][1]
    script = f"{get_package_prefix(package)}/lib/{package}/{executable}"
    return processes.start([script, "--ros-args", "-r", f"__node:={node}", *extra, *more], name=node)


def wait_for_parameters(processes, proc, node: str) -> None:
    """Until the node answers `ros2 param list` with its parameters (its constructor is done)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{node} exited:\n" + processes.log(proc)
        listed = ros2_cli("param", "list", f"/{node}")
        if "use_sim_time" in listed.stdout and len(listed.stdout.split()) > 2:
            return
        time.sleep(0.5)
    pytest.fail(f"{node} did not answer ros2 param list in {START_TIMEOUT_S} s:\n" + processes.log(proc))


def described(node: str, names: list[str]) -> dict[str, dict[str, str]]:
    """`ros2 param describe /node NAME...` as {name: {field: text}}."""
    result = ros2_cli("param", "describe", f"/{node}", *names, "--timeout", "10")
    assert result.returncode == 0, result.stderr
    blocks: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in result.stdout.splitlines():
        key, _, value = line.strip().partition(": ")
        if key == "Parameter name":
            current = blocks.setdefault(value, {})
        elif value:
            current[key] = value
    return blocks


def expected_type(default) -> str:
    if isinstance(default, list):
        return f"{TYPES[type(default[0])] if default else 'string'} array"
    return TYPES[type(default)]


def check_described(spec, shown: dict[str, str]) -> None:
    name = spec.name
    assert shown.get("Type") == expected_type(spec.default), (name, shown)
    assert spec.description in shown.get("Description", ""), (name, shown)
    if spec.unit:
        assert shown["Description"].endswith(f"[{spec.unit}]"), (name, shown)
    assert ("Read only" in shown) != spec.settable, (name, shown)
    if spec.minimum is not None or spec.maximum is not None:
        low, high = float(shown["Min value"]), float(shown["Max value"])
        if spec.minimum is not None:
            assert math.isclose(low, spec.minimum, abs_tol=1.0 if spec.above_minimum else 0.0), (name, low)
        if spec.maximum is not None:
            assert high == spec.maximum, (name, high)
    else:
        assert "Min value" not in shown, (name, shown)
    constraints = shown.get("Additional constraints", "")
    for choice in spec.choices or ():
        assert str(choice) in constraints, (name, constraints)
    if spec.above_minimum:
        assert f"> {spec.minimum:g}" in constraints, (name, constraints)


@pytest.mark.parametrize("node", sorted(NODES))
def test_ros2_param_describe_shows_every_parameter_as_its_spec(processes, node, tmp_path):
    specs = importlib.import_module(NODES[node][0]).PARAMETERS
    more = []
    if node == "rtc_camera":
        from rtc_camera.test_video import write_test_video

        video = write_test_video(tmp_path / "front.avi", 64, 48, frames=15, fps=30)
        more = ["-p", f'cameras:="{{front: {{type: opencv, index_or_path: {video}, width: 64, height: 48, fps: 30}}}}"']
    if node == "twin":
        more = ["-p", f"link:={tmp_path / 'twin'}"]
    proc = start_node(processes, node, *more)
    wait_for_parameters(processes, proc, node)
    shown = described(node, [spec.name for spec in specs])
    assert sorted(shown) == sorted(spec.name for spec in specs)
    for spec in specs:
        check_described(spec, shown[spec.name])
    if node == "rtc_executor":  # the issue's own example
        rate = shown["control_rate_hz"]
        assert rate["Read only"] == "true" and float(rate["Min value"]) == 0.0 and "> 0" in rate["Additional constraints"]


def test_a_parameter_file_with_lerobots_names_starts_the_node_with_them(processes, tmp_path):
    params = tmp_path / "lerobot_names.yaml"
    params.write_text("/**/rtc_policy:\n  ros__parameters:\n    prefix_attention_schedule: EXP\n"
                      "    queue_threshold: 30\n    compile_warmup_inferences: 3\n    execution_horizon: 20\n")
    proc = start_node(processes, "rtc_policy", "--params-file", str(params))
    wait_for_parameters(processes, proc, "rtc_policy")
    got = {name: ros2_cli("param", "get", "/rtc_policy", name, "--timeout", "10").stdout.strip()
           for name in ("schedule", "trigger_remaining", "warmup_inferences", "execution_horizon")}
    assert got == {"schedule": "String value is: EXP", "trigger_remaining": "Integer value is: 30",
                   "warmup_inferences": "Integer value is: 3", "execution_horizon": "Integer value is: 20"}
    listed = ros2_cli("param", "list", "/rtc_policy").stdout.split()
    assert "prefix_attention_schedule" not in listed and "queue_threshold" not in listed  # ours only


@pytest.mark.parametrize("file_text, message", [
    ("/**:\n  ros__parameters:\n    schedule: LINEAR\n    prefix_attention_schedule: EXP\n",
     "parameter schedule is given twice, as schedule = 'LINEAR' and prefix_attention_schedule = 'EXP': "
     "give one of them"),
    ("/**:\n  ros__parameters:\n    queue_threshold: 30.5\n",
     "parameter queue_threshold = 30.5 (LeRobot's name for trigger_remaining) has the wrong type: "
     "trigger_remaining is an integer (default 25)"),
])
def test_a_bad_lerobot_name_is_one_line_and_exit_2(processes, tmp_path, file_text, message):
    # both names with different values, or LeRobot's name with the wrong type
    params = tmp_path / "params.yaml"
    params.write_text(file_text)
    proc = start_node(processes, "rtc_policy", "--params-file", str(params))
    assert proc.wait(timeout=60) == 2
    assert processes.log(proc).strip() == f"policy_node: {message}"
