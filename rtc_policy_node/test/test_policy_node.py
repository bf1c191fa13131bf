"""policy_node as its own process over real DDS: this test process plays the executor (ExecutorStatus
on a 30 Hz tick grid, merging the chunks it receives), the driver's /joint_states and the camera.
Only what needs DDS is here (late delivery, reader matching); the scheduling decisions themselves are
tested directly in test_core_inference_scheduler.py."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

pytestmark = [pytest.mark.ros, pytest.mark.slow]

RATE_HZ = 30.0
LENGTH = 50  # the built-in policy's chunk
TRIGGER = 40
START_TIMEOUT_S = 60.0


def policy_args(*params: str) -> list[str]:
    from ament_index_python.packages import get_package_prefix

    from so100_driver.arm import default_calibration_path

    script = get_package_prefix("rtc_policy_node") + "/lib/rtc_policy_node/rtc_policy_node"
    args = [script, "--ros-args", "-p", f"trigger_remaining:={TRIGGER}", "-p", "extra_latency_ms:=100.0",
            "-p", f"calibration_file:={default_calibration_path()}"]
    for param in params:
        args += ["-p", param]
    return args


class FakeExecutor:
    """Ticks at RATE_HZ on absolute deadlines and publishes the status of each tick, like the executor;
    a chunk that arrives becomes the active one (RTC merge by tick arithmetic). `stall_rows` holds back
    the statuses of the ticks source_step(chunk 1) + row, row in that range, and sends them in one
    burst with the next one, as a late DDS delivery would."""

    def __init__(self, stall_rows: range) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from diagnostic_msgs.msg import DiagnosticArray
        from rtc_msgs.msg import ActionChunk, ExecutorStatus
        from sensor_msgs.msg import Image, JointState

        self._status_type, self._image_type, self._joint_type = ExecutorStatus, Image, JointState
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("policy_test_executor", context=self.context)
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.status_pub = self.node.create_publisher(ExecutorStatus, "/rtc/executor_status", reliable)
        self.joint_pub = self.node.create_publisher(JointState, "/joint_states", 10)
        self.image_pub = self.node.create_publisher(Image, "/camera/front/image_raw", 10)
        self.node.create_subscription(ActionChunk, "/rtc/action_chunk", self._on_chunk, reliable)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.policy_state = ""  # message of the policy node's latest diagnostic status
        self.policy_level = -1  # and its level
        self.camera_on = True  # publish images with the joint states
        self.d_real = 0  # the d_real every status reports for the last merge
        self.lock = threading.Lock()
        self.chunks: list[tuple[object, int]] = []  # (message, step at arrival)
        self.due: list[tuple[int, int]] = []         # (ROS time ns, step): when each status was due
        self._step = 0
        self._held: list = []
        self._stall_rows = stall_rows
        self._stop = threading.Event()
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._threads = [threading.Thread(target=self.executor.spin, daemon=True),
                         threading.Thread(target=self._tick_loop, daemon=True)]
        for thread in self._threads:
            thread.start()

    def _on_chunk(self, msg) -> None:
        with self.lock:
            self.chunks.append((msg, self._step))

    def _on_diagnostics(self, msg) -> None:
        for status in msg.status:
            if status.name.startswith("rtc_policy"):
                self.policy_state = status.message
                self.policy_level = status.level[0] if isinstance(status.level, bytes) else int(status.level)

    def diagnosed(self, level: int, *words: str, proc, processes) -> None:
        """Wait until the policy node's status has `level` and a message with every word."""
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline:
            if self.policy_level == level and all(w in self.policy_state for w in words):
                return
            assert proc.poll() is None, "policy node died:\n" + processes.log(proc)
            time.sleep(0.05)
        pytest.fail(f"no level {level} with {words}; last: {self.policy_level} {self.policy_state!r}")

    def _tick_loop(self) -> None:
        deadline = time.monotonic()
        while not self._stop.is_set():
            deadline += 1.0 / RATE_HZ
            time.sleep(max(0.0, deadline - time.monotonic()))
            self._publish_inputs()
            with self.lock:
                self._step += 1  # tick step - 1 ran; the status names the next one
                status = self._status()
                self.due.append((self.node.get_clock().now().nanoseconds, self._step))
                row = self._step - self.chunks[0][0].source_step if self.chunks else -1  # of chunk 1
            if row in self._stall_rows:
                self._held.append(status)
                continue
            for late in self._held:
                self.status_pub.publish(late)
            self._held = []
            self.status_pub.publish(status)

    def _status(self):
        status = self._status_type(control_rate_hz=RATE_HZ, step=self._step, mode="rtc")
        status.header.stamp = self.node.get_clock().now().to_msg()
        status.merged_count = len(self.chunks)
        status.last_d_real = self.d_real
        if self.chunks:  # the last chunk that arrived is the active one
            active = self.chunks[-1][0]
            row = self._step - active.source_step
            if row < LENGTH:
                status.active_chunk_id, status.index_in_chunk, status.remaining = active.chunk_id, row, LENGTH - row
        return status

    def _publish_inputs(self) -> None:
        joints = self._joint_type(name=["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex",
                                        "wrist_roll", "gripper"], position=[0.0, 0.1, 0.6, -0.7, 0.0, 0.0])
        image = self._image_type(height=96, width=96, encoding="rgb8", step=96 * 3,
                                 data=np.full(96 * 96 * 3, 120, np.uint8).tobytes())
        joints.header.stamp = image.header.stamp = self.node.get_clock().now().to_msg()
        self.joint_pub.publish(joints)
        if self.camera_on:
            self.image_pub.publish(image)

    def step_at(self, stamp) -> int:
        """The tick the executor served next at ROS time `stamp`."""
        ns = stamp.sec * 10**9 + stamp.nanosec
        with self.lock:
            return max(step for due_ns, step in self.due if due_ns <= ns)

    def wait_for_chunks(self, count: int, proc, processes) -> list:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.chunks) >= count:
                    return list(self.chunks)
            assert proc.poll() is None, "policy node died:\n" + processes.log(proc)
            time.sleep(0.01)
        pytest.fail(f"no {count} chunks in {START_TIMEOUT_S} s; policy log:\n{processes.log(proc)}")

    def close(self) -> None:
        self._stop.set()
        self._threads[1].join(timeout=2.0)  # the tick loop publishes until it sees the stop
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()


def test_late_statuses_neither_delay_the_trigger_nor_anchor_the_chunk_in_the_past(processes):
    # Rows 8..17 of chunk 1 are reported only with row 18, in one burst (330 ms of silence, shorter
    # than observation_timeout_s); the trigger (remaining 40) is row 10, inside the silence. The
    # policy must start on time (the last status said 43 remaining, but the executor kept ticking)
    # and its chunk must be meant for the tick the executor was at when the inference started, not
    # for a status that arrived late: otherwise the delay it promises is short by the staleness.
    # (first_chunk_guidance follow: the second chunk follows the first's whole leftover, whose row is checked.)
    fake = FakeExecutor(stall_rows=range(8, 18))
    try:
        proc = processes.start(policy_args("first_chunk_guidance:=follow"), name="policy_node")
        chunks = fake.wait_for_chunks(2, proc, processes)
        (first, _), (second, arrived) = chunks[0], chunks[1]
        assert second.prev_chunk_id == first.chunk_id, "the second chunk was not guided by the first"
        started = fake.step_at(second.inference_start)
        # the trigger is row 10; with a camera frame each tick, the inference may start at the last
        # frame before it, one frame period (a tick here) early (core/frame_clock.py)
        assert first.source_step + 10 - 1 <= started <= first.source_step + 15, "not triggered on time"
        assert started - 1 <= second.source_step <= started, (second.source_step, started)
        assert second.source_step <= arrived, "a chunk for a tick the executor has not reached"
    finally:
        fake.close()


@pytest.mark.parametrize("max_disagreement, followed", [("0.0", True), ("0.000001", False)])
def test_the_chunk_after_the_first_is_published_guided_or_as_its_unguided_sample(processes, max_disagreement,
                                                                                 followed):
    # first_chunk_guidance executed (default): the second chunk is guided over the rows the arm runs
    # before it arrives. With first_chunk_max_disagreement 0 it is published guided; with a bound any
    # difference exceeds, its unguided sample is published instead, and the message says that no
    # leftover was followed (prev_chunk_id 0), so a replay samples it unguided too. Later chunks are
    # guided either way.
    fake = FakeExecutor(stall_rows=range(0))
    try:
        proc = processes.start(policy_args(f"first_chunk_max_disagreement:={max_disagreement}"), name="policy_node")
        chunks = fake.wait_for_chunks(3, proc, processes)
        (first, _), (second, _), (third, _) = chunks[:3]
        assert second.prev_chunk_id == (first.chunk_id if followed else 0)
        assert third.prev_chunk_id == second.chunk_id
        assert ("published unguided, a switch instead of a blend" in processes.log(proc)) != followed
    finally:
        fake.close()


def test_a_reader_that_never_matches_delays_the_first_chunk_only_briefly(processes):
    # Before its first chunk the node waits for every reader of /rtc/action_chunk in the graph to
    # match (so that a recorder does not miss it); one with incompatible QoS never does.
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from rtc_msgs.msg import ActionChunk

    fake = FakeExecutor(stall_rows=range(0))
    try:
        fake.node.create_subscription(ActionChunk, "/rtc/action_chunk", lambda _msg: None, QoSProfile(
            depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        proc = processes.start(policy_args(), name="policy_node")
        fake.wait_for_chunks(1, proc, processes)
        assert "1 of 2 subscribers of /rtc/action_chunk did not match" in processes.log(proc)
    finally:
        fake.close()


def test_a_silent_camera_raises_the_level_by_its_thresholds_and_it_recovers(processes):
    # paused_s (WARN at once, the reason in the message; ERROR after 5 s) and observation_age_ms
    # (WARN from 200 ms, ERROR from 5 s)
    from rtc_runtime.diagnostics import Level

    fake = FakeExecutor(stall_rows=range(0))
    try:
        proc = processes.start(policy_args(), name="policy_node")
        fake.wait_for_chunks(1, proc, processes)

        fake.diagnosed(Level.OK, "running", proc=proc, processes=processes)
        fake.camera_on = False
        fake.diagnosed(Level.ERROR, "paused: no recent message on /camera/front/image_raw",
                       "observation_age_ms", "paused_s", proc=proc, processes=processes)
        fake.camera_on = True
        fake.diagnosed(Level.OK, "running", proc=proc, processes=processes)
    finally:
        fake.close()


def test_a_delay_beyond_the_execution_horizon_raises_the_level_and_it_recovers(processes):
    # The executor reports d_real = 40 ticks for every merge, more than the execution horizon (25):
    # the delay estimate follows, delay_over_horizon crosses 1.0 (ERROR); back to 2 ticks, the
    # estimate's window (2 chunks here) forgets the slow ones and the level is OK again.
    from rtc_runtime.diagnostics import Level

    fake = FakeExecutor(stall_rows=range(0))
    try:
        proc = processes.start(policy_args("delay_window:=2", "delay_warmup:=0", "execution_horizon:=25"),
                               name="policy_node")
        fake.wait_for_chunks(1, proc, processes)
        fake.d_real = 2
        fake.diagnosed(Level.OK, "running", proc=proc, processes=processes)
        fake.d_real = 40
        fake.diagnosed(Level.ERROR, "delay_over_horizon", proc=proc, processes=processes)
        fake.d_real = 2
        fake.diagnosed(Level.OK, "running", proc=proc, processes=processes)
    finally:
        fake.close()


def test_spoofed_statuses_and_oversized_images_are_dropped_and_the_node_keeps_making_chunks(processes):
    # A second source on the domain sends executor statuses no executor sends (NaN, infinite and
    # negative control rates, a step past 2^53, a queue of 2^32 - 1 ticks) and camera images far larger
    # than max_image_pixels (9000 x 9000 claimed, no pixels carried): each is dropped before use, with
    # a WARN counted on /diagnostics, and chunks keep coming from the real statuses and frames.
    from rtc_msgs.msg import ExecutorStatus
    from rtc_runtime.diagnostics import Level
    from sensor_msgs.msg import Image

    spoofs = [ExecutorStatus(control_rate_hz=float("nan"), step=1), ExecutorStatus(control_rate_hz=float("inf")),
              ExecutorStatus(control_rate_hz=-30.0), ExecutorStatus(control_rate_hz=RATE_HZ, step=2**64 - 1),
              ExecutorStatus(control_rate_hz=RATE_HZ, step=5, remaining=2**32 - 1, active_chunk_id=1)]
    fake = FakeExecutor(stall_rows=range(0))
    try:
        proc = processes.start(policy_args(), name="policy_node")
        before = len(fake.wait_for_chunks(1, proc, processes))
        oversized = Image(height=9000, width=9000, encoding="rgb8", step=27000)
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            for spoof in spoofs:
                fake.status_pub.publish(spoof)
            fake.image_pub.publish(oversized)
            time.sleep(0.02)
        fake.diagnosed(Level.WARN, "dropped a message on", proc=proc, processes=processes)
        fake.wait_for_chunks(before + 2, proc, processes)
        log = processes.log(proc)
        assert "dropped a message on /rtc/executor_status: control_rate_hz nan" in log
        assert "over max_image_pixels" in log
        assert "Traceback" not in log
    finally:
        fake.close()
