"""The executor node: owns time, pops one action per control tick and commands it.

Parameters: `PARAMETERS` below (names, defaults, units, allowed values); docs/executor.md shows the
same table, and a test keeps the two equal. Topics (defaults, remappable): subscribes
rtc/action_chunk (rtc_msgs/ActionChunk, reliable, depth 10) and joint_states (sensor data QoS,
depth 50: only the messages of the one publisher of node `state_publisher`, told by publisher GID,
`rtc_contract.followed_publisher`; `hold_samples` agreeing ones set the hold position,
`core.hold_agreement`; every later one feeds the tracking-error monitor); publishes the
command (reliable, depth 1), rtc/executor_status (rtc_msgs/ExecutorStatus every tick, reliable,
depth 10) and /diagnostics (1 Hz). Names are relative: they follow the node's namespace.

Contract: nothing is commanded before a measured position is known; chunks arriving before then are rejected
(not_ready). Each run draws a random session id (ExecutorStatus.session) that chunks must name
(`other_session`). With `require_trusted_keys` (the real-arm bringup) the node refuses to start without
`trusted_keys` unless `allow_unsigned` is set (exit 2). What merges and what each tick commands is decided
by `core.ExecutorCore`: chunk admission (sizes, session, the signature with trusted_keys, ids per source,
one source followed, one merge per tick), the content contract, the command guard's checks and the queue's
timing rules; a refused chunk is logged, counted and causes no motion. Each tick pops one action (after the
ticks the loop missed, which the step counts) and the command guard turns it, or on underrun the last
command, into the command: every command is inside the guard's envelope (docs/safety.md). The control loop
is a dedicated thread (`rtc_runtime.deadline_loop.Ticker`), not an rclpy timer. With `interpolation` N it
ticks at control_rate_hz x N and commands every tick (rows interpolated, `core.interpolation`); the status
goes out once per policy tick, and its step, d_real and rates stay in policy ticks, so the policy node sees
the same executor whatever N. With `speed_scale` s < 1 the rows are played over a time base stretched by 1/s
(`core.executor_core`): a policy tick is then one row's stretched period, the status reports control_rate_hz
x s as its rate, so steps, d_real, remaining and index stay in rows and the policy node's delays are counted
in them; the status still goes out at least at control_rate_hz, and the guard's velocity and acceleration
bounds are scaled by s.
Services (std_srvs/Trigger, under the node's name): `~/hold` stops consuming rows (the arm holds
its last command; counted as held, not as underruns; chunks still merge), `~/resume` goes on from
the row the hold stopped at, `~/reset` empties the queue, refuses chunks built before it
(`pre_reset`) and bumps ExecutorStatus.epoch. This module imports no torch. To keep the
GIL from delaying ticks, the process also shortens Python's thread switch interval and freezes its
start-up objects out of the garbage collector.
"""
from __future__ import annotations

import math
import secrets
import threading
import time
import traceback
from collections import deque

import numpy as np
from builtin_interfaces.msg import Time
from rclpy.duration import Duration
from rclpy.experimental import EventsExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rtc_msgs.msg import ActionChunk, ExecutorStatus
from rtc_runtime.deadline_loop import Ticker, cadence_line
from rtc_runtime.diagnostics import (Diagnostics, Level, Report, Threshold, configure_thresholds,
                                     judge_heartbeat, threshold_parameters)
from rtc_runtime.gc_pauses import GC_PAUSES
from rtc_runtime.node_main import run_node
from rtc_runtime.parameters import ParameterError, ParameterSpec, declare
from rtc_runtime.profiling import enable_profiling, print_profiling_summary, record_span
from rtc_runtime.scheduling import (GIL_SWITCH_INTERVAL_S, OTHER_THREADS_PRIORITY_BELOW, Scheduling,
                                    normal_scheduling, request_realtime, request_realtime_process)
from rtc_runtime.tracing import tracer
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, MultiArrayDimension
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from rtc_executor.core.action_queue import ActionQueue, MissedRows, PopResult
from rtc_executor.core.chunk_admission import ChunkAdmission
from rtc_contract.chunk_signature import ChunkVerifier, KeyFileError, load_public_key, public_key_files
from rtc_executor.core.command_guard import CommandGuard, GuardLimits
from rtc_executor.core.executor_core import ExecutorCore, check_speed_scale
from rtc_executor.core.hold_agreement import HoldAgreement
from rtc_executor.core.interpolation import InterpolationMode, Interpolator
from rtc_executor.core.tracking_monitor import TrackingMonitor
from rtc_contract.followed_publisher import FollowedPublisher, Publisher, qualified
from rtc_contract.modes import MergeMode
from rtc_contract.joint_vector import joint_vector
from rtc_contract.topics import (ACTION_CHUNK_TOPIC, COMMAND_TOPICS, CONTROL_LOOP_COMPONENT, EXECUTOR_NODE,
                                 EXECUTOR_SERVICES, EXECUTOR_STATUS_TOPIC, JOINT_STATES_TOPIC,
                                 MEASURED_STATE_COMPONENT)

CHUNK_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
STATUS_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
# Latest command wins; a reliable writer also serves the driver's best-effort reader.
COMMAND_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
COMMAND_TYPES = ("joint_state", "float64_array", "trajectory")
TRANSPORT_WINDOW_CHUNKS = 200  # chunks kept for the transport percentiles in /diagnostics
# joint_states are taken by the executor itself (rclpy's EventsExecutor cannot pass a MessageInfo, whose
# publisher GID tells the followed driver's messages): a reader node that is never spun, drained by a timer
JOINT_STATES_QOS = QoSProfile(depth=50, reliability=ReliabilityPolicy.BEST_EFFORT)
JOINT_STATES_POLL_HZ = 100.0

# What raises the "control loop" status above OK; the bounds are parameters (docs/diagnostics.md).
THRESHOLDS = (
    Threshold("lateness_p99_ms", "99th percentile of tick lateness over lateness_window_s", 5.0, 15.0),
    Threshold("missed_ticks_in_period", "ticks skipped since the last report", 1, 10),
    Threshold("underruns_in_period", "ticks that held for want of an action since the last report", 1, 30),
    Threshold("d_real_over_d_ticks", "rows the last merged chunk's merge skipped (its d_real, fewer when the "
              "arm held meanwhile) minus the delay it assumed: its delay promise broken", 1, 5),
    Threshold("rejected_in_period", "chunks rejected since the last report", 1, 3),
)

PARAMETERS = (
    ParameterSpec("control_rate_hz", 30.0, "policy tick rate: one chunk row per tick (commanded "
                  "`interpolation` times). Must match the rate the policy was trained at (row spacing of its "
                  "chunks)", unit="Hz", minimum=0.0, above_minimum=True,
                  maximum=1000.0),
    ParameterSpec("interpolation", 1, "commands per policy row: the loop ticks at control_rate_hz x this, "
                  "commanding points between rows (1: off). Statuses, steps and delays stay in policy ticks; "
                  "the driver's rate_hz must be at least the tick rate", minimum=1, maximum=10),
    ParameterSpec("interpolation_mode", InterpolationMode.HERMITE.value, "with interpolation > 1: linear "
                  "(LeRobot's ActionInterpolator), or hermite (cubic, velocity continuous across rows and "
                  "seams)", choices=tuple(m.value for m in InterpolationMode)),
    ParameterSpec("speed_scale", 1.0, "play the chunks' rows this much slower than control_rate_hz (a time base "
                  "stretched by 1/speed_scale, rows interpolated); the guard's max_velocity and max_acceleration are "
                  "scaled by it. For a first run of a new checkpoint: 0.25. At least 0.001",
                  minimum=0.0, above_minimum=True, maximum=1.0),
    ParameterSpec("mode", MergeMode.RTC.value, "how an arriving chunk merges into the queue",
                  choices=tuple(m.value for m in MergeMode)),
    ParameterSpec("joint_names", [], "the arm's joints, in the order the command carries them; chunk columns "
                  "are matched to them by name (required: the bringup passes the arm's)", non_empty=True, unique=True),
    ParameterSpec("command_type", "joint_state", "joint_state: sensor_msgs/JointState on so100/command; "
                  "float64_array: std_msgs/Float64MultiArray on so100/command_array (ros2_control forward "
                  "controllers, values in joint_names order); trajectory: trajectory_msgs/JointTrajectory on "
                  "so100/joint_trajectory, one point one tick ahead, stamp 0 = start now (ros2_control "
                  "joint_trajectory_controller)", choices=COMMAND_TYPES),
    ParameterSpec("realtime", True, "ask for SCHED_FIFO: the control thread at realtime_priority, every other "
                  "thread of the process at realtime_priority - 10 (normal scheduling if refused)"),
    ParameterSpec("realtime_priority", 50, "SCHED_FIFO priority of the control thread",
                  minimum=OTHER_THREADS_PRIORITY_BELOW + 1, maximum=99),
    ParameterSpec("lateness_window_s", 60.0, "how many recent ticks the lateness percentiles in /diagnostics "
                  "cover", unit="s", minimum=0.0, above_minimum=True),
    # The command guard, chunk admission and stalls: docs/safety.md.
    ParameterSpec("position_lower_limits", [-math.inf], "lowest command per joint (joint_names order), or one "
                  "value for all; -inf: unbounded", unit="rad"),
    ParameterSpec("position_upper_limits", [math.inf], "highest command per joint, or one value for all; "
                  "inf: unbounded", unit="rad"),
    ParameterSpec("max_velocity", [3.0], "per joint, or one for all; a command moves at most this times the "
                  "tick period from the one before", unit="rad/s"),
    ParameterSpec("max_acceleration", [30.0], "per joint, or one for all; bounds how fast the step grows or "
                  "reverses (slowing down is free)", unit="rad/s^2"),
    ParameterSpec("guard_tolerance", 0.05, "excess over a limit or a step that is clamped when played "
                  "instead of rejecting the chunk", unit="rad", minimum=0.0),
    ParameterSpec("guard_max_seam", 0.3, "farthest a chunk's first played row may be from the command "
                  "before it", unit="rad", minimum=0.0),
    ParameterSpec("max_chunk_length", 100, "longest chunk accepted", unit="rows", minimum=1),
    ParameterSpec("follow_one_source", True, "follow one chunk source at a time (ActionChunk.source)"),
    ParameterSpec("source_timeout_s", 2.0, "silence after which another source may take over", unit="s",
                  minimum=0.0, above_minimum=True),
    # Authenticated chunks: docs/authentication.md.
    ParameterSpec("trusted_keys", [], "Ed25519 public keys (PEM .pub files from rtc_keygen, or directories of "
                  "them): only chunks signed by one of them merge; empty: chunks are not authenticated"),
    ParameterSpec("allow_unsigned", False, "with trusted_keys: unsigned chunks merge too (WARN in /diagnostics "
                  "while on); without trusted_keys every chunk merges unverified"),
    ParameterSpec("require_trusted_keys", False, "refuse to start (exit 2) without trusted_keys unless "
                  "allow_unsigned is set: the real-arm bringup (sim:=false) sets it"),
    # The measured state the executor trusts: docs/safety.md.
    ParameterSpec("state_publisher", "so100_driver", "node whose /joint_states publisher the executor follows "
                  "(by publisher GID; /ns/name exactly, name in any namespace, empty: the first publisher heard); "
                  "every other publisher's joint states are ignored and counted"),
    ParameterSpec("hold_samples", 5, "consecutive complete joint states of the followed driver that must agree "
                  "(within hold_tolerance) before the first of them becomes the hold position", unit="messages",
                  minimum=1, maximum=1000),
    ParameterSpec("hold_tolerance", 0.01, "how far those samples may be from the first of them, per joint",
                  unit="rad", minimum=0.0),
    ParameterSpec("tracking_tolerance", [math.inf], "per joint (joint_names order) or one for all: largest "
                  "|measured - commanded| position error tolerated, like joint_trajectory_controller's path "
                  "tolerance; inf: not monitored", unit="rad"),
    ParameterSpec("tracking_violation_s", 0.5, "an error over tracking_tolerance lasting this long is a "
                  "tracking fault: the executor holds and reports ERROR until it restarts", unit="s",
                  minimum=0.0),
    ParameterSpec("missed_tick_rows", MissedRows.DISCARD.value, "what happens to the rows of ticks the loop "
                  "missed: dropped, or played late", choices=tuple(m.value for m in MissedRows)),
    ParameterSpec("stall_hold_s", 0.25, "a stall this long or longer empties the queue: hold, wait for a "
                  "fresh chunk", unit="s", minimum=0.0, above_minimum=True),
    ParameterSpec("profiling", True, "record executor.tick, executor.tick.lateness, "
                  "get_actions.action_queue_merge and chunk.transport (docs/profiling.md); print their table at "
                  "shutdown"),
    *threshold_parameters(THRESHOLDS),
)


class ExecutorNode(Node):
    def __init__(self) -> None:
        super().__init__(EXECUTOR_NODE)
        p = declare(self, PARAMETERS)
        joints = p["joint_names"]
        rate, mode, command_type = p["control_rate_hz"], p["mode"], p["command_type"]
        self._realtime, self._priority = bool(p["realtime"]), int(p["realtime_priority"])
        window_s = float(p["lateness_window_s"])
        self._profiling = p["profiling"]
        if self._profiling:
            enable_profiling()
        self._thresholds = configure_thresholds(THRESHOLDS, p)
        self.fatal_error = ""

        self._joints = tuple(joints)
        self._rate = float(rate)
        interpolator = Interpolator(p["interpolation"], p["interpolation_mode"])
        self._tick_rate = self._rate * interpolator.factor  # commands per second
        try:
            self._speed_scale = float(check_speed_scale(p["speed_scale"]))
        except ValueError as err:
            raise ParameterError(f"parameter speed_scale: {err}") from None
        self._row_rate = self._rate * self._speed_scale  # rows per second: the policy tick the status reports
        try:
            limits = GuardLimits.from_parameters(
                len(joints), self._tick_rate, p["position_lower_limits"], p["position_upper_limits"],
                p["max_velocity"], p["max_acceleration"], p["guard_tolerance"], p["guard_max_seam"],
                interpolator.factor, self._speed_scale)
        except ValueError as err:
            raise ParameterError(f"command guard: {err}") from None
        self._queue = ActionQueue(len(joints), mode, missed_rows=p["missed_tick_rows"],
                                  stall_ticks=max(1, math.ceil(p["stall_hold_s"] * self._row_rate)))
        self._verifier = self._chunk_verifier(p["trusted_keys"], p["allow_unsigned"], p["require_trusted_keys"])
        self.session = secrets.randbits(64) or 1  # this run; 0 means none
        try:
            self._agreement = HoldAgreement(p["hold_samples"], p["hold_tolerance"])
            tracking = TrackingMonitor(joints, p["tracking_tolerance"], p["tracking_violation_s"])
        except ValueError as err:
            raise ParameterError(str(err)) from None
        self._core = ExecutorCore(joints, self._queue, CommandGuard(limits),
                                  ChunkAdmission(p["max_chunk_length"], p["follow_one_source"],
                                                 p["source_timeout_s"], self._verifier, self.session), interpolator,
                                  self._speed_scale, tracking)
        if not (np.isfinite(limits.lower).all() and np.isfinite(limits.upper).all()):
            self.get_logger().warning("no position limits for some joints (position_lower_limits / "
                                      "position_upper_limits): the guard bounds only their speed")
        self._ticker = Ticker(self._tick_rate, window_ticks=max(1, round(window_s * self._tick_rate)),
                              name="executor.tick")
        self._last_reject_reason = ""
        self._rejection_log: dict[str, tuple[float, int]] = {}  # code: (last logged, skipped since)
        self._last_d = (-1, -1, -1)  # (d_real, d_assumed, rows skipped) of the last merged chunk
        # Receive time minus the chunk's inference_end (set by the sender just before publishing), ms.
        self._transport_ms: deque[float] = deque(maxlen=TRANSPORT_WINDOW_CHUNKS)
        self._scheduling: Scheduling | None = None  # of the control thread
        self._process_scheduling = normal_scheduling()  # of every other thread
        self._reported = (0, 0, 0, 0, 0)  # (missed, underruns, rejected, clamped, ticks) at the last report
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._control_loop, name="rtc_executor_control")
        self._last_tick_at = time.monotonic()  # the control loop's heartbeat
        self._loop_failure = ""  # why the control thread ended on an exception (then fatal_error)
        self._last_report_at = 0.0  # of the control loop's /diagnostics status (0: none yet)

        self._status = ExecutorStatus(control_rate_hz=self._row_rate, mode=self._queue.mode.value,
                                      session=self.session)
        if command_type == "joint_state":
            self._command = JointState(name=list(joints))
            self._command_pub = self.create_publisher(JointState, COMMAND_TOPICS[command_type], COMMAND_QOS)
        elif command_type == "trajectory":
            period = Duration(nanoseconds=round(1e9 / self._tick_rate)).to_msg()
            self._command = JointTrajectory(joint_names=list(joints),
                                            points=[JointTrajectoryPoint(time_from_start=period)])
            self._command_pub = self.create_publisher(JointTrajectory, COMMAND_TOPICS[command_type], COMMAND_QOS)
        else:
            layout_dim = MultiArrayDimension(label="joint", size=len(joints), stride=len(joints))
            self._command = Float64MultiArray()
            self._command.layout.dim = [layout_dim]
            self._command_pub = self.create_publisher(Float64MultiArray, COMMAND_TOPICS[command_type],
                                                      COMMAND_QOS)
        self._status_pub = self.create_publisher(ExecutorStatus, EXECUTOR_STATUS_TOPIC, STATUS_QOS)
        self.create_subscription(ActionChunk, ACTION_CHUNK_TOPIC, self._on_chunk, CHUNK_QOS)
        self._state_follow = FollowedPublisher(p["state_publisher"])
        self._state_counts = {"ignored": 0, "unusable": 0}  # joint states of other publishers; incomplete ones
        # without the process's arguments (a __node remap would give it this node's name); the topic
        # resolved by this node, remaps included
        self._state_reader = Node(f"{self.get_name()}_joint_states", namespace=self.get_namespace(),
                                  context=self.context, use_global_arguments=False,
                                  start_parameter_services=False, enable_rosout=False)
        self._joint_state_sub = self._state_reader.create_subscription(
            JointState, self.resolve_topic_name(JOINT_STATES_TOPIC), lambda _msg: None, JOINT_STATES_QOS)
        self.create_timer(1.0 / JOINT_STATES_POLL_HZ, self._take_joint_states)
        for name, callback in zip(EXECUTOR_SERVICES, (self._on_hold, self._on_resume, self._on_reset), strict=True):
            self.create_service(Trigger, name, callback)
        self._diagnostics = Diagnostics(self, hardware_id=f"{self._command_pub.topic_name} ({len(joints)} joints)")
        self._diagnostics.add(CONTROL_LOOP_COMPONENT, self._control_loop_report)
        self._diagnostics.add(MEASURED_STATE_COMPONENT, self._state_report)
        self._tracer = tracer(self.get_name())  # live with RTC_TRACE=1: a sink of every record_span

    def _chunk_verifier(self, trusted_keys: list[str], allow_unsigned: bool, required: bool) -> ChunkVerifier:
        if required and not trusted_keys and not allow_unsigned:
            raise ParameterError("no trusted_keys on a real arm: chunks from any process on the domain would drive "
                                 "it; set trusted_keys (docs/authentication.md) or allow_unsigned:=true explicitly")
        try:
            verifier = ChunkVerifier([load_public_key(f) for f in public_key_files(trusted_keys)], allow_unsigned)
        except KeyFileError as err:
            raise ParameterError(f"parameter trusted_keys: {err}") from None
        log = self.get_logger()
        if not verifier.enabled:
            log.warning("no trusted_keys: chunks are not authenticated, any publisher can drive the arm")
        else:
            log.info(f"chunks must be signed by one of the keys {sorted(verifier.keys)}"
                     + (" (unsigned chunks allowed)" if verifier.allow_unsigned else ""))
        return verifier

    def _authentication(self) -> str:
        """What /diagnostics says about chunk authentication."""
        if not self._verifier.enabled:
            return "off (no trusted_keys)" + (", allowed explicitly" if self._verifier.allow_unsigned else "")
        keys = ", ".join(sorted(self._verifier.keys))
        return f"keys {keys}" + (", unsigned allowed" if self._verifier.allow_unsigned else "")

    # --- control thread -------------------------------------------------------------------------
    def start(self) -> None:
        """Start the control thread; with `realtime`, first move the process's threads to SCHED_FIFO
        below it (the control thread, created from this one, then raises itself)."""
        if self._realtime:
            self._process_scheduling = request_realtime_process(
                self._priority - OTHER_THREADS_PRIORITY_BELOW)
        self._last_tick_at = time.monotonic()
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking after the current tick; the last command stays with the driver."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self._profiling:
            print_profiling_summary(sort_by="mean", whole="executor.tick",
                                    title=f"{self.get_name()}: profiling summary")

    def _control_loop(self) -> None:
        self._scheduling = request_realtime(self._priority) if self._realtime else normal_scheduling()
        log = self.get_logger()
        fell_back = self._realtime and "SCHED_OTHER" in (self._scheduling.policy,
                                                         self._process_scheduling.policy)
        (log.warning if fell_back else log.info)(
            f"control loop at {self._tick_rate} Hz ({self._interpolation_text()}), mode "
            f"{self._queue.mode.value}, control thread "
            f"{self._scheduling}, other threads {self._process_scheduling}")
        try:
            self._ticker.run(self._tick, self._stop)
        except Exception as exc:  # a bug: no more commands (the driver's watchdog parks the arm); ERROR, exit 1
            log.error("control loop failed:\n" + traceback.format_exc())
            self._loop_failure = f"control loop failed: {type(exc).__name__}: {exc}"
            self._diagnostics.publish()
            self.fatal_error = self._loop_failure

    def _tick(self, wall_tick: int, missed: int) -> None:
        started_ns = time.monotonic_ns()
        self._last_tick_at = time.monotonic()
        tick = self._core.tick(missed)
        stamp = self.get_clock().now().to_msg()  # shared by this tick's command and status
        if tick.command is not None:
            self._publish_command(tick.command, stamp)
        # once per row, and with speed_scale < 1 at least at control_rate_hz (a fresh status for the policy)
        base_tick = self._speed_scale < 1.0 and wall_tick % self._core.interpolator.factor == 0
        if tick.popped or base_tick:
            self._publish_status(stamp, tick.served,
                                 holding=tick.served.action is None and tick.command is not None)
        record_span("executor.tick", started_ns, time.monotonic_ns(), tick.served.chunk_id or 0, self._status.step)
        if tick.clamped_by:
            where = f"at the seam of chunk {tick.served.chunk_id}" if tick.seam else "while playing"
            self.get_logger().warning(f"command guard clamped the command {where} ({', '.join(tick.clamped_by)})",
                                      throttle_duration_sec=1.0)

    def _interpolation_text(self) -> str:
        interpolator = self._core.interpolator
        slowed = f", rows at speed_scale {self._speed_scale:g} ({self._row_rate:g} Hz)" if self._speed_scale < 1 else ""
        if interpolator.factor == 1 and not slowed:
            return "one command per policy row"
        return f"{interpolator.mode.value} interpolation x{interpolator.factor} of {self._rate} Hz rows{slowed}"

    def _publish_command(self, command: np.ndarray, stamp: Time) -> None:
        values = command.tolist()
        if isinstance(self._command, JointState):
            self._command.header.stamp = stamp
            self._command.position = values
        elif isinstance(self._command, JointTrajectory):
            self._command.points[0].positions = values
        else:
            self._command.data = values
        self._command_pub.publish(self._command)

    def _publish_status(self, stamp: Time, served: PopResult, holding: bool) -> None:
        left = self._queue.leftover()
        counters = self._queue.counters()
        status = self._status
        status.header.stamp = stamp
        status.step = left.step
        status.active_chunk_id = left.chunk_id or 0
        status.index_in_chunk = left.index
        status.remaining = left.remaining
        status.served_chunk_id = served.chunk_id or 0
        status.served_index = served.index or 0
        status.last_d_real, status.last_d_assumed, status.last_skipped = self._last_d
        status.merged_count = counters.merged
        status.underrun_count = counters.underruns
        status.rejected_count = sum(self._core.rejected_by_reason().values())
        status.clamped_count = self._core.guard.counters()[0]
        status.missed_tick_count = counters.missed
        status.last_reject_reason = self._last_reject_reason
        status.holding = holding
        status.on_hold = self._queue.on_hold
        status.epoch = self._core.epoch
        status.tracking_fault = self._core.tracking.fault is not None
        self._status_pub.publish(status)

    # --- services (executor thread) -------------------------------------------------------------
    def _on_hold(self, _request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        left = self._queue.leftover()
        changed = self._core.hold()
        where = f"at row {left.index} of chunk {left.chunk_id}" if left.chunk_id else "with nothing queued"
        response.success = True
        response.message = (f"holding {where}; ~/resume goes on from there" if changed
                            else "already on hold")
        self.get_logger().info(f"~/hold: {response.message}")
        return response

    def _on_resume(self, _request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        changed = self._core.resume()
        response.success = True
        fault = self._core.tracking.fault
        response.success = fault is None
        response.message = ("resumed" if changed else "was not on hold") if fault is None else \
            f"holding for a tracking fault on {fault.joint}: restart the executor once the arm is checked"
        self.get_logger().info(f"~/resume: {response.message}")
        return response

    def _on_reset(self, _request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        epoch = self._core.reset()
        response.success = True
        response.message = (f"queue emptied, epoch {epoch}: chunks built before now are refused (pre_reset)"
                            + ("; still on hold" if self._queue.on_hold else ""))
        self.get_logger().info(f"~/reset: {response.message}")
        return response

    # --- callbacks (executor thread) ------------------------------------------------------------
    def _take_joint_states(self) -> None:
        """Drain the reader's queue: the followed driver's joint states set the hold position, then
        feed the tracking monitor; every other publisher's are ignored (counted)."""
        topic = self._joint_state_sub.topic_name
        while True:
            with self._joint_state_sub.handle:
                taken = self._joint_state_sub.handle.take_message(JointState, False)
            if taken is None:
                return
            msg, info = taken
            gid = bytes(info["publisher_gid"]["data"])
            if not self._state_follow.admit(gid, lambda: self._state_publishers(topic)):
                self._state_counts["ignored"] += 1
                continue
            self._on_joint_state(msg)

    def _state_publishers(self, topic: str) -> dict[bytes, Publisher]:
        return {bytes(i.endpoint_gid): Publisher(bytes(i.endpoint_gid), qualified(i.node_name, i.node_namespace), topic)
                for i in self.get_publishers_info_by_topic(topic)}

    def _on_joint_state(self, msg: JointState) -> None:
        try:
            measured = joint_vector(msg.name, msg.position, self._joints)
        except ValueError as err:
            measured = None
            self.get_logger().warning(f"/joint_states not usable: {err}", throttle_duration_sec=5.0)
        if measured is None:
            self._state_counts["unusable"] += 1
        if not self._core.ready:
            self._start_from(measured)
        elif measured is not None:
            had = self._core.tracking.fault
            fault = self._core.measured(measured, time.monotonic())
            if fault is not None and had is None:
                self.get_logger().error(
                    f"tracking fault: {fault.joint} is {fault.error:+.3f} rad from its command (tolerance "
                    f"{fault.tolerance:g}) for {fault.duration_s:.2f} s: holding; restart the executor to go on")

    def _start_from(self, measured: np.ndarray | None) -> None:
        agreed = self._agreement.offer(measured)
        if agreed is None:
            return
        hold = self._core.start_from(agreed)
        self.get_logger().info(f"hold position from {self._agreement.samples} agreeing /joint_states of "
                               f"{self._state_follow.followed_node}: {np.round(hold, 4).tolist()}")
        if not np.array_equal(hold, agreed):
            self.get_logger().warning(f"measured position {np.round(agreed, 4).tolist()} is outside the "
                                      "position limits: holding the nearest position inside them")

    def _state_report(self) -> Report:
        """The measured state: whose, agreed or not, ignored publishers, tracking."""
        self._state_follow.observe(self._state_publishers(self._joint_state_sub.topic_name))
        tracking = self._core.tracking
        report = Report()
        intruders = sorted({p.node for p in self._state_follow.stats.intruders.values()})
        if not self._core.ready:
            report.raise_to(Level.WARN, f"waiting for {self._agreement.samples} agreeing /joint_states of "
                                        f"{self._state_follow.writer or 'a publisher'}")
        if intruders:
            report.raise_to(Level.WARN, f"another publisher on /joint_states, ignored: {', '.join(intruders)}")
        if tracking.fault is not None:
            f = tracking.fault
            report.raise_to(Level.ERROR, f"tracking fault: {f.joint} {f.error:+.3f} rad from its command "
                                         f"(tolerance {f.tolerance:g}) for {f.duration_s:.2f} s: holding")
        report.values = {
            "state_publisher": self._state_follow.writer, "followed": self._state_follow.followed_node,
            "ignored_publishers": ", ".join(intruders), "joint_states_ignored": self._state_counts["ignored"],
            "joint_states_unusable": self._state_counts["unusable"], "hold_agreement_restarts": self._agreement.restarts,
            "tracking_tolerance": ", ".join(f"{j}={t:g}" for j, t in zip(self._joints, tracking.tolerance, strict=True)),
            "tracking_max_error": ", ".join(f"{j}={e:.3f}" for j, e in zip(self._joints, tracking.max_error, strict=True)),
            "tracking_violations": tracking.violations,
            "tracking_fault": "" if tracking.fault is None else tracking.fault.joint,
            "session": f"{self.session:016x}",
        }
        return report

    def _on_chunk(self, msg: ActionChunk) -> None:
        received_ns = self.get_clock().now().nanoseconds
        received_mono_ns = time.monotonic_ns()
        sent_ns = msg.inference_end.sec * 1_000_000_000 + msg.inference_end.nanosec
        if sent_ns:
            self._transport_ms.append((received_ns - sent_ns) * 1e-6)
            record_span("chunk.transport", received_mono_ns - (received_ns - sent_ns), received_mono_ns,
                        msg.chunk_id, msg.source_step)
        now = time.monotonic()
        merge_ns = time.monotonic_ns()
        decision = self._core.receive(msg, now)
        record_span("get_actions.action_queue_merge", merge_ns, time.monotonic_ns(), msg.chunk_id,
                    msg.source_step + decision.d_real if decision.merged else msg.source_step)
        if not decision.merged:
            self._last_reject_reason = decision.reason
            self._log_rejection(msg.chunk_id, decision.code, decision.reason, now)
            return
        self._last_d = (decision.d_real, int(msg.inference_delay), decision.skipped)
        self.get_logger().debug(f"merged chunk {msg.chunk_id}: d_real {decision.d_real}, skipped "
                                f"{decision.skipped}, assumed {msg.inference_delay}, length {msg.length}")

    def _log_rejection(self, chunk_id: int, code: str, reason: str, now: float) -> None:
        """One line per reason code and second: a flood must not flood the log (counters have it all)."""
        last, skipped = self._rejection_log.get(code, (-math.inf, 0))
        if now - last < 1.0:
            self._rejection_log[code] = (last, skipped + 1)
            return
        more = f" (and {skipped} more since the last line)" if skipped else ""
        self.get_logger().warning(f"rejected chunk {chunk_id}: {reason}{more}")
        self._rejection_log[code] = (now, 0)

    def _control_loop_report(self) -> Report:
        stats = self._ticker.stats()
        counters = self._queue.counters()
        rejects = self._core.rejected_by_reason()
        rejected = sum(rejects.values())
        clamped, clamped_by = self._core.guard.counters()
        missed_before, underruns_before, rejected_before, clamped_before, ticks_before = self._reported
        self._reported = (stats.missed, counters.underruns, rejected, clamped, counters.pops)
        report = Report()
        self._judge_heartbeat(report)
        if not self._core.ready:
            report.raise_to(Level.WARN, "waiting for /joint_states")
        if self._core.tracking.fault is not None:
            report.raise_to(Level.ERROR, "holding for a tracking fault (measured state)")
        d_real, d_assumed, skipped = self._last_d
        if self._queue.on_hold:
            report.raise_to(Level.WARN, "on hold (~/resume goes on)")
        judged = {
            "lateness_p99_ms": stats.p99_ms,
            "missed_ticks_in_period": stats.missed - missed_before,
            "underruns_in_period": counters.underruns - underruns_before,
            "d_real_over_d_ticks": skipped - d_assumed if d_real >= 0 else float("nan"),
            "rejected_in_period": rejected - rejected_before,
        }
        for key, value in judged.items():
            if self._thresholds[key].judge(report, value) and key == "rejected_in_period":
                report.message += f" (last: {self._last_reject_reason})"
        if rejected - rejected_before > counters.pops - ticks_before:
            report.raise_to(Level.ERROR, "more rejected chunks than ticks: a flood (a second publisher, or a broken one)")
        if clamped > clamped_before:
            report.raise_to(Level.WARN, f"command guard clamped {clamped - clamped_before} commands")
        if self._verifier.allow_unsigned:
            report.raise_to(Level.WARN, "allow_unsigned: chunks are not authenticated")
        lockout = self._core.admission.lockout()
        if lockout:
            report.raise_to(Level.ERROR, lockout)
        report.values = {
            **judged,
            "seconds_since_tick": f"{time.monotonic() - self._last_tick_at:.3f}",
            "cadence": cadence_line(stats, self._tick_rate),
            "scheduling": str(self._scheduling or "starting"),
            "other_threads_scheduling": str(self._process_scheduling),
            "control_rate_hz": self._rate,
            "tick_rate_hz": self._tick_rate,
            "speed_scale": self._speed_scale,
            "interpolation": self._interpolation_text(),
            "mode": self._queue.mode.value,
            "ticks": stats.ticks,
            "lateness_window_ticks": stats.window_ticks,
            "lateness_p50_ms": stats.p50_ms,
            "lateness_max_ms": stats.window_max_ms,
            "lateness_max_since_start_ms": stats.max_ms,
            "missed_ticks": stats.missed,
            **GC_PAUSES.stats().diagnostic_values(),
            "underruns": counters.underruns,
            "merged": counters.merged,
            "rejected": rejected,
            "rejected_by_reason": ", ".join(f"{k}={v}" for k, v in sorted(rejects.items())),
            "last_reject_reason": self._last_reject_reason,
            "last_d_assumed": d_assumed,
            "last_d_real": d_real,
            "last_skipped": skipped,
            "on_hold": self._queue.on_hold,
            "held_ticks": counters.held,
            "resets": counters.resets,
            "epoch": self._core.epoch,
            "guard_clamped_ticks": clamped,
            "guard_clamped_by_bound": ", ".join(f"{k}={v}" for k, v in sorted(clamped_by.items())),
            "guard_seam_clamps": self._core.seam_clamps,
            "chunk_authentication": self._authentication(),
            "followed_source": self._core.admission.followed or "",
            "source_changes": self._core.admission.source_changes,
            "lockout": lockout,
            "stalls": counters.stalls,
            "rows_dropped_for_missed_ticks": counters.dropped,
        }
        if self._transport_ms:
            transport = np.fromiter(self._transport_ms, float)
            p50, p99 = np.percentile(transport, [50.0, 99.0])
            report.values.update(chunk_transport_count=transport.size, chunk_transport_p50_ms=float(p50),
                                 chunk_transport_p99_ms=float(p99), chunk_transport_max_ms=float(transport.max()))
        return report

    def _judge_heartbeat(self, report: Report) -> None:
        now = time.monotonic()
        judge_heartbeat(report, now=now, last_tick_at=self._last_tick_at, last_report_at=self._last_report_at,
                        rate_hz=self._tick_rate, failure=self._loop_failure, started=self._thread.ident is not None,
                        alive=self._thread.is_alive(), stopping=self._stop.is_set())
        self._last_report_at = now


def main(args: list[str] | None = None) -> None:
    # rclpy's EventsExecutor dispatches from C++ queues instead of rebuilding a wait set in Python
    # on every wake (chunk transport figures: docs/benchmarks.md).
    run_node("executor_node", ExecutorNode, args=args, executor=EventsExecutor,
             switch_interval_s=GIL_SWITCH_INTERVAL_S)


if __name__ == "__main__":
    main()
