"""Every node's lifecycle, as separate processes: a bad parameter is one line and exit code 2, checked
before torch or LeRobot is imported; SIGINT/SIGTERM end a node with exit code 0 and no traceback, also
while it is still loading."""
from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.ros]

WAIT_S = 30.0


def executable(package: str, name: str) -> str:
    from ament_index_python.packages import get_package_prefix

    return f"{get_package_prefix(package)}/lib/{package}/{name}"


NODES = {
    "executor_node": ("rtc_executor", "rtc_executor"),
    "policy_node": ("rtc_policy_node", "rtc_policy_node"),
    "driver_node": ("so100_driver", "rtc_so100_driver"),
    "sim_camera": ("so100_driver", "rtc_sim_camera"),
    "foxglove_server": ("rtc_tools", "rtc_foxglove"),
}
JOINTS = "joint_names:=[a, b]"


@pytest.fixture
def no_heavy_imports(tmp_path: Path) -> dict[str, str]:
    """PYTHONPATH with a torch and a lerobot that fail on import: a node that loads them before
    checking its parameters fails with their message instead of the parameter's."""
    import os

    for module in ("torch", "lerobot"):
        (tmp_path / module).mkdir()
        (tmp_path / module / "__init__.py").write_text(
            f"raise ImportError('{module} was imported before the parameters were checked')\n")
    return {"PYTHONPATH": f"{tmp_path}:{os.environ.get('PYTHONPATH', '')}"}


@pytest.mark.parametrize("node, params, named", [
    ("executor_node", ["mode:=sideways", JOINTS], "mode"),
    ("executor_node", ["control_rate_hz:=-30.0", JOINTS], "control_rate_hz"),
    ("executor_node", ["realtime_priority:=5", JOINTS], "realtime_priority"),
    ("executor_node", [], "joint_names"),
    ("executor_node", ["joint_names:=[a, a]"], "joint_names"),
    ("executor_node", ["trusted_keys:=[/no/such.pub]", JOINTS], "trusted_keys"),
    ("policy_node", ["guidance_mode:=fancy"], "guidance_mode"),
    ("policy_node", ["schedule:=SIDEWAYS"], "schedule"),
    ("policy_node", ["execution_horizon:=0"], "execution_horizon"),
    ("policy_node", ["trigger_remaining:=-1"], "trigger_remaining"),
    ("policy_node", ["policy_path:=/no/such/checkpoint"], "policy_path"),
    ("policy_node", ["camera_topics:=[front]"], "camera_topics"),
    ("policy_node", ["signing_key_file:=/no/such.key"], "signing_key_file"),
    ("driver_node", ["rate_hz:=-1.0", "sim:=true"], "rate_hz"),
    ("driver_node", ["sim:=false"], "calibration_file"),
    ("driver_node", ["sim:=true", "calibration_file:=/no/such.json"], "calibration_file"),
    ("sim_camera", ["size:=0"], "size"),
    ("foxglove_server", ["port:=70000"], "port"),
    ("foxglove_server", ["camera_topics:=[a, a]"], "camera_topics"),
])
def test_a_bad_parameter_is_one_line_and_exit_code_2(processes, no_heavy_imports, node, params, named):
    args = [executable(*NODES[node]), "--ros-args"]
    for param in params:
        args += ["-p", param]
    proc = processes.start(args, name=node, env=no_heavy_imports)
    assert proc.wait(timeout=WAIT_S) == 2, processes.log(proc)
    lines = processes.log(proc).strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{node}: ") and named in lines[0], lines


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sim_camera_and_driver_end_cleanly_on_a_signal_while_publishing(processes, sig):
    # The camera's timer publishes at 30 Hz from the driver's joint states; a signal must stop the
    # node before rclpy's context goes, never publish into a dead context (exit 1, "process has died").
    driver = processes.start([executable("so100_driver", "rtc_so100_driver"), "--ros-args", "-p", "sim:=true"],
                             name="driver")
    camera = processes.start([executable("so100_driver", "rtc_sim_camera")], name="camera")
    processes.wait_for_log(driver, "torque on", WAIT_S)
    time.sleep(1.5)  # images flowing
    for proc in (camera, driver):
        assert processes.stop(proc, sig) == 0, processes.log(proc)
        assert "Traceback" not in processes.log(proc)
    assert "torque off" in processes.log(driver)


# A node whose constructor spends its time in finalisers, as a node being built runs rclpy's loggers'
# __del__: the interrupt a signal raises lands in one, where Python cannot pass it on.
FINALISING_NODE = """
import sys, time
from rclpy.node import Node
from rtc_runtime.node_main import run_node

class Garbage:
    def __del__(self):
        end = time.perf_counter() + 0.001
        while time.perf_counter() < end:
            pass

class FinalisingNode(Node):
    fatal_error = ""

    def __init__(self):
        super().__init__("finalising_node")
        print("building", flush=True)
        end = time.monotonic() + 4.0
        while time.monotonic() < end:
            Garbage()

    def start(self):
        pass

    def stop(self):
        pass

run_node("finalising_node", FinalisingNode)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("node", ["policy_node", "finalising_node"])
def test_a_node_stopped_while_loading_exits_quietly(processes, sig, node):
    # As when the runner stops a graph whose driver failed: the policy node is still importing
    # torch and LeRobot (several seconds, inside the node's constructor).
    if node == "policy_node":
        proc = processes.start([executable("rtc_policy_node", "rtc_policy_node")], name=node)
        time.sleep(3.0)
    else:
        proc = processes.start(["python", "-c", FINALISING_NODE], name=node)
        processes.wait_for_log(proc, "building", WAIT_S)
        time.sleep(0.5)
    assert processes.stop(proc, sig) == 0, processes.log(proc)
    assert "Traceback" not in processes.log(proc) and "Exception ignored" not in processes.log(proc), processes.log(proc)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_the_foxglove_server_ends_cleanly_on_a_signal(processes, sig):
    proc = processes.start([executable("rtc_tools", "rtc_foxglove"), "--ros-args", "-p", "port:=0"],
                           name="foxglove_server")
    processes.wait_for_log(proc, "Foxglove WebSocket server on", WAIT_S)
    assert processes.stop(proc, sig) == 0, processes.log(proc)
    assert "Traceback" not in processes.log(proc)
