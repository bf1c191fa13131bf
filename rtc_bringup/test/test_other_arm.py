"""A 7-joint arm that is not an SO-100 through the policy node and the executor, over DDS.

The policy is an untrained small_flow of 7 joints that names them (j1..j7) and works in radians; the
executor is given the same names. This test process plays the arm (/joint_states) and the camera.
Nothing here is SO-100: no calibration file, no SO-100 joint names.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.ros, pytest.mark.slow]

JOINTS = [f"j{i}" for i in range(1, 8)]
WAIT_S = 90.0


def executable(package: str) -> str:
    from ament_index_python.packages import get_package_prefix

    return f"{get_package_prefix(package)}/lib/{package}/{package}"


@pytest.fixture(scope="module")
def seven_joint_policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rtc_policy_node.builtin_policy.untrained import tiny_config, write_untrained_checkpoint

    return write_untrained_checkpoint(tmp_path_factory.mktemp("seven") / "policy",
                                      tiny_config(7, joint_names=JOINTS, chunk_size=30, n_action_steps=15,
                                                  action_basis_size=12))


class Arm:
    """Publishes /joint_states (7 joints, shuffled order) and camera images; records commands and statuses."""

    def __init__(self) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from rtc_msgs.msg import ExecutorStatus
        from sensor_msgs.msg import Image, JointState

        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("seven_joint_arm", context=self.context)
        self.joint_pub = self.node.create_publisher(JointState, "/joint_states", 10)
        self.image_pub = self.node.create_publisher(Image, "/camera/front/image_raw", 10)
        self.lock = threading.Lock()
        self.commands: list = []
        self.statuses: list = []
        self.node.create_subscription(JointState, "/so100/command", self._on_command, 10)
        self.node.create_subscription(ExecutorStatus, "/rtc/executor_status", self._on_status,
                                      QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        self._image = Image(height=96, width=96, encoding="rgb8", step=96 * 3,
                            data=np.random.default_rng(0).integers(0, 256, 96 * 96 * 3, dtype=np.uint8).tobytes())
        self._joint_type = JointState
        self.node.create_timer(1 / 30, self._publish)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except Exception:
                return

    def _publish(self) -> None:
        order = [3, 0, 6, 1, 5, 2, 4]  # not the policy's order: joints are matched by name
        stamp = self.node.get_clock().now().to_msg()
        msg = self._joint_type(name=[JOINTS[i] for i in order], position=[0.1 * i for i in order])
        msg.header.stamp = stamp
        self.joint_pub.publish(msg)
        self._image.header.stamp = stamp
        self.image_pub.publish(self._image)

    def _on_command(self, msg) -> None:
        with self.lock:
            self.commands.append(msg)

    def _on_status(self, msg) -> None:
        with self.lock:
            self.statuses.append(msg)

    def merged_count(self) -> int:
        """Chunks the executor has merged, from its latest status."""
        with self.lock:
            return self.statuses[-1].merged_count if self.statuses else 0

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()


def wait_until(condition, failure, procs, processes) -> None:
    """Poll `condition` for up to WAIT_S while every process of `procs` runs; `failure()` says what was missing."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        for proc in procs:
            assert proc.poll() is None, processes.log(proc)
        assert time.monotonic() < deadline, failure()
        time.sleep(0.1)


def test_a_seven_joint_arm_runs_through_policy_node_and_executor(processes, seven_joint_policy):
    arm = Arm()
    try:
        # An untrained policy's rows jump by tenths of a radian: this arm's command guard lets them
        # through (the guard itself: test_core_command_guard.py, test_system_fault_campaign.py).
        executor = processes.start([executable("rtc_executor"), "--ros-args", "-p", f"joint_names:={JOINTS}",
                                    "-p", "realtime:=false", "-p", "state_publisher:=seven_joint_arm",
                                        "-p", "max_velocity:=[1000.0]",
                                    "-p", "max_acceleration:=[1000000.0]", "-p", "guard_max_seam:=100.0"],
                                   name="executor")
        # The policy starts once the executor holds a position (it commands every tick from then on): a
        # chunk before that is refused as not_ready, correctly, and would hide a wrong refusal below.
        wait_until(lambda: bool(arm.commands), lambda: f"no command from the executor; log:\n{processes.log(executor)}",
                   [executor], processes)
        policy = processes.start([executable("rtc_policy_node"), "--ros-args", "-p", f"policy_path:={seven_joint_policy}",
                                  "-p", "trigger_remaining:=15", "-p", "execution_horizon:=10"], name="policy")
        wait_until(lambda: arm.merged_count() >= 3,
                   lambda: f"{arm.merged_count()} merges; policy log:\n{processes.log(policy)}", [executor, policy], processes)
        with arm.lock:
            statuses, commands = list(arm.statuses), list(arm.commands)
        assert statuses[-1].rejected_count == 0, statuses[-1].last_reject_reason
        served = [s for s in statuses if s.served_chunk_id > 0]
        assert served, "no tick served a policy row"
        assert all(list(c.name) == JOINTS and len(c.position) == 7 for c in commands)
        assert all(np.isfinite(c.position).all() for c in commands)
    finally:
        arm.close()
