"""The policy node: samples RTC-guided action chunks from the latest observation (DESIGN.md).

Parameters (defaults)            meaning
  policy_path ("")               checkpoint dir or hub id; "": the built-in checkpoint
  device ("cpu")                 torch device
  guidance_mode ("identity")     off | identity | vjp | prefix
  execution_horizon (25)         ticks of the leftover that guidance follows
  max_guidance_weight (10.0)     clip of the guidance weight
  schedule ("LINEAR")            ZEROS | ONES | LINEAR | EXP (LeRobot's default is LINEAR)
  camera_topics (["front=/camera/front/image_raw"])
                                 name=topic: the topic feeds observation.images.<name>; a topic
                                 ending in /compressed is a sensor_msgs/CompressedImage
  calibration_file ("")          lerobot-calibrate JSON; "": the simulated arm's calibration
  use_degrees (true)             policy joint units: degrees (else -100..100); gripper 0..100
  joint_names (SO-100 joints)    the policy's state/action order, matched by name to /joint_states
  task ("")                      language instruction for policies that take one
  trigger_remaining (25)         start an inference when the executor has <= this many actions left
  observation_timeout_s (0.5)    older camera images, joint states or executor status pause inference
  extra_latency_ms (0.0)         added latency, emulating a larger model on this machine
  delay_window (10), delay_warmup (1), delay_margin_ticks (1), delay_percentile (0.0 = maximum)
                                 the delay estimator (rtc_policy_node.core.delay)
  publish_priority (30)          SCHED_FIFO priority of the inference thread while it builds, stamps
                                 and publishes a chunk (inference itself stays normal); 0: never raised
  debug_denoising ("")           directory: track every denoising step (LeRobot's RTC debug tracker)
                                 and write chunk_NNNN.png/.npz per chunk there; "": off

Topics: subscribes /joint_states (sensor_msgs/JointState, radians), /rtc/executor_status
(rtc_msgs/ExecutorStatus) and the camera topics (sensor data QoS); publishes /rtc/action_chunk
(rtc_msgs/ActionChunk, reliable, depth 10), /rtc/timing (rtc_msgs/InferenceTiming) and
/diagnostics (1 Hz). Inference runs on its own thread; ROS callbacks only store the latest messages.
"""
from __future__ import annotations

import array
import gc
import sys
import threading
import time
import traceback
from dataclasses import dataclass

import numpy as np
import rclpy
from rclpy.executors import ExternalShutdownException
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rtc_msgs.msg import ActionChunk, ExecutorStatus, InferenceTiming
from sensor_msgs.msg import CompressedImage, Image, JointState
from so100_driver.arm import JOINT_NAMES, Calibration, default_calibration_path

from rtc_policy_node.builtin_policy.checkpoint import default_checkpoint_path
from rtc_policy_node.chunk_history import ChunkHistory
from rtc_policy_node.core.delay import DelayEstimator
from rtc_policy_node.core.executor_clock import ExecutorClock
from rtc_policy_node.image_decoding import compressed_to_rgb, raw_to_rgb
from rtc_policy_node.joint_units import JointUnits
from rtc_policy_node.joint_vector import joint_vector
from rtc_policy_node.lerobot_policy import GuidanceSettings, LeRobotPolicy, emulate_latency
from rtc_runtime.scheduling import GIL_SWITCH_INTERVAL_S, realtime_section

CHUNK_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
STATUS_QOS = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
ERROR_BACKOFF_S = 1.0
MERGE_WAIT_S = 2.0  # after sending a chunk, wait this long for the executor to take it
MATCH_WAIT_S = 2.0  # before the first chunk, wait this long for the chunk topic's readers to match


@dataclass
class Observation:
    """Latest messages, each with the monotonic time it arrived."""

    joint_state: JointState | None = None
    joint_state_at: float = 0.0
    images: dict | None = None  # name -> (message, arrival time)


def _ms(seconds: float) -> float:
    return seconds * 1000.0


class PolicyNode(Node):
    def __init__(self) -> None:
        super().__init__("rtc_policy")
        p = self.declare_parameter
        self.policy_path = p("policy_path", "").value or str(default_checkpoint_path())
        self.device = p("device", "cpu").value
        self.guidance_mode = p("guidance_mode", "identity").value
        self.execution_horizon = p("execution_horizon", 25).value
        self.max_guidance_weight = p("max_guidance_weight", 10.0).value
        self.schedule = p("schedule", "LINEAR").value
        self.camera_topics = p("camera_topics", ["front=/camera/front/image_raw"]).value
        calibration_file = p("calibration_file", "").value or str(default_calibration_path())
        use_degrees = p("use_degrees", True).value
        self.joints = list(p("joint_names", list(JOINT_NAMES)).value)
        task = p("task", "").value
        self.trigger_remaining = p("trigger_remaining", 25).value
        self.observation_timeout_s = p("observation_timeout_s", 0.5).value
        self.extra_latency_ms = p("extra_latency_ms", 0.0).value
        self.publish_priority = p("publish_priority", 30).value
        delay_window = p("delay_window", 10).value
        delay_warmup = p("delay_warmup", 1).value
        self.delay_margin_ticks = p("delay_margin_ticks", 1).value
        delay_percentile = p("delay_percentile", 0.0).value
        self._delay_args = dict(window=delay_window, warmup=delay_warmup, margin_ticks=self.delay_margin_ticks,
                                percentile=delay_percentile or None)

        self.units = JointUnits(Calibration.load(calibration_file), self.joints, use_degrees)
        started = time.monotonic()
        self.policy = LeRobotPolicy(
            self.policy_path, self.device,
            GuidanceSettings(self.guidance_mode, self.execution_horizon, self.max_guidance_weight, self.schedule),
            task=task)
        self.policy.record_denoising(p("debug_denoising", "").value)
        if self.policy.action_dim != len(self.joints) or self.policy.state_dim != len(self.joints):
            raise ValueError(f"policy {self.policy_path} has state dim {self.policy.state_dim} and action dim "
                             f"{self.policy.action_dim}; joint_names has {len(self.joints)} joints")
        self.get_logger().info(f"loaded {self.policy.type} policy from {self.policy_path} on {self.device} "
                               f"in {time.monotonic() - started:.1f} s; guidance {self.guidance_mode}")
        self.cameras = self._parse_cameras(self.camera_topics)

        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._obs = Observation(images={})
        self._status: ExecutorStatus | None = None
        self._status_at = 0.0
        self._executor_clock = ExecutorClock()
        self.history = ChunkHistory()
        self.estimator: DelayEstimator | None = None
        self.state = "waiting for executor status"
        self.level = DiagnosticStatus.WARN
        self.counts = {"chunks": 0, "errors": 0, "paused": 0}
        self.last_error = ""
        self.last_timing: InferenceTiming | None = None
        self.status_behind_ticks = 0     # ticks the status used by the last inference was late
        self._sent_at = 0.0              # monotonic time the last chunk went out
        self._inputs_seen = False        # every input has been fresh at least once
        self._match_wait_since: float | None = None
        self._awaiting_decisions = 0     # merged + rejected count that means the executor took it

        # torch and LeRobot leave ~400k long-lived objects: a full collection of them takes 200+ ms,
        # which would land inside an inference and break the delay the chunk promised. Freeze them,
        # before subscribing, so that no status waits in a queue while the collection runs.
        gc.collect()
        gc.freeze()
        self.create_subscription(JointState, "/joint_states", self._on_joint_state, qos_profile_sensor_data)
        self.create_subscription(ExecutorStatus, "/rtc/executor_status", self._on_status, STATUS_QOS)
        for name, (topic, compressed) in self.cameras.items():
            self.create_subscription(CompressedImage if compressed else Image, topic,
                                     lambda msg, name=name: self._on_image(name, msg), qos_profile_sensor_data)
        self.chunk_pub = self.create_publisher(ActionChunk, "/rtc/action_chunk", CHUNK_QOS)
        self.timing_pub = self.create_publisher(InferenceTiming, "/rtc/timing", 10)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(1.0, self._publish_diagnostics)
        self._thread = threading.Thread(target=self._inference_loop, name="inference", daemon=True)
        self._thread.start()

    # ----- ROS callbacks: store the latest, nothing else -------------------------------------------
    def _parse_cameras(self, entries: list[str]) -> dict[str, tuple[str, bool]]:
        cameras = {}
        for entry in entries:
            name, sep, topic = entry.partition("=")
            if not sep:
                raise ValueError(f"camera_topics entry {entry!r} is not name=topic")
            cameras[f"observation.images.{name}"] = (topic, topic.rstrip("/").endswith("/compressed"))
        missing = set(self.policy.image_keys) - set(cameras)
        if missing:
            raise ValueError(f"the policy needs cameras {sorted(missing)}; camera_topics gives {sorted(cameras)}")
        return cameras

    def _on_joint_state(self, msg: JointState) -> None:
        with self._lock:
            self._obs.joint_state, self._obs.joint_state_at = msg, time.monotonic()

    def _on_image(self, name: str, msg) -> None:
        with self._lock:
            self._obs.images[name] = (msg, time.monotonic())

    def _on_status(self, msg: ExecutorStatus) -> None:
        arrived = time.monotonic()
        with self._lock:
            self._status, self._status_at = msg, arrived
            if msg.control_rate_hz > 0:
                self._executor_clock.observe(msg.step, 1.0 / msg.control_rate_hz, arrived)
        self._wake.set()

    # ----- inference thread ------------------------------------------------------------------------
    def _inference_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.1)
            self._wake.clear()
            try:
                self._maybe_infer()
            except Exception as exc:  # the node stays up and reports; the next trigger retries
                self.counts["errors"] += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                self.state, self.level = f"inference failed: {self.last_error}", DiagnosticStatus.ERROR
                self.get_logger().error(f"inference failed: {self.last_error}\n{traceback.format_exc()}")
                self._stop.wait(ERROR_BACKOFF_S)

    def _snapshot(self):
        """The latest inputs, and how many ticks the executor has run since the status was sent
        (a status can arrive late; the executor clock knows the tick now)."""
        with self._lock:
            status = self._status
            now_step = self._executor_clock.step_at(time.monotonic()) if status is not None else None
            behind = 0 if now_step is None else now_step - status.step
            return status, behind, self._obs.joint_state, self._obs.joint_state_at, dict(self._obs.images)

    def _stale_inputs(self, joint_state_at: float, images: dict, now: float) -> list[str]:
        stale = [] if now - joint_state_at <= self.observation_timeout_s else ["/joint_states"]
        if now - self._status_at > self.observation_timeout_s:  # the executor may be gone
            stale.append("/rtc/executor_status")
        for key, (topic, _) in self.cameras.items():
            if key not in images or now - images[key][1] > self.observation_timeout_s:
                stale.append(topic)
        return stale

    def _chunk_readers_matched(self) -> bool:
        """Whether every subscriber of the chunk topic the graph knows (the executor, a recorder) is
        matched with our publisher, or MATCH_WAIT_S has passed (a reader with incompatible QoS never
        matches). Checked before the first chunk only: a chunk published while a reader is still
        being matched never reaches it (the recorder lost the first chunks of 4 runs in 22 that
        way, the hardest seams of a run)."""
        topic = self.chunk_pub.topic_name
        graph, matched = self.count_subscribers(topic), self.chunk_pub.get_subscription_count()
        if graph and matched >= graph:
            return True
        now = time.monotonic()
        self._match_wait_since = self._match_wait_since or now
        if matched and now - self._match_wait_since > MATCH_WAIT_S:
            self.get_logger().warning(f"{graph - matched} of {graph} subscribers of {topic} did not match "
                                      f"in {MATCH_WAIT_S} s (incompatible QoS?); publishing anyway")
            return True
        self.state, self.level = f"waiting for the subscribers of {topic} to match", DiagnosticStatus.WARN
        return False

    def _needs_chunk(self, status: ExecutorStatus, behind: int) -> bool:
        decided = status.merged_count + status.rejected_count
        if decided < self._awaiting_decisions and time.monotonic() - self._sent_at < MERGE_WAIT_S:
            return False  # the executor has not merged or rejected our last chunk yet
        return status.active_chunk_id == 0 or status.remaining - behind <= self.trigger_remaining

    def _maybe_infer(self) -> None:
        status, behind, joint_state, joint_state_at, images = self._snapshot()
        if status is None or not self._needs_chunk(status, behind):
            return
        now = time.monotonic()
        stale = self._stale_inputs(joint_state_at, images, now)
        if stale and not self._inputs_seen:  # start-up: the publishers are still coming up
            self.state, self.level = f"waiting for the first message on {', '.join(stale)}", DiagnosticStatus.WARN
            return
        if not self._inputs_seen and not self._chunk_readers_matched():
            return
        self._inputs_seen = True
        if stale:
            if not self.state.startswith("paused"):
                self.counts["paused"] += 1
                self.get_logger().warning(f"inference paused: no recent message on {stale}")
            self.state, self.level = f"paused: no recent message on {', '.join(stale)}", DiagnosticStatus.WARN
            return
        if self.estimator is None or self.estimator.control_period_s != 1.0 / status.control_rate_hz:
            self.estimator = DelayEstimator(1.0 / status.control_rate_hz, **self._delay_args)
        self._infer(status, behind, joint_state, images)

    def _infer(self, status: ExecutorStatus, behind: int, joint_state: JointState, images: dict) -> None:
        t_start = time.monotonic()
        wall_start = self.get_clock().now()
        # Row 0 is meant for the tick the executor serves next now, not for the one the (possibly
        # late) status named; the leftover starts at that tick too.
        source_step = status.step + behind
        self.status_behind_ticks = behind
        guided = status.active_chunk_id != 0 and self.guidance_mode != "off"
        leftover = self.history.leftover(status.active_chunk_id, status.index_in_chunk + behind) if guided else None
        delay = self.estimator.estimate()
        prev_id = status.active_chunk_id if leftover is not None else 0

        radians = joint_vector(joint_state.name, joint_state.position, self.joints)
        state = self.units.to_features(radians)
        arrays, stamp = {}, None
        for key, (msg, _) in images.items():
            if key in self.cameras:
                arrays[key] = compressed_to_rgb(msg.format, bytes(msg.data)) if isinstance(msg, CompressedImage) \
                    else raw_to_rgb(msg.encoding, msg.height, msg.width, msg.step, bytes(msg.data))
                stamp = msg.header.stamp if stamp is None else stamp
        t_pre = time.monotonic()

        chunk = self.policy.sample(state, arrays, leftover, delay)
        t_model = time.monotonic()
        emulate_latency(self.extra_latency_ms, t_pre)
        t_sampled = time.monotonic()
        radians_chunk = self.units.to_radians(chunk.actions)
        t_post = time.monotonic()

        # Building and publishing the chunk is short; under SCHED_FIFO no other process preempts it.
        with realtime_section(self.publish_priority):
            msg = ActionChunk()
            msg.header.stamp = stamp if stamp is not None else joint_state.header.stamp
            msg.chunk_id = self.history.add(chunk.model_output)
            msg.source_step = source_step
            msg.inference_delay = delay
            msg.execution_horizon = self.execution_horizon
            msg.guidance_mode = self.guidance_mode
            msg.prev_chunk_id = prev_id
            msg.joint_names = self.joints
            msg.length, msg.action_dim = radians_chunk.shape
            # array.array skips rclpy's per-element range check of a float list (milliseconds for 50x6)
            msg.actions = array.array("f", radians_chunk.astype(np.float32).tobytes())
            msg.inference_start = wall_start.to_msg()
            msg.inference_end = self.get_clock().now().to_msg()
            self.chunk_pub.publish(msg)
            t_pub = time.monotonic()  # the chunk is out; going back to normal scheduling is not
        self._sent_at = t_pub
        self._awaiting_decisions = status.merged_count + status.rejected_count + 1
        self.estimator.add(t_pub - t_start)

        timing = InferenceTiming()
        timing.header.stamp = self.get_clock().now().to_msg()
        timing.chunk_id = msg.chunk_id
        timing.preprocessing_ms = _ms(t_pre - t_start)
        timing.policy_inference_ms = _ms(t_model - t_pre)
        timing.guidance_ms = _ms(chunk.guidance_s)
        timing.postprocessing_ms = _ms(t_post - t_sampled)
        timing.publish_ms = _ms(t_pub - t_post)
        obs_ns = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
        timing.end_to_end_ms = (self.get_clock().now().nanoseconds - obs_ns) / 1e6 if obs_ns else float("nan")
        timing.extra_latency_ms = float(self.extra_latency_ms)
        timing.inference_delay = delay
        timing.last_d_real = status.last_d_real
        timing.execution_horizon = self.execution_horizon
        self.timing_pub.publish(timing)
        self.last_timing = timing
        self.counts["chunks"] += 1
        self.state, self.level = "running", DiagnosticStatus.OK

    # ----- diagnostics -----------------------------------------------------------------------------
    def _publish_diagnostics(self) -> None:
        status = DiagnosticStatus(level=self.level, name="rtc_policy: inference", message=self.state,
                                  hardware_id=self.device)
        values = {**{k: str(v) for k, v in self.counts.items()}, "policy": self.policy_path,
                  "guidance_mode": self.guidance_mode, "last_error": self.last_error,
                  "delay_estimate_ticks": str(self.estimator.estimate() if self.estimator else ""),
                  "status_behind_ticks": str(self.status_behind_ticks)}
        if self.last_timing is not None:
            values["policy_inference_ms"] = f"{self.last_timing.policy_inference_ms:.1f}"
            values["end_to_end_ms"] = f"{self.last_timing.end_to_end_ms:.1f}"
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(array)

    def shutdown(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5.0)


def main(args: list[str] | None = None) -> None:
    # The publishing section runs under SCHED_FIFO but still needs the GIL: a short switch interval
    # bounds how long a normal thread of this process (ROS callbacks) can keep it.
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    rclpy.init(args=args)
    node = None
    try:
        node = PolicyNode()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.shutdown()
            node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
