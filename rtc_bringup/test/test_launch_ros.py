"""The launch file under the real `launch`/`launch_ros` (`ros2 launch`), beside the runner.

launch_ros is importable where ROS 2 comes from apt; in the wheel environment tools/setup.sh installs
it from ../shared/vendor/ros2-python (or $RTC_ROS2_VENDOR). If neither is there the launch tests
skip, saying so; the runner tests (test_system_*) still cover the graph.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import rclpy
from rcl_interfaces.srv import GetParameters
from rclpy.context import Context
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rtc_msgs.msg import ExecutorStatus
from sensor_msgs.msg import JointState
from std_msgs.msg import String

from node_threads import assert_control_loops_use_udp_only, node_threads
from rtc_bringup.graph import NODE_ENCLAVES, load_parameter_file, node_parameters

pytestmark = [pytest.mark.ros]

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "rtc_bringup"
# An emulated bus that may answer late on a busy machine: these tests are about names, not timing.
LATE_BUS = "/**/so100_driver:\n  ros__parameters:\n    bus_timeout_s: 0.2\n    max_failed_cycles: 1000\n"
STATUS_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
DESCRIPTION_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)


def _launch_environment() -> dict[str, str] | None:
    """Environment in which `ros2 launch` works, installing the vendored sources if needed."""
    env = dict(os.environ)
    probe = [sys.executable, "-c", "import launch_ros, ros2launch"]
    if subprocess.run(probe, env=env, capture_output=True).returncode == 0:
        return env
    vendor = Path(os.environ.get("RTC_ROS2_VENDOR", ROOT.parent / "shared" / "vendor" / "ros2-python"))
    if not (vendor / "install.sh").exists():
        return None
    prefix = ROOT / ".ws" / "vendor"
    subprocess.run(["bash", str(vendor / "install.sh"), sys.prefix, str(prefix)], check=True,
                   capture_output=True, timeout=600)
    dump = subprocess.run(["bash", "-c", f"source {prefix}/install/setup.bash && env -0"], env=env,
                          check=True, capture_output=True, text=True).stdout
    env = dict(item.split("=", 1) for item in dump.split("\0") if "=" in item)
    return env if subprocess.run(probe, env=env, capture_output=True).returncode == 0 else None


@pytest.fixture(scope="module")
def launch_env():
    env = _launch_environment()
    if env is None:
        pytest.skip("launch_ros is not importable and ../shared/vendor/ros2-python is absent "
                    "(install ROS 2 from apt, or run tools/setup.sh beside shared/)")
    return env


def ros2_launch(processes, env, name: str, *arguments: str):
    ros2 = shutil.which("ros2", path=env.get("PATH")) or str(Path(sys.executable).parent / "ros2")
    return processes.start([ros2, "launch", "rtc_bringup", "so100_rtc.launch.py", *arguments], name=name, env=env)


class Watcher:
    """The test's own node: what one graph (one namespace) reports, and its nodes' parameters."""

    def __init__(self, node, namespace: str = "") -> None:
        self.node, self.ns = node, namespace
        self.status: ExecutorStatus | None = None
        self.joints: JointState | None = None
        self.description: str | None = None
        node.create_subscription(ExecutorStatus, f"{namespace}/rtc/executor_status", self._on_status, STATUS_QOS)
        node.create_subscription(JointState, f"{namespace}/joint_states", self._on_joints, qos_profile_sensor_data)
        node.create_subscription(String, f"{namespace}/robot_description", self._on_description, DESCRIPTION_QOS)

    def _on_status(self, msg):
        self.status = msg

    def _on_joints(self, msg):
        self.joints = msg

    def _on_description(self, msg):
        self.description = msg.data

    def merged(self) -> int:
        return self.status.merged_count if self.status else 0

    def parameters(self, node_name: str, names: list[str]) -> list:
        client = self.node.create_client(GetParameters, f"{self.ns}/{node_name}/get_parameters")
        try:
            assert client.wait_for_service(timeout_sec=10), f"{self.ns}/{node_name} offers no parameters"
            future = client.call_async(GetParameters.Request(names=names))
            rclpy.spin_until_future_complete(self.node, future, timeout_sec=10)
            values = future.result().values
        finally:
            self.node.destroy_client(client)
        return [(v.type, v.bool_value, v.integer_value, v.double_value, v.string_value,
                 list(v.string_array_value)) for v in values]


def spin_until(node, condition, timeout: float, what: str, procs=(), processes=None) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.1)
        if condition():
            return
        for proc in procs:
            if proc.poll() is not None:
                pytest.fail(f"{what}: a graph exited with {proc.returncode}\n{processes.log(proc)[-3000:]}")
    logs = "\n".join(processes.log(p)[-3000:] for p in procs) if processes else ""
    pytest.fail(f"timed out waiting for {what}\n{logs}")


@pytest.fixture
def test_node():
    rclpy.init()
    node = rclpy.create_node("launch_test_watcher")
    try:
        yield node
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


def _double(value: float):
    return (3, False, 0, value, "", [])  # ParameterType.PARAMETER_DOUBLE


def _string(value: str):
    return (4, False, 0, 0.0, value, [])  # ParameterType.PARAMETER_STRING


@pytest.mark.slow
@pytest.mark.timeout(600)  # loading torch takes minutes on a busy 2-core machine
def test_launch_runs_the_graph_with_ros_parameter_file_semantics(processes, launch_env, test_node, tmp_path):
    config = tmp_path / "params.yaml"  # the shipped sim file plus keys a user would write
    config.write_text((PKG / "config" / "so100_sim.yaml").read_text().replace("    control_rate_hz: 30.0\n", "") +
                      "/**:\n  ros__parameters:\n    control_rate_hz: 25.0\n"
                      "/rtc_policy:\n  ros__parameters:\n    task: from the file\n    extra_latency_ms: 5.0\n"
                      "/arm9/rtc_policy:\n  ros__parameters:\n    task: another namespace\n" + LATE_BUS)
    launch = ros2_launch(processes, launch_env, "launch", f"config_file:={config}", "extra_latency_ms:=7.5")
    watcher = Watcher(test_node)
    spin_until(test_node, lambda: watcher.merged() >= 3, 420, "three merged chunks", [launch], processes)
    assert watcher.status.control_rate_hz == 25.0  # from "/**"
    assert watcher.parameters("rtc_policy", ["task", "extra_latency_ms"]) == \
        [_string("from the file"), _double(7.5)]  # "/rtc_policy" key, then the argument wins
    spin_until(test_node, lambda: watcher.description is not None, 60, "robot_description", [launch], processes)
    assert '<joint name="shoulder_pan" type="revolute">' in watcher.description
    assert_control_loops_use_udp_only(node_threads(launch.pid))

    assert processes.stop(launch) == 0, processes.log(launch)[-3000:]


@pytest.mark.slow
def test_a_failing_node_ends_the_launch_non_zero(processes, launch_env):
    """sim:=false without a calibration file: the driver exits 2, and nothing else may keep running."""
    launch = ros2_launch(processes, launch_env, "launch_fail", "sim:=false", "allow_unsigned:=true", "port:=/dev/null",
                         "device:=cpu",
                         "policy_path:=lerobot/never_downloaded",
                         "robot_description:=false")
    try:
        code = launch.wait(timeout=90)
    except subprocess.TimeoutExpired:
        pytest.fail(f"launch kept running after the driver failed:\n{processes.log(launch)[-3000:]}")
    log = processes.log(launch)
    assert code != 0, log[-3000:]
    assert re.search(r": /so100_driver exited with code [12]; stopping the graph", log), log[-3000:]


def test_a_bad_argument_is_one_line_and_exit_1(processes, launch_env):
    launch = ros2_launch(processes, launch_env, "launch_bad", "namespace:=arm-1")
    assert launch.wait(timeout=60) == 1
    errors = [line for line in processes.log(launch).splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "argument namespace:='arm-1'" in errors[0], errors


def test_node_keys_match_rclpy(tmp_path):
    """rclpy (rcl's parameter-file parser) applies the same keys graph.node_parameters applies."""
    path = tmp_path / "params.yaml"
    path.write_text("/**:\n  ros__parameters: {a: all, b: all}\n"
                    "rtc_policy:\n  ros__parameters: {a: bare}\n"
                    "/arm1/rtc_policy:\n  ros__parameters: {c: exact}\n"
                    "/*/rtc_policy:\n  ros__parameters: {d: star}\n"
                    "/**/rtc_policy:\n  ros__parameters: {b: starstar}\n"
                    "/arm1/*:\n  ros__parameters: {f: star_node}\n"
                    "arm1:\n  rtc_policy:\n    ros__parameters: {e: nested}\n")
    nodes = load_parameter_file(path)
    context = Context()
    rclpy.init(args=["test", "--ros-args", "--params-file", str(path)], context=context)
    try:
        for namespace, name in [("/", "rtc_policy"), ("/arm1", "rtc_policy"), ("/arm1", "rtc_executor"),
                                ("/a/b", "rtc_policy"), ("/arm2", "rtc_policy")]:
            node = rclpy.create_node(name, namespace=namespace, context=context,
                                     automatically_declare_parameters_from_overrides=True)
            got = {p: node.get_parameter(p).value for p in "abcdef" if node.has_parameter(p)}
            node.destroy_node()
            assert got == node_parameters(nodes, f"{namespace.rstrip('/')}/{name}"), (namespace, name)
    finally:
        rclpy.shutdown(context=context)


@pytest.mark.slow
@pytest.mark.timeout(600)  # two graphs load torch at once: minutes on a busy 2-core machine
def test_two_arms_side_by_side_in_two_namespaces(processes, launch_env, test_node, tmp_path):
    """arm1 from `ros2 launch`, arm2 from the runner, one ROS domain: each graph talks only to itself,
    and both starters give a node the same parameters and, with enclaves:=true, the same SROS2
    enclave (security off: the enclave is only announced, docs/sros2.md)."""
    # Two graphs on a small shared machine: without SCHED_FIFO, the driver at 50 Hz.
    config = tmp_path / "two_arms.yaml"
    config.write_text((PKG / "config" / "so100_sim.yaml").read_text().replace("rate_hz: 100.0", "rate_hz: 50.0") +
                      "/**:\n  ros__parameters:\n    realtime: false\n" + LATE_BUS)
    arm1 = ros2_launch(processes, launch_env, "arm1", "namespace:=arm1", "seed:=1", f"config_file:={config}",
                       "enclaves:=true")
    arm2 = processes.start([sys.executable, "-m", "rtc_bringup.run", "--sim", "namespace:=arm2", "seed:=2",
                            f"config_file:={config}", "enclaves:=true"], name="arm2", env=launch_env)
    watchers = {ns: Watcher(test_node, f"/{ns}") for ns in ("arm1", "arm2")}
    spin_until(test_node, lambda: all(w.merged() >= 3 for w in watchers.values()), 420,
               "three merged chunks on each arm", [arm1, arm2], processes)

    graph = test_node.get_node_names_and_namespaces()
    for ns in ("arm1", "arm2"):
        names = sorted(n for n, space in graph if space == f"/{ns}")
        assert names == ["robot_description", "rtc_executor", "rtc_executor_joint_states", "rtc_policy", "sim_camera",
                         "so100_driver"], graph
        for topic in ("rtc/action_chunk", "so100/command", "joint_states", "camera/front/image_raw"):
            assert test_node.count_publishers(f"/{ns}/{topic}") == 1, (ns, topic)
    enclaves = {(n, space): enclave for n, space, enclave in test_node.get_node_names_and_namespaces_with_enclaves()}
    # the executor's joint-state reader is a second node in the executor's process: the executor's enclave
    enclave_of = {**NODE_ENCLAVES, "rtc_executor_joint_states": NODE_ENCLAVES["rtc_executor"]}
    assert {key: enclave for key, enclave in enclaves.items() if key[1] != "/"} == \
        {(n, f"/{ns}"): enclave_of[n] for n in names for ns in ("arm1", "arm2")}
    topics = [t for t, _ in test_node.get_topic_names_and_types()]
    assert [t for t in topics if not t.startswith(("/arm1/", "/arm2/"))
            and t not in ("/diagnostics", "/parameter_events", "/rosout")] == [], topics
    # Different seeds, different start poses: each policy and executor sees its own arm.
    assert watchers["arm1"].joints.position != watchers["arm2"].joints.position
    # Launch and runner pass the same parameters (file, overrides) to the same node.
    names = ["device", "execution_horizon", "camera_topics", "calibration_file"]
    first = watchers["arm1"].parameters("rtc_policy", names)
    assert first == watchers["arm2"].parameters("rtc_policy", names)
    assert first[0] == _string("cpu")

    assert processes.stop(arm2) == 0, processes.log(arm2)[-3000:]
    assert processes.stop(arm1) == 0, processes.log(arm1)[-3000:]
