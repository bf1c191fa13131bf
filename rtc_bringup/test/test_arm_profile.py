"""The arm host's profile (tools/setup.sh --arm): a venv without torch or LeRobot that runs the executor
and the driver.

The slow test builds the profile into this checkout's .venv-arm and .ws-arm (or reuses them: setup.sh is
idempotent), starts the executor and the simulated driver (the bus emulator on a pty) from it with the
bringup's parameters, and publishes chunks from this process as a stand-in policy, as the policy host
would over DDS.
"""
from __future__ import annotations

import dataclasses
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from rtc_runtime.ros_peer import RosPeer
from test_manifests import ROOT, imports, sources

ARM_PACKAGES = ("rtc_contract", "rtc_executor", "rtc_runtime", "so100_driver", "lerobot_calibration")
WORKSPACE_PACKAGES = {p.parent.name for p in ROOT.glob("*/package.xml")}
# third-party module -> its pip distribution in tools/requirements-arm.txt (ROS packages: ros-<name>)
DISTRIBUTIONS = {"numpy": "numpy", "PIL": "pillow", "cryptography": "cryptography", "serial": "pyserial"}
APT_ONLY = {"lttngust"}  # tracing's agent, from apt in both profiles (tools/setup.sh)
SIM_ONLY = {"mujoco"}  # the MuJoCo twin world (so100_driver.twin, imported only with world:=mujoco)
POLICY_HOST_ONLY = ("torch", "lerobot", "transformers", "torchvision")
ARM_VENV, ARM_WS = ROOT / ".venv-arm", ROOT / ".ws-arm"


def _requirements(name: str) -> set[str]:
    """Distribution names of a requirements file, with the files it includes (-r)."""
    names: set[str] = set()
    for line in (ROOT / "tools" / name).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("-r "):
            names |= _requirements(line[3:].strip())
        elif line:
            names.add(re.split(r"[=<>;\[ ]", line)[0].lower())
    return names


def test_arm_requirements_are_the_arm_packages_imports_and_no_torch():
    modules = set().union(*(imports(sources(p, tests=False)) for p in ARM_PACKAGES)) - WORKSPACE_PACKAGES - APT_ONLY - SIM_ONLY
    wanted = {DISTRIBUTIONS.get(m, "ros-" + m.replace("_", "-")) for m in modules}
    listed = _requirements("requirements-arm.txt")
    assert sorted(wanted - listed) == [], "tools/requirements-arm.txt lacks what the arm packages import"
    assert sorted(listed - wanted - _requirements("requirements-ros.txt")) == [], \
        "tools/requirements-arm.txt lists what no arm package imports"
    assert not listed & {"torch", "lerobot", "transformers", "torchvision", "matplotlib"}


def arm_environment() -> dict[str, str]:
    """The environment `source tools/env.sh --arm` makes, from a clean one, plus this run's ROS isolation."""
    clean = {"HOME": os.environ.get("HOME", "/root"), "PATH": "/usr/local/bin:/usr/bin:/bin"}
    out = subprocess.run(["bash", "-c", "source tools/env.sh --arm >/dev/null && env -0"], cwd=ROOT, env=clean,
                         check=True, capture_output=True).stdout.decode()
    env = dict(item.split("=", 1) for item in out.split("\0") if "=" in item)
    env.update({k: os.environ[k] for k in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE", "RMW_IMPLEMENTATION")})
    return env


@pytest.fixture(scope="module")
def arm_profile() -> dict[str, str]:
    """Build (or reuse) the arm profile; its environment."""
    clean = {"HOME": os.environ.get("HOME", "/root"), "PATH": "/usr/local/bin:/usr/bin:/bin"}
    done = subprocess.run(["bash", "tools/setup.sh", "--arm"], cwd=ROOT, env=clean, capture_output=True,
                          text=True, timeout=1500)
    assert done.returncode == 0, done.stdout + done.stderr
    return arm_environment()


class StandInPolicy(RosPeer):
    """Publishes a slow sine around the arm's first pose whenever the executor's queue runs low."""

    def __init__(self, joints: list[str], rate_hz: float) -> None:
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from rtc_msgs.msg import ActionChunk, ExecutorStatus
        from sensor_msgs.msg import JointState

        super().__init__("stand_in_policy")
        self.joints, self.rate_hz, self.chunk_type = joints, rate_hz, ActionChunk
        reliable = QoSProfile(depth=20, reliability=ReliabilityPolicy.RELIABLE)
        self.positions: list[np.ndarray] = []
        self.status = None
        self.chunk_id = 0
        self.awaiting_decision = -1
        self.pub = self.node.create_publisher(ActionChunk, "/rtc/action_chunk", reliable)
        self.node.create_subscription(ExecutorStatus, "/rtc/executor_status", self._on_status, reliable)
        self.node.create_subscription(JointState, "/joint_states", self._on_joint_state, 10)
        self.spin()

    def _on_joint_state(self, msg) -> None:
        with self.lock:
            self.positions.append(np.array([msg.position[list(msg.name).index(j)] for j in self.joints]))

    def _on_status(self, msg) -> None:
        with self.lock:
            self.status = msg
            if not self.positions or msg.merged_count + msg.rejected_count < self.awaiting_decision:
                return
            if self.chunk_id == 0 and not msg.holding:  # the executor has no position to hold yet: not_ready
                return
            if msg.active_chunk_id != 0 and msg.remaining > 8:
                return
            anchor = self.positions[0]
        ticks = np.arange(msg.step, msg.step + 30)
        rows = anchor + 0.1 * np.sin(2 * np.pi * ticks / (4.0 * self.rate_hz))[:, None]
        self.chunk_id += 1
        self.awaiting_decision = msg.merged_count + msg.rejected_count + 1
        self.pub.publish(self.chunk_type(
            chunk_id=self.chunk_id, source="/stand_in_policy", source_step=msg.step, joint_names=self.joints,
            length=rows.shape[0], action_dim=rows.shape[1], actions=rows.astype(np.float32).ravel().tolist(),
            inference_end=self.node.get_clock().now().to_msg()))


@pytest.mark.ros
@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_arm_profile_runs_the_executor_and_driver_without_torch(arm_profile, processes, tmp_path):
    from ament_index_python.packages import get_package_share_directory
    from rtc_bringup.graph import build_graph, effective_parameters
    from rtc_bringup.run import node_command

    python = str(ARM_VENV / "bin" / "python")
    probe = "import importlib.util as u, sys; print([m for m in sys.argv[1:] if u.find_spec(m)])"
    found = subprocess.run([python, "-c", probe, *POLICY_HOST_ONLY], env=arm_profile, capture_output=True,
                           text=True, check=True).stdout.strip()
    assert found == "[]", f"the arm venv can import {found}"
    assert not (ARM_WS / "install" / "rtc_policy_node").exists()

    specs = {s.name: s for s in build_graph({"sim": "true", "seed": "0"},
                                            Path(get_package_share_directory("rtc_bringup")))}
    for name in ("so100_driver", "rtc_executor"):
        spec = dataclasses.replace(specs[name], overrides={**specs[name].overrides, "realtime": False})
        command = node_command(spec, tmp_path)
        command[0] = str(ARM_WS / "install" / spec.package / "lib" / spec.package / spec.executable)
        assert Path(command[0]).read_text().startswith(f"#!{python}"), "the node must run on the arm venv"
        # only the arm environment: none of this process's (the full venv's library path, for one)
        processes.start(["env", "-i", *(f"{k}={v}" for k, v in arm_profile.items()), *command], name)

    executor = effective_parameters(specs["rtc_executor"])
    policy = StandInPolicy(list(executor["joint_names"]), float(executor["control_rate_hz"]))
    try:
        assert policy.wait_for(lambda: policy.status is not None and policy.status.merged_count >= 5, 120), \
            f"merged: {policy.status and policy.status.merged_count}"
        moved = policy.wait_for(lambda: np.max(np.abs(policy.positions[-1] - policy.positions[0])) > 0.05, 20)
        with policy.lock:
            assert moved, f"the emulator's servos did not follow: {policy.positions[0]} -> {policy.positions[-1]}"
            assert policy.status.rejected_count == 0
    finally:
        policy.close()


def test_setup_refuses_an_unknown_profile():
    done = subprocess.run(["bash", "tools/setup.sh", "--policy"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.strip() == "setup: usage: tools/setup.sh [--arm]"
