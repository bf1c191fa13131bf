"""The policy node: samples RTC-guided action chunks from the latest observation.

Wiring only. What to do when (trigger, start-up and pause gating, the wait for a merge, the delay
estimate, the leftover, back-off after an error) is `core.inference_scheduler.InferenceScheduler`'s;
sampling a chunk (joints by name, units, the policy) is `chunk_sampler.ChunkSampler`'s. This node feeds the scheduler
with messages and the monotonic clock, runs the inferences it plans on a thread of their own, and
publishes what comes out.

Parameters: `PARAMETERS` below (docs/policy_node.md shows the same table; a test keeps them equal).
They are all checked before torch or LeRobot is imported, so a bad value costs no loading time.
`task` and the guidance's `execution_horizon`, `max_guidance_weight` and `schedule` are settable
while running (`ros2 param set`, checked like at start-up): each inference reads them once when it
starts, so a chunk is made with one set of them and the queue is never flushed. Every other
parameter is read-only. The `rtc/task` topic (std_msgs/String) sets `task` the same way.
Warm-up: the first `warmup_inferences` inferences (at least 2 with `use_torch_compile`: the first
compiles, the second is guided, docs/policy_node.md) run on the live inputs but publish nothing and
give the delay estimate no sample; /diagnostics says "warming up (n of N)" and the executor holds.

Topics (relative: they follow the node's namespace): subscribes joint_states (sensor_msgs/JointState,
radians), rtc/executor_status (rtc_msgs/ExecutorStatus), rtc/task (std_msgs/String) and the camera
topics (sensor data QoS);
publishes rtc/action_chunk (rtc_msgs/ActionChunk, reliable, depth 10), rtc/timing
(rtc_msgs/InferenceTiming) and /diagnostics (1 Hz, global). ROS callbacks only store the latest messages.
The first camera's frames wake the inference thread too: the scheduler starts an inference at the last
frame before the trigger. Every rtc/timing component is recorded with rtc_runtime.profiling and
summarized at shutdown (docs/profiling.md).
"""
from __future__ import annotations

import array
import math
import threading
import time
import traceback
from dataclasses import replace
from pathlib import Path

import numpy as np
from rclpy.node import Node
from rclpy.experimental import EventsExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rtc_msgs.msg import ActionChunk, ExecutorStatus, InferenceTiming
from rtc_runtime.diagnostics import (Diagnostics, Level, Report, Threshold, configure_thresholds,
                                     threshold_parameters)
from rtc_runtime.gc_pauses import freeze_startup_objects
from rtc_runtime.node_main import StartupError, run_node
from rtc_runtime.parameters import ParameterError, ParameterSpec, declare
from rtc_runtime.profiling import enable_profiling, print_profiling_summary, record_span
from rtc_runtime.scheduling import GIL_SWITCH_INTERVAL_S, realtime_section
from rtc_runtime.tracing import tracer
from rclpy.parameter import Parameter
from sensor_msgs.msg import CompressedImage, Image, JointState
from std_msgs.msg import String

from rtc_contract.chunk_source import run_source
from rtc_contract.chunk_signature import ChunkSigner, KeyFileError, load_private_key
from rtc_policy_node.core.inference_scheduler import (FIRST_CHUNK_GUIDANCE, InferenceScheduler, Phase, Plan,
                                                      SchedulerSettings)
from rtc_contract.modes import GuidanceMode
from rtc_contract.noise import UNSEEDED, chunk_noise
from rtc_policy_node.core.mode_choice import SWITCH_TRANSITION_ROWS
from rtc_policy_node.core.schedules import PrefixSchedule
from rtc_contract.image_decoding import compressed_size_problem, compressed_to_rgb, image_size_problem, raw_to_rgb
from rtc_policy_node.core.status_check import status_problem
from rtc_policy_node.chunk_sampler import ChunkSampler, RadianObservation
from rtc_policy_node.joint_units import units_from_parameters
from rtc_contract.timing_components import COMPONENTS, WHOLE
from rtc_contract.topics import (ACTION_CHUNK_TOPIC, EXECUTOR_STATUS_TOPIC, JOINT_STATES_TOPIC, TASK_TOPIC,
                                 TIMING_TOPIC)
from rtc_policy_node.policy_methods import TORCH_COMPILE_MODES

CHUNK_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
STATUS_QOS = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
WAKE_PERIOD_S = 0.1  # the inference thread re-decides at least this often without a new status
REFUSED_WARN_S = 10.0  # /diagnostics stays WARN this long after an input was refused (status or image)
REFUSED_LOG_S = 5.0  # at most one log line per kind of refused input this often
DENOISING_FLUSH_S = 3.0  # at shutdown, how long the pending denoising plots may take (the runner waits 10 s)

# What raises the "inference" status above OK, besides inference errors (ERROR); bounds are parameters
# (docs/diagnostics.md).
THRESHOLDS = (
    Threshold("delay_over_horizon", "the delay estimate as a share of execution_horizon: above 1 the new "
              "chunk arrives after the leftover that guidance follows", 0.8, 1.0),
    Threshold("paused_s", "how long inference has not been running (paused on stale inputs, waiting for the "
              "executor, its inputs or its readers), from the first report that saw it; the message says why",
              0.0, 5.0),
    Threshold("observation_age_ms", "age of the oldest observation input (joint states, each camera)",
              200.0, 5000.0),
)

_defaults = SchedulerSettings()
PARAMETERS = (
    ParameterSpec("policy_path", "", "checkpoint directory (LeRobot pretrained format) or hub id; empty: the "
                  "built-in checkpoint"),
    ParameterSpec("device", "cpu", "torch device"),
    ParameterSpec("guidance_mode", GuidanceMode.IDENTITY.value, "how a new chunk continues the leftover",
                  choices=tuple(m.value for m in GuidanceMode)),
    ParameterSpec("execution_horizon", 25, "ticks of the leftover that guidance follows", unit="ticks", minimum=1,
                  settable=True),
    ParameterSpec("max_guidance_weight", 10.0, "clip of the guidance weight (LeRobot's beta)", minimum=0.0,
                  above_minimum=True, settable=True),
    ParameterSpec("schedule", PrefixSchedule.LINEAR.name, "prefix weights over the leftover (LeRobot's default "
                  "is LINEAR)", choices=tuple(s.name for s in PrefixSchedule), settable=True),
    ParameterSpec("camera_topics", ["front=camera/front/image_raw"], "name=topic: the topic feeds "
                  "observation.images.<name>; a topic ending in /compressed is a sensor_msgs/CompressedImage",
                  non_empty=True),
    ParameterSpec("max_image_pixels", 4096 * 4096, "larger camera images (width x height, read from the header "
                  "before decoding) are refused with a WARN and counted on /diagnostics; the default passes "
                  "any camera up to 4096 x 4096", unit="pixels", minimum=1),
    ParameterSpec("joint_names", [], "the policy's state/action joints in its order, matched by name to "
                  "/joint_states; empty: the joints the policy names (the built-in policy does)", unique=True),
    ParameterSpec("calibration_file", "", "lerobot-calibrate JSON: the policy works in LeRobot feature units "
                  "(Feetech arms: SO-100/SO-101, Koch); empty: the policy works in radians"),
    ParameterSpec("use_degrees", True, "with calibration_file: joints in degrees (else -100..100); a gripper "
                  "is always 0..100"),
    ParameterSpec("task", "", "language instruction for policies that take one; from the next inference on when "
                  "set while running (also by the rtc/task topic), the queue is kept", settable=True),
    ParameterSpec("use_torch_compile", False, "torch.compile the policy's embedding and denoiser (compiled during "
                  "the warm-up inferences)"),
    ParameterSpec("torch_compile_backend", "inductor", "with use_torch_compile: torch.compile's backend",
                  non_empty=True),
    ParameterSpec("torch_compile_mode", "default", "with use_torch_compile: torch.compile's mode",
                  choices=TORCH_COMPILE_MODES),
    ParameterSpec("warmup_inferences", 1, "first inferences whose chunks are not published and whose latency the "
                  "delay estimate does not see (cold caches; with use_torch_compile at least 2: compiling); "
                  "the executor holds meanwhile", minimum=0),
    ParameterSpec("trigger_remaining", _defaults.trigger_remaining, "start an inference when the executor has "
                  "this many actions left or fewer", unit="ticks", minimum=0),
    ParameterSpec("observation_timeout_s", _defaults.observation_timeout_s, "older camera images, joint states "
                  "or executor status pause inference", unit="s", minimum=0.0, above_minimum=True),
    ParameterSpec("extra_latency_ms", 0.0, "added latency, emulating a larger model on this machine", unit="ms",
                  minimum=0.0),
    ParameterSpec("extra_latency_sequence_ms", [0.0], "added to extra_latency_ms chunk by chunk, cyclically (chunk "
                  "n takes element (n - 1) mod length): a jittering or spiking latency profile "
                  "(bench/graph_seams.py --latency draws one)", unit="ms", minimum=0.0, non_empty=True),
    ParameterSpec("delay_window", _defaults.delay_window, "chunks the delay estimate looks back over", minimum=1),
    ParameterSpec("delay_warmup", _defaults.delay_warmup, "first chunks left out of the delay estimate "
                  "(cold start)", minimum=0),
    ParameterSpec("delay_margin_ticks", _defaults.delay_margin_ticks, "ticks added to the delay estimate",
                  unit="ticks", minimum=0),
    ParameterSpec("delay_percentile", _defaults.delay_percentile, "statistic of the delay window: 0 the "
                  "maximum, else this percentile", minimum=0.0, maximum=100.0),
    ParameterSpec("first_chunk_guidance", _defaults.first_chunk_guidance, "how the chunk after the first one "
                  "after start or rest follows it: executed = only over the rows run before the new chunk "
                  "arrives (smooth seam, the rest free), free = not at all (a jump), follow = like any leftover "
                  "(docs/builtin_policy.md, guidance and the obstacle)", choices=FIRST_CHUNK_GUIDANCE),
    ParameterSpec("first_chunk_max_disagreement", _defaults.first_chunk_max_disagreement, "with executed: that "
                  "chunk is also sampled unguided from the same noise, and the unguided one is published when the "
                  "guided one differs from it by more than this from the delay's row on (a clean switch to the "
                  "policy's new plan instead of a blend); 0: never", unit="normalised", minimum=0.0),
    ParameterSpec("switch_transition_rows", SWITCH_TRANSITION_ROWS, "when that chunk switches to the new plan: "
                  "rows of the transition from the executed rows onto it, continuous in position and velocity "
                  "(core.mode_choice.smooth_switch)", unit="rows", minimum=1),
    ParameterSpec("publish_priority", 30, "SCHED_FIFO priority of the inference thread while it builds, stamps "
                  "and publishes a chunk (inference itself stays normal); 0: never raised", minimum=0, maximum=99),
    ParameterSpec("debug_denoising", "", "directory: track every denoising step (LeRobot's RTC debug tracker) "
                  "and write chunk_NNNN.png/.npz per chunk there, by a low-priority writer process (records it cannot keep up "
                  "with are dropped and counted in /diagnostics); empty: off"),
    ParameterSpec("noise_seed", 0, "each chunk's sampling noise is drawn from (noise_seed, chunk id) and the "
                  "seed recorded in the chunk, so that a recorded run replays offline (docs/bags.md); negative: "
                  "unseeded"),
    ParameterSpec("profiling", True, "record every /rtc/timing component (docs/profiling.md); print their table "
                  "at shutdown"),
    ParameterSpec("signing_key_file", "", "Ed25519 private key (PEM, from rtc_keygen) that signs every chunk "
                  "(docs/authentication.md); empty: chunks go unsigned"),
    *threshold_parameters(THRESHOLDS),
)


def parse_camera_topics(entries: list[str]) -> dict[str, tuple[str, bool]]:
    """camera_topics -> {observation.images.<name>: (topic, compressed)}."""
    cameras = {}
    for entry in entries:
        name, sep, topic = entry.partition("=")
        if not sep or not name or not topic:
            raise ParameterError(f"parameter camera_topics entry {entry!r} is not name=topic")
        cameras[f"observation.images.{name}"] = (topic, topic.rstrip("/").endswith("/compressed"))
    return cameras


def _local_path_missing(policy_path: str) -> bool:
    """A path-looking policy_path (not a hub id) that does not exist."""
    looks_local = policy_path.startswith(("/", "./", "../", "~"))
    return looks_local and not Path(policy_path).expanduser().exists()


def _ms(seconds: float) -> float:
    return seconds * 1000.0


def _age_ms(now_ns: int, then_ns: int) -> float:
    """now - then in ms; NaN when either stamp is unknown (0)."""
    return (now_ns - then_ns) / 1e6 if now_ns and then_ns else float("nan")


class PolicyNode(Node):
    def __init__(self) -> None:
        super().__init__("rtc_policy")
        self.source = run_source(self.get_fully_qualified_name())  # ActionChunk.source of this run
        p = declare(self, PARAMETERS)
        self.cameras = parse_camera_topics(p["camera_topics"])
        if _local_path_missing(p["policy_path"]):
            raise ParameterError(f"parameter policy_path = {p['policy_path']!r}: no such directory")
        settings = SchedulerSettings(
            trigger_remaining=p["trigger_remaining"], observation_timeout_s=p["observation_timeout_s"],
            delay_window=p["delay_window"], delay_warmup=p["delay_warmup"],
            delay_margin_ticks=p["delay_margin_ticks"], delay_percentile=p["delay_percentile"],
            first_chunk_guidance=p["first_chunk_guidance"],
            first_chunk_max_disagreement=p["first_chunk_max_disagreement"])
        self.guidance_mode = GuidanceMode(p["guidance_mode"])
        self.execution_horizon = p["execution_horizon"]
        self.extra_latency_ms = p["extra_latency_ms"]
        self.extra_latency_sequence_ms = [float(v) for v in p["extra_latency_sequence_ms"]]
        self.publish_priority = p["publish_priority"]
        self.noise_seed = p["noise_seed"]
        self.signer = self._signer(p["signing_key_file"])
        self.device = p["device"]
        # unpublished first inferences; with torch.compile at least an unguided (compiling) and a guided one
        self.warmup_inferences = max(p["warmup_inferences"], 2) if p["use_torch_compile"] else p["warmup_inferences"]
        self.warmups_done = 0
        self._warmup_leftover = None  # the last warm-up's rows, the leftover of the next (a guided one)
        self.profiling = p["profiling"]
        self.thresholds = configure_thresholds(THRESHOLDS, p)
        self.fatal_error = ""
        self.max_image_pixels = p["max_image_pixels"]
        # hostile or broken inputs dropped by the callbacks: count, last reason, monotonic time of the last
        self._refused = {"executor_status": 0, "images": 0}
        self._last_refusal, self._refused_at = "", -math.inf
        self._refusal_logged_at = {kind: -math.inf for kind in self._refused}

        self.policy, self.policy_path = self._load_policy(p)
        self.policy.record_denoising(p["debug_denoising"])
        if p["use_torch_compile"]:
            self._compile(p["torch_compile_backend"], p["torch_compile_mode"])
        self.joints = self._joint_names(p["joint_names"])
        try:
            units = units_from_parameters(p["calibration_file"], self.joints, p["use_degrees"])
        except ValueError as err:
            raise ParameterError(f"parameter calibration_file: {err}") from None
        self.sampler = ChunkSampler(self.policy, units, self.joints)
        missing = set(self.policy.image_keys) - set(self.cameras)
        if missing:
            raise ParameterError(f"parameter camera_topics gives {sorted(self.cameras)}; the policy needs cameras "
                                 f"{sorted(missing)}")

        self._lock = threading.Lock()  # the scheduler and the latest messages, between the two threads
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._joint_state: JointState | None = None
        self._images: dict[str, tuple] = {}  # key -> (message, ROS-clock arrival in ns)
        self._woken_at = 0.0  # monotonic arrival of the message that last woke the inference thread
        # The chunk's observation is the first camera's image; its frames may start an inference.
        self._frame_camera = next(iter(self.cameras), None)
        # The scheduler names inputs by their resolved topics (in diagnostics and notices).
        self._joint_states_input = self.resolve_topic_name(JOINT_STATES_TOPIC)
        self._camera_inputs = {key: self.resolve_topic_name(topic) for key, (topic, _) in self.cameras.items()}
        self.scheduler = InferenceScheduler(
            settings, inputs=[self._joint_states_input, *self._camera_inputs.values()],
            status_input=self.resolve_topic_name("rtc/executor_status"),
            chunk_output=self.resolve_topic_name("rtc/action_chunk"),
            frame_input=self._camera_inputs[self._frame_camera] if self._frame_camera else None)
        if self.profiling:
            enable_profiling(device=self.device)
        self.last_timing: InferenceTiming | None = None
        self._status_behind_ticks = 0
        self._stopped_since: float | None = None  # since when a report saw inference not running; None: running

        # torch and LeRobot leave ~400k long-lived objects: a full collection of them would land inside
        # an inference and break the delay the chunk promised. Freeze them, before subscribing, so that
        # no status waits in a queue while the collection runs.
        freeze_startup_objects()
        self.create_subscription(JointState, JOINT_STATES_TOPIC, self._on_joint_state, qos_profile_sensor_data)
        self.create_subscription(ExecutorStatus, EXECUTOR_STATUS_TOPIC, self._on_status, STATUS_QOS)
        self.create_subscription(String, TASK_TOPIC, self._on_task, 10)
        for key, (topic, compressed) in self.cameras.items():
            self.create_subscription(CompressedImage if compressed else Image, topic,
                                     lambda msg, key=key: self._on_image(key, msg),
                                     qos_profile_sensor_data)
        self.chunk_pub = self.create_publisher(ActionChunk, ACTION_CHUNK_TOPIC, CHUNK_QOS)
        self.timing_pub = self.create_publisher(InferenceTiming, TIMING_TOPIC, 10)
        self.diagnostics = Diagnostics(self, hardware_id=f"{self.policy.type} on {self.device}")
        self.diagnostics.add("inference", self._inference_report)
        tracer(self.get_name())  # when tracing: a sink of every record_span
        self._thread = threading.Thread(target=self._inference_loop, name="inference", daemon=True)

    def _signer(self, key_file: str) -> ChunkSigner | None:
        if not key_file:
            return None
        try:
            signer = ChunkSigner(load_private_key(Path(key_file).expanduser()))
        except KeyFileError as err:
            raise ParameterError(f"parameter signing_key_file: {err}") from None
        self.get_logger().info(f"signing chunks with key {signer.key_id} ({key_file})")
        return signer

    def _compile(self, backend: str, mode: str) -> None:
        from rtc_policy_node.policy_methods import compile_policy

        try:
            compiled = compile_policy(self.policy, backend, mode)
        except ValueError as err:
            raise ParameterError(f"parameter {err}") from None
        self.get_logger().info(f"torch.compile ({backend}, {mode}): {', '.join(compiled) or 'no known policy methods'}; "
                               f"compiling during {self.warmup_inferences} warm-up inferences")

    def _load_policy(self, p: dict):
        """Heavy imports and loading, after every parameter was checked."""
        from rtc_policy_node.builtin_policy.checkpoint import CheckpointError, default_checkpoint_path
        from rtc_policy_node.lerobot_policy import GuidanceSettings, LeRobotPolicy

        path = p["policy_path"] or str(default_checkpoint_path())
        started = time.monotonic()
        guidance = GuidanceSettings(self.guidance_mode, self.execution_horizon, p["max_guidance_weight"],
                                    p["schedule"], switch_transition_rows=p["switch_transition_rows"])
        try:
            policy = LeRobotPolicy(path, self.device, guidance, task=p["task"])
        except (CheckpointError, OSError) as err:
            raise StartupError(f"cannot load policy {path}: {err}") from None
        self.get_logger().info(f"loaded {policy.type} policy from {path} on {self.device} in "
                               f"{time.monotonic() - started:.1f} s; guidance {self.guidance_mode.value}")
        return policy, path

    def _joint_names(self, configured: list[str]) -> list[str]:
        joints = list(configured) or list(self.policy.joint_names or [])
        if not joints:
            raise ParameterError(f"parameter joint_names is empty and the {self.policy.type} policy does not name "
                                 "its joints: list them in the policy's state/action order")
        if self.policy.action_dim != len(joints) or self.policy.state_dim != len(joints):
            raise ParameterError(f"parameter joint_names has {len(joints)} joints; the policy has state dim "
                                 f"{self.policy.state_dim} and action dim {self.policy.action_dim}")
        return joints

    # ----- ROS callbacks: store the latest, nothing else -------------------------------------------
    def _on_joint_state(self, msg: JointState) -> None:
        now = time.monotonic()
        with self._lock:
            self._joint_state = msg
            self.scheduler.on_input(self._joint_states_input, now)

    def _on_image(self, key: str, msg) -> None:
        now = time.monotonic()
        problem = compressed_size_problem(bytes(msg.data), self.max_image_pixels) \
            if isinstance(msg, CompressedImage) else image_size_problem(msg.width, msg.height, self.max_image_pixels)
        if problem is not None:
            self._refuse("images", f"{self._camera_inputs[key]}: {problem}", now)
            return
        with self._lock:
            self._images[key] = (msg, self.get_clock().now().nanoseconds)
            self.scheduler.on_input(self._camera_inputs[key], now)
            if key == self._frame_camera:
                self._woken_at = now
                self._wake.set()

    def _on_task(self, msg: String) -> None:
        """The rtc/task topic: the same as `ros2 param set task` (the next inference takes it)."""
        result = self.set_parameters([Parameter("task", Parameter.Type.STRING, msg.data)])[0]
        if result.successful:
            self.get_logger().info(f"task from {TASK_TOPIC}: {msg.data!r}, from the next inference on")
        else:
            self.get_logger().warning(f"task from {TASK_TOPIC} refused: {result.reason}")

    def _on_status(self, msg: ExecutorStatus) -> None:
        now = time.monotonic()
        problem = status_problem(msg)
        if problem is not None:  # spoofed or broken: the last good status stays in force
            self._refuse("executor_status", f"{self.scheduler.status_input}: {problem}", now)
            return
        with self._lock:
            self.scheduler.on_status(msg, now)
            self._woken_at = now
        self._wake.set()

    def _refuse(self, kind: str, reason: str, now: float) -> None:
        """Drop an input that fails its check: count it, WARN (rate-limited), keep the last good one."""
        self._refused[kind] += 1
        self._last_refusal, self._refused_at = reason, now
        if now - self._refusal_logged_at[kind] >= REFUSED_LOG_S:
            self._refusal_logged_at[kind] = now
            self.get_logger().warning(f"dropped a message on {reason} ({self._refused[kind]} {kind} dropped so far)")

    # ----- inference thread ------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop the inference thread before rclpy's context goes (it publishes)."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10.0)
        if self.policy.denoising_writer is not None:  # the chunks sampled so far get their plots, within reason
            left = self.policy.denoising_writer.close(timeout_s=DENOISING_FLUSH_S)
            if left:
                self.get_logger().warning(f"debug_denoising: {left} plot(s) not written at shutdown")
        if self.profiling:
            print_profiling_summary(sort_by="mean", whole=WHOLE, title=f"{self.get_name()}: profiling summary")

    def _inference_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(WAKE_PERIOD_S)
            self._wake.clear()
            readers = (self.count_subscribers(self.chunk_pub.topic_name), self.chunk_pub.get_subscription_count())
            with self._lock:
                plan = self.scheduler.decide(time.monotonic(), readers)
                joint_state, images, woken_at = self._joint_state, dict(self._images), self._woken_at
                notices, self.scheduler.notices = self.scheduler.notices, []
            for notice in notices:
                self.get_logger().warning(notice)
            if plan is None:
                continue
            try:
                if self.warmups_done < self.warmup_inferences:
                    self._warm_up(plan, joint_state, images)
                else:
                    self._infer(plan, joint_state, images, woken_at)
            except Exception as exc:  # the node stays up and reports; the scheduler backs off
                message = f"{type(exc).__name__}: {exc}"
                with self._lock:
                    first = self.scheduler.on_error(message, time.monotonic())
                if first:
                    self.get_logger().error(f"inference failed: {message}\n{traceback.format_exc()}")
                else:
                    self.get_logger().error(f"inference failed again: {message}", throttle_duration_sec=10.0)

    def _settable(self) -> str:
        """Apply the settable parameters' values for the inference about to start; its task."""
        task, horizon, weight, schedule = (self.get_parameter(name).value for name in
                                           ("task", "execution_horizon", "max_guidance_weight", "schedule"))
        self.policy.task = task
        settings = self.policy.settings
        wanted = replace(settings, execution_horizon=horizon, max_guidance_weight=weight, schedule=schedule)
        if wanted != settings:
            self.policy.configure(wanted)
            self.get_logger().info(f"guidance from this inference on: execution_horizon {horizon}, "
                                   f"max_guidance_weight {weight:g}, schedule {schedule}")
        self.execution_horizon = horizon
        return task

    @staticmethod
    def _observation(joint_state: JointState, images: dict) -> RadianObservation:
        """The observation (joints by name, images HxWx3 uint8) in the latest messages."""
        arrays = {}
        for key, (msg, _) in images.items():
            arrays[key] = compressed_to_rgb(msg.format, bytes(msg.data)) if isinstance(msg, CompressedImage) \
                else raw_to_rgb(msg.encoding, msg.height, msg.width, msg.step, bytes(msg.data))
        return RadianObservation(joint_state.name, joint_state.position, arrays)

    def _warm_up(self, plan: Plan, joint_state: JointState, images: dict) -> None:
        """One warm-up inference on the live inputs: nothing published, no delay sample. From the
        second on, the previous one's last rows are its leftover, so a guided inference runs too.
        The emulated latency counts (a larger model warms up at least as long)."""
        from rtc_policy_node.lerobot_policy import chunk_extra_latency_ms, emulate_latency

        started = time.monotonic()
        self._settable()
        chunk = self.sampler.sample(self._observation(joint_state, images), self._warmup_leftover, plan.delay).sampled
        emulate_latency(chunk_extra_latency_ms(self.extra_latency_ms, self.extra_latency_sequence_ms,
                                               self.warmups_done + 1), started)
        self._warmup_leftover = chunk.model_output[-self.scheduler.settings.trigger_remaining:] \
            if self.scheduler.settings.trigger_remaining else None
        self.warmups_done += 1
        self.get_logger().info(f"warm-up inference {self.warmups_done} of {self.warmup_inferences}: "
                               f"{time.monotonic() - started:.2f} s, not published"
                               + ("; publishing from the next inference on"
                                  if self.warmups_done == self.warmup_inferences else ""))

    def _infer(self, plan: Plan, joint_state: JointState, images: dict, woken_at: float) -> None:
        from rtc_policy_node.lerobot_policy import chunk_extra_latency_ms, emulate_latency

        t_start = time.monotonic()
        wall_start = self.get_clock().now()
        self._status_behind_ticks = plan.status_behind_ticks
        task = self._settable()
        observation = self._observation(joint_state, images)
        if self._frame_camera is None:  # a policy without cameras: the joint state is the observation
            stamp, image_arrival_ns = joint_state.header.stamp, 0
        else:
            frame, image_arrival_ns = images[self._frame_camera]
            stamp = frame.header.stamp
        t_pre = time.monotonic()

        seeded = self.noise_seed >= 0 and self.policy.chunk_size is not None
        noise = chunk_noise(self.noise_seed, self.scheduler.next_chunk_id(), self.policy.chunk_size,
                            self.policy.action_dim) if seeded else None
        radian_chunk = self.sampler.sample(observation, plan.leftover, plan.delay, noise, plan.max_disagreement)
        chunk = radian_chunk.sampled
        t_model = time.monotonic()
        extra_latency_ms = chunk_extra_latency_ms(self.extra_latency_ms, self.extra_latency_sequence_ms,
                                                  self.scheduler.next_chunk_id())
        emulate_latency(extra_latency_ms, t_pre)
        t_sampled = t_post = time.monotonic()  # the sampler's postprocessing includes the radians
        with self._lock:
            current = self.scheduler.current(plan)
        if not current:  # the executor was reset (~/reset) while this inference ran: its chunk is outdated
            self.get_logger().info(f"dropped the chunk of an inference started before the executor's reset "
                                   f"(epoch {plan.epoch})")
            return

        guided = radian_chunk.guided
        # Building and publishing the chunk is short; under SCHED_FIFO no other process preempts it.
        with realtime_section(self.publish_priority):
            msg = ActionChunk()
            msg.header.stamp = stamp
            msg.chunk_id = self.scheduler.next_chunk_id()
            msg.source = self.source
            msg.source_step = plan.source_step
            msg.inference_delay = plan.delay
            # the leftover rows guidance followed (fewer than the parameter's after a first chunk: scheduler)
            msg.execution_horizon = radian_chunk.execution_horizon
            msg.guidance_mode = self.guidance_mode.value
            msg.prev_chunk_id = plan.prev_chunk_id if guided else 0
            msg.joint_names = self.joints
            msg.length, msg.action_dim = radian_chunk.actions.shape
            # array.array skips rclpy's per-element range check of a float list (milliseconds for 50x6)
            msg.actions = array.array("f", radian_chunk.actions.astype(np.float32).tobytes())
            msg.inference_start = wall_start.to_msg()
            msg.inference_end = self.get_clock().now().to_msg()
            # what an offline replay needs: the leftover's first row, the state's stamp, the noise's seed
            msg.prev_chunk_row = plan.prev_chunk_row if guided else 0
            msg.state_stamp = joint_state.header.stamp
            msg.noise_seed = self.noise_seed if seeded else UNSEEDED
            msg.task = task
            msg.session = plan.session  # the executor run it is for: another run refuses it
            if self.signer is not None:  # last: the signature covers every field above
                msg.signature = self.signer.sign(msg)
            self.chunk_pub.publish(msg)
            t_pub = time.monotonic()  # the chunk is out; going back to normal scheduling is not
        if plan.max_disagreement > 0 and chunk.unguided_instead:
            self.get_logger().info(f"chunk {msg.chunk_id}: the policy's new plan is {chunk.mode_choice.disagreement:.2f} "
                                   f"from the first chunk's continuation (> first_chunk_max_disagreement "
                                   f"{plan.max_disagreement:g}): published unguided, a switch instead of a blend")
        with self._lock:
            self.scheduler.on_published(plan, chunk.model_output, t_start, t_pub)

        # The parts add up to end_to_end_ms (rtc_msgs/msg/InferenceTiming.msg): the sampler's own split
        # covers its preprocessor, model and postprocessor, this node's clock reads the rest.
        timing = InferenceTiming()
        timing.header.stamp = self.get_clock().now().to_msg()
        timing.chunk_id = msg.chunk_id
        timing.preprocessing_ms = _ms(t_pre - t_start + chunk.preprocessing_s)
        # the sampler's call less its pre- and postprocessor: its glue (noise, leftover) counts as model time
        timing.policy_inference_ms = _ms(t_model - t_pre - chunk.preprocessing_s - chunk.postprocessing_s)
        timing.guidance_ms = _ms(chunk.guidance_s)
        timing.extra_latency_wait_ms = _ms(t_sampled - t_model)
        timing.postprocessing_ms = _ms(chunk.postprocessing_s + t_post - t_sampled)
        timing.publish_ms = _ms(t_pub - t_post)
        start_ns = wall_start.nanoseconds
        obs_ns = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
        js_ns = joint_state.header.stamp.sec * 10**9 + joint_state.header.stamp.nanosec
        # one wall-clock reading (at the start) and monotonic durations from it: no part is lost to a
        # preemption between two clock reads, and a wall-clock step does not bend the figures
        timing.end_to_end_ms = _age_ms(start_ns + int((t_pub - t_start) * 1e9), obs_ns)
        timing.observation_age_ms = _age_ms(start_ns, obs_ns)
        timing.image_transport_ms = _age_ms(image_arrival_ns, obs_ns)
        timing.image_wait_ms = _age_ms(start_ns, image_arrival_ns)
        timing.joint_state_age_ms = _age_ms(start_ns, js_ns)
        timing.trigger_wait_ms = _ms(t_start - woken_at)
        timing.extra_latency_ms = float(extra_latency_ms)
        timing.inference_delay = plan.delay
        timing.last_d_real = self._last_d_real()
        timing.execution_horizon = self.sampler.settings.execution_horizon
        self.timing_pub.publish(timing)
        self.last_timing = timing
        self._record(timing, plan.source_step, t_start, t_model, t_post, t_pub)

    def _record(self, timing: InferenceTiming, step: int, start: float, model: float, post: float,
                published: float) -> None:
        """Each /rtc/timing component of this chunk once, as a span on the monotonic clock with the
        chunk id and `step` (rtc_runtime.profiling.record_span: the shutdown summary, and the trace
        when tracing), with the duration /rtc/timing reports (the sampler splits its own preprocessing,
        model and postprocessing; the node's clock reads the rest). The spans before the inference
        (observation ages, the trigger wait) end at its start."""
        start_ns, model_ns, post_ns, published_ns = (int(t * 1e9) for t in (start, model, post, published))
        inference_ns = start_ns + int(timing.preprocessing_ms * 1e6)
        begins = {  # field -> where its span begins, given its duration in ns
            "end_to_end_ms": lambda ns: published_ns - ns,  # ends at the publish, not at a later clock read
            "observation_age_ms": lambda ns: start_ns - ns,
            "image_transport_ms": lambda ns: start_ns - int(timing.image_wait_ms * 1e6) - ns,  # ends at arrival
            "image_wait_ms": lambda ns: start_ns - ns,
            "joint_state_age_ms": lambda ns: start_ns - ns,
            "trigger_wait_ms": lambda ns: start_ns - ns,
            "preprocessing_ms": lambda ns: start_ns,
            "policy_inference_ms": lambda ns: inference_ns,
            "guidance_ms": lambda ns: inference_ns,  # its share of the inference
            "extra_latency_wait_ms": lambda ns: model_ns,
            "postprocessing_ms": lambda ns: post_ns - ns,
            "publish_ms": lambda ns: post_ns,
        }
        for field_name, component in COMPONENTS.items():
            value_ms = getattr(timing, field_name)
            if not math.isnan(value_ms):  # NaN: the part has no stamp to start from
                duration_ns = int(value_ms * 1e6)
                begin = begins[field_name](duration_ns)
                record_span(component, begin, begin + duration_ns, timing.chunk_id, step)

    def _last_d_real(self) -> int:
        with self._lock:
            status = self.scheduler.last_status
        return -1 if status is None else int(status.last_d_real)

    # ----- diagnostics -----------------------------------------------------------------------------
    def _inference_report(self) -> Report:
        now = time.monotonic()
        with self._lock:
            scheduler = self.scheduler
            phase, detail, counts = scheduler.phase, scheduler.detail, scheduler.counts
            estimate = scheduler.delay_estimate
            last_error = scheduler.last_error
            ages = scheduler.input_ages(now)
        if not phase.problem:
            self._stopped_since = None
        elif self._stopped_since is None:
            self._stopped_since = now
        state = f"{phase.value} {detail}" if detail else phase.value
        if not phase.problem and self.warmups_done < self.warmup_inferences:
            state = f"warming up ({self.warmups_done + 1} of {self.warmup_inferences})"
        report = Report()
        if phase is Phase.BACKING_OFF:
            report.raise_to(Level.ERROR, state)
        judged = {
            "delay_over_horizon": float("nan") if estimate is None else estimate / self.execution_horizon,
            "paused_s": float("nan") if self._stopped_since is None else now - self._stopped_since,
            # an input never seen is not an age: the phase says the node waits for its first message
            "observation_age_ms": max((a * 1000.0 for a in ages.values() if a != float("inf")), default=float("nan")),
        }
        for key, value in judged.items():
            self.thresholds[key].judge(report, value)
        if now - self._refused_at < REFUSED_WARN_S:
            report.raise_to(Level.WARN, f"dropped a message on {self._last_refusal}")
        if report.level == Level.OK:
            report.message = state
        elif not report.message.startswith(state):  # the phase says why inference is not running
            report.message = f"{state} ({report.message})"
        report.values = {
            **judged,
            "state": phase.name.lower(),
            "chunks": counts.chunks, "errors": counts.errors, "paused": counts.paused,
            "delay_samples_d_real": counts.d_real_samples, "delay_samples_latency": counts.latency_samples,
            "policy": self.policy_path, "guidance_mode": self.guidance_mode.value, "last_error": last_error,
            "warmup_inferences": f"{self.warmups_done} of {self.warmup_inferences}",
            "task": self.get_parameter("task").value,
            "signing_key_id": self.signer.key_id if self.signer else "(unsigned)",
            "delay_estimate_ticks": "" if estimate is None else estimate,
            "status_behind_ticks": self._status_behind_ticks,
            "refused_executor_status": self._refused["executor_status"], "refused_images": self._refused["images"],
            "last_refusal": self._last_refusal,
        }
        if self.last_timing is not None:
            report.values["policy_inference_ms"] = f"{self.last_timing.policy_inference_ms:.1f}"
            report.values["end_to_end_ms"] = f"{self.last_timing.end_to_end_ms:.1f}"
        writer = self.policy.denoising_writer
        if writer is not None:  # debug_denoising: what the writer could not keep up with or write
            report.values.update(denoising_dropped=writer.dropped, denoising_failed=writer.failed,
                                 denoising_last_failure=writer.last_failure)
            if writer.failed:
                report.raise_to(Level.WARN, f"debug_denoising: {writer.failed} record(s) not written")
        return report


def main(args: list[str] | None = None) -> None:
    # The publishing section runs under SCHED_FIFO but still needs the GIL: a short switch interval
    # bounds how long a normal thread of this process (ROS callbacks) can keep it.
    # EventsExecutor: the image and state callbacks run without a wait set rebuilt in Python per wake
    run_node("policy_node", PolicyNode, args=args, executor=EventsExecutor, switch_interval_s=GIL_SWITCH_INTERVAL_S)


if __name__ == "__main__":
    main()
