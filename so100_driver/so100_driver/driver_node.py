"""ROS 2 node for the SO-100 arm: /joint_states out, joint commands in, /diagnostics at 1 Hz.

The control loop runs on its own thread sleeping to absolute deadlines (an rclpy timer is far
too jittery at 100 Hz); the ROS executor on the main thread only receives commands and
publishes diagnostics. The driver is the arm's last line of defence (docs/safety.md):

- its command gate bounds every goal (calibrated limits, its own velocity and acceleration against
  the previous goal, `max_relative_target` from the present position) and rejects a stream's first
  command far from the present position;
- it follows one command writer (`command_writer`, by publisher GID; rtc_contract.followed_publisher): another
  publisher on a command topic is ERROR on /diagnostics and its messages are ignored;
- every end is a controlled stop run by the control thread (hold, ramp to `rest_pose` through the
  gate, torque off per `shutdown_torque_off`): SIGINT/SIGTERM (a second signal: torque off now),
  commands silent for `command_silence_rest_s` (the writer died: the driver stays up, parked), a
  servo's overload or overheat bit, a bus that failed but still answers, any exception in the
  control loop. The last three are fatal (ERROR, exit code 1); a bus that no longer answers gets
  torque off at once.

Parameters: `PARAMETERS` below (names, defaults, units, limits); docs/driver.md shows the same
table, and a test keeps the two equal.

Topics (relative: they follow the node's namespace; /diagnostics is global):
  publishes  joint_states (sensor_msgs/JointState, reliable, depth 10): names JOINT_NAMES, position
             [rad, zero at the calibrated range midpoint], velocity [rad/s]; one per successful cycle
  publishes  /diagnostics (diagnostic_msgs/DiagnosticArray, reliable, depth 10) at 1 Hz: statuses
             "so100_driver: bus" (loop rate, lateness, bus errors and retries, voltages, temperatures,
             the gate's counters), "so100_driver: control loop" (the heartbeat: the control thread's
             last cycle, its stop) and "so100_driver: command writer" (who is followed, intruders)
  subscribes so100/command (sensor_msgs/JointState, best effort, depth 1): targets [rad] matched by
             name; any subset of the joints; a message with unknown/duplicate names, NaN or
             mismatched sizes is rejected whole
  subscribes so100/command_array (std_msgs/Float64MultiArray, best effort, depth 1): six targets [rad]
             in the order shoulder_pan, shoulder_lift, elbow_flex, wrist_flex, wrist_roll, gripper
"""

from __future__ import annotations

import dataclasses
import signal
import threading
import time
import traceback

from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rtc_contract.followed_publisher import FollowedPublisher, Publisher, qualified
from rtc_runtime.deadline_loop import Ticker, cadence_line
from rtc_runtime.diagnostics import (Diagnostics, Level, Report, Threshold, configure_thresholds,
                                     judge_heartbeat, threshold_parameters)
from rtc_runtime.gc_pauses import GC_PAUSES
from rtc_runtime.node_main import StartupError, run_node
from rtc_runtime.parameters import ParameterError, ParameterSpec, declare
from rtc_runtime.profiling import enable_profiling, print_profiling_summary, record_span
from rtc_runtime.scheduling import (GIL_SWITCH_INTERVAL_S, OTHER_THREADS_PRIORITY_BELOW, request_realtime,
                                    request_realtime_process)
from rtc_runtime.tracing import tracer
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from .arm import JOINT_NAMES, CalibrationError, default_calibration_path, load_calibration
from .arm_driver import ArmDriver, FatalBusError
from .bus import FeetechBus
from .emulator import BUS_PRIORITY, TRANSPORTS, ServoBusEmulator
from .protocol import describe_error_bits
from .safety import (HOLD, SERVO_MAX_ACCELERATION, SERVO_MAX_VELOCITY, CommandError, CommandGate, MotionLimits,
                     ShutdownPolicy, rest_pose_notes)
from .sim import scene_for_seed, start_position_ticks
from .topics import (BUS_COMPONENT, COMMAND_ARRAY_TOPIC, COMMAND_TOPIC, COMMAND_WRITER_COMPONENT,
                     CONTROL_LOOP_COMPONENT, DRIVER_NODE, JOINT_STATES_TOPIC)

LATENESS_WINDOW_S = 10.0  # cycles kept for the lateness percentiles in /diagnostics

# What raises the "bus" status above OK, besides a fatal bus error (ERROR) and failing cycles (WARN);
# the bounds are parameters (docs/diagnostics.md).
THRESHOLDS = (
    Threshold("bus_errors_in_period", "failed transactions, checksum errors, malformed and unexpected replies "
              "since the last report", 1, 20),
    Threshold("bus_retries_in_period", "transaction retries since the last report", 10, 100),
    Threshold("bus_timeouts_in_period", "transactions without a reply in time since the last report", 1, 20),
    Threshold("servos_with_error_bits", "servos whose status packets carry error bits (overload, overheat, "
              "voltage, angle, ...)", 1, -1),
    Threshold("max_temperature_c", "the hottest servo (STS3215 shuts down at its 70 C limit)", 55.0, 65.0),
    Threshold("min_voltage_v", "the lowest servo supply voltage", 4.5, 4.0, below=True),
)

PARAMETERS = (
    ParameterSpec("port", "/dev/ttyACM0", "serial port of the arm's bus adapter; ignored with sim"),
    ParameterSpec("baudrate", 1_000_000, "bus speed; in sim the emulator delays replies by their transmission "
                  "time", unit="baud", minimum=9600),
    ParameterSpec("calibration_file", "", "lerobot-calibrate JSON; required on a real arm, sim defaults to the "
                  "shipped one"),
    ParameterSpec("rate_hz", 100.0, "control cycles per second: one sync read + one sync write each", unit="Hz",
                  minimum=0.0, above_minimum=True, maximum=1000.0),
    ParameterSpec("max_relative_target", 0.25, "largest step of a goal from the present position per cycle, "
                  "and farthest a stream's first command may be from it (farther: rejected); <= 0 disables "
                  "both, refused on a real arm", unit="rad"),
    ParameterSpec("max_velocity", SERVO_MAX_VELOCITY, "the driver's own bound on a goal's speed against the "
                  "previous goal (default: the STS3215's no-load speed)", unit="rad/s", minimum=0.0,
                  above_minimum=True),
    ParameterSpec("max_acceleration", SERVO_MAX_ACCELERATION, "the driver's own bound on a goal's acceleration "
                  "(slowing down is not bounded; default: the acceleration the servos are configured with)",
                  unit="rad/s^2", minimum=0.0, above_minimum=True),
    ParameterSpec("command_writer", "rtc_executor", "node whose publisher the driver follows on its command "
                  "topics ('/ns/name' exactly, 'name' in any namespace, '' the first publisher heard); other "
                  "publishers are ERROR and ignored"),
    ParameterSpec("command_timeout_s", 0.5, "a joint's command older than this is dropped and the joint holds",
                  unit="s", minimum=0.0, above_minimum=True),
    ParameterSpec("command_silence_rest_s", 5.0, "no command for this long (the writer died): controlled stop "
                  "to rest_pose and torque off; the driver stays up, parked, until restarted", unit="s",
                  minimum=0.0, above_minimum=True),
    ParameterSpec("sim", False, "run against a servo-bus emulator on a pty inside this process"),
    ParameterSpec("sim_bus", "pty", "sim only: how the driver reaches its emulator: pty (a tty, as a USB serial "
                  "adapter) or socket (socket://127.0.0.1:PORT, the same protocol without the pty's kernel "
                  "worker thread, which a loaded machine delays)", choices=TRANSPORTS),
    ParameterSpec("dry_run", False, "read only: torque stays off, no goal is ever written; commands are received "
                  "and counted (docs/real_arm.md, \"Dry run\")"),
    ParameterSpec("sim_task_seed", -1, "sim only: >= 0 starts the emulated servos at the start pose of the "
                  "simulated task with this seed (the scene sim_camera renders for its seed); < 0 starts at "
                  "range midpoints"),
    ParameterSpec("bus_timeout_s", 0.01, "wait for a transaction's status packets before a retry", unit="s",
                  minimum=0.0, above_minimum=True),
    ParameterSpec("bus_retries", 2, "retries per transaction before it fails", minimum=0),
    ParameterSpec("bringup_timeout_s", 10.0, "bring-up retries a transaction that fails (servos still powering "
                  "up, a loaded machine) until this long after it began", unit="s", minimum=0.0, above_minimum=True),
    ParameterSpec("max_failed_cycles", 20, "failed cycles in a row that are fatal (torque off, exit code 1)",
                  minimum=1),
    ParameterSpec("write_calibration", True, "write homing offset and limits from the file when the servos "
                  "differ; false refuses to start instead"),
    ParameterSpec("realtime", True, "ask for SCHED_FIFO: the control loop at realtime_priority, every other "
                  "thread of the process (ROS callbacks) at realtime_priority - 10, at least 1, the sim's bus "
                  "emulator between them (at most 45) (normal scheduling if refused)"),
    ParameterSpec("realtime_priority", 50, "SCHED_FIFO priority", minimum=1, maximum=99),
    # The controlled stop (docs/safety.md).
    ParameterSpec("shutdown_hold_s", 1.0, "on exit: hold with torque on this long before the ramp", unit="s",
                  minimum=0.0),
    ParameterSpec("rest_pose", HOLD, "controlled stop: ramp to this pose, 'joint=radians, ...' (other joints "
                  "stay), or 'hold' to stay; the shipped configs give the SO-100's folded pose"),
    ParameterSpec("rest_velocity", 0.5, "controlled stop: speed of the ramp to rest_pose", unit="rad/s",
                  minimum=0.0, above_minimum=True),
    ParameterSpec("shutdown_torque_off", True, "controlled stop: switch torque off at its end (false: the "
                  "servos keep holding while powered)"),
    ParameterSpec("profiling", True, "record robot.get_observation, robot.send_action, robot.cycle and "
                  "robot.cycle.lateness (docs/profiling.md); print their table at shutdown"),
    *threshold_parameters(THRESHOLDS),
)


class DriverNode(Node):
    def __init__(self) -> None:
        super().__init__(DRIVER_NODE)
        p = declare(self, PARAMETERS)
        self.sim = p["sim"]
        self.realtime_priority = p["realtime_priority"] if p["realtime"] else 0
        self.rate_hz = p["rate_hz"]
        self.profiling = p["profiling"]
        if self.profiling:
            enable_profiling()
        self.thresholds = configure_thresholds(THRESHOLDS, p)
        self._bus_before = (0, 0, 0)  # (errors, retries, timeouts) at the last diagnostics report
        calibration_file = p["calibration_file"] or (str(default_calibration_path()) if self.sim else "")
        if not calibration_file:
            raise ParameterError("parameter calibration_file is required on a real arm (the JSON "
                                 "lerobot-calibrate wrote)")
        if not self.sim and not p["max_relative_target"] > 0:
            raise ParameterError(f"parameter max_relative_target must be positive on a real arm, got "
                                 f"{p['max_relative_target']}")
        try:
            self.calibration = load_calibration(calibration_file)
        except CalibrationError as err:
            raise ParameterError(f"parameter calibration_file: {err}") from None
        self.fatal_error = ""  # set once the control thread has stopped the arm for good: the process exits 1
        self.stopping = ""  # why the control thread stopped the arm (or is stopping it)
        self.parked = False  # stopped for a command silence: reading on, torque off, commands ignored
        self.torque_off_now = threading.Event()  # a second signal during a controlled stop
        self.emulator: ServoBusEmulator | None = None
        port = p["port"]
        if self.sim:
            start = None
            if p["sim_task_seed"] >= 0:
                start = start_position_ticks(scene_for_seed(p["sim_task_seed"]), self.calibration)
            self.emulator = ServoBusEmulator.for_arm(self.calibration, positions=start, baudrate=p["baudrate"],
                                                     transport=p["sim_bus"]).start()
            port = self.emulator.port
            pose = f"start pose of sim task seed {p['sim_task_seed']}" if start else "range midpoints"
            self.get_logger().info(f"sim: emulated STS3215 bus on {port}, servos at {pose}")
        elif p["sim_task_seed"] >= 0:
            self.get_logger().warning("parameter sim_task_seed is ignored without sim")
        try:
            self.shutdown_policy = ShutdownPolicy.from_parameters(
                p["shutdown_hold_s"], p["rest_pose"], p["rest_velocity"], p["shutdown_torque_off"],
                self.calibration)
        except ValueError as err:
            raise ParameterError(str(err)) from None
        for note in rest_pose_notes(p["rest_pose"], self.calibration):
            self.get_logger().warning(note)
        self.silence_rest_s = p["command_silence_rest_s"]
        motion = MotionLimits(1.0 / self.rate_hz, p["max_velocity"], p["max_acceleration"])
        self.gate = CommandGate(self.calibration, p["max_relative_target"], p["command_timeout_s"], motion)
        self.writer = FollowedPublisher(p["command_writer"])
        bus = FeetechBus(port, p["baudrate"], timeout_s=p["bus_timeout_s"], retries=p["bus_retries"])
        self.driver = ArmDriver(bus, self.calibration, self.gate, max_failed_cycles=p["max_failed_cycles"])
        try:
            self.driver.connect(write_calibration=p["write_calibration"], torque=not p["dry_run"],
                                timeout_s=p["bringup_timeout_s"])
        except Exception as err:
            bus.close()
            if self.emulator is not None:
                self.emulator.stop()
            raise StartupError(f"cannot bring up the arm on {port}: {type(err).__name__}: {err}") from None
        self.get_logger().info(f"connected to {port}; calibration {calibration_file}; " +
                               ("dry run: torque off, reading only" if p["dry_run"] else "torque on"))

        self.joint_pub = self.create_publisher(JointState, JOINT_STATES_TOPIC, 10)
        # Best effort matches reliable and best-effort publishers alike; only the latest command matters.
        command_qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
        self.create_subscription(JointState, COMMAND_TOPIC, self._on_command, command_qos)
        self.create_subscription(Float64MultiArray, COMMAND_ARRAY_TOPIC, self._on_command_array, command_qos)
        self._command_topics = [self.resolve_topic_name(t) for t in (COMMAND_TOPIC, COMMAND_ARRAY_TOPIC)]
        self.diagnostics = Diagnostics(self, hardware_id=port)
        self.diagnostics.add(BUS_COMPONENT, self._bus_report)
        self.diagnostics.add(CONTROL_LOOP_COMPONENT, self._heartbeat_report)
        self.diagnostics.add(COMMAND_WRITER_COMPONENT, self._writer_report)
        self.tracer = tracer(self.get_name())  # live with RTC_TRACE=1: a sink of every record_span

        self.stop_event = threading.Event()
        self.ticker = Ticker(self.rate_hz, window_ticks=max(1, round(LATENESS_WINDOW_S * self.rate_hz)),
                             name="robot.cycle")
        self._rate_window = (time.monotonic(), 0)  # (time, ticks) at the last diagnostics report
        self._loop_rate = 0.0
        self._last_cycle_at = time.monotonic()
        self._last_report_at = 0.0  # of the heartbeat's /diagnostics status (0: none yet)
        self.scheduling = "normal"
        self._thread = threading.Thread(target=self._control_loop, name="so100-control", daemon=True)

    def start(self) -> None:
        if self.realtime_priority:  # the spin thread and the sim's bus emulator too: a loaded machine's
            # normal tasks must not keep them (holding the GIL, or the servos' replies) from the control loop
            other = request_realtime_process(max(1, self.realtime_priority - OTHER_THREADS_PRIORITY_BELOW))
            if other.policy != "SCHED_FIFO":
                self.get_logger().warning(f"other threads stay under normal scheduling: {other.detail}")
            if self.emulator is not None:  # the stand-in for servo hardware: between the loop and the rest
                bus = self.emulator.serve_realtime(max(1, min(BUS_PRIORITY, self.realtime_priority - 1)))
                self.get_logger().info(f"sim: bus emulator threads {bus}")
        self._thread.start()

    # ----- commands (executor thread) -------------------------------------------------------
    def _on_command(self, msg: JointState, info) -> None:
        if not self._from_writer(info, COMMAND_TOPIC):
            return
        try:
            self.gate.set_targets(list(msg.name), list(msg.position), time.monotonic())
        except CommandError as exc:
            self.get_logger().warning(f"{COMMAND_TOPIC} rejected: {exc}", throttle_duration_sec=1.0)

    def _on_command_array(self, msg: Float64MultiArray, info) -> None:
        if not self._from_writer(info, COMMAND_ARRAY_TOPIC):
            return
        try:
            self.gate.set_array(list(msg.data), time.monotonic())
        except CommandError as exc:
            self.get_logger().warning(f"{COMMAND_ARRAY_TOPIC} rejected: {exc}", throttle_duration_sec=1.0)

    def _from_writer(self, info, topic: str) -> bool:
        gid = bytes(info["publisher_gid"]["data"])
        if self.writer.admit(gid, self._command_publishers):
            return True
        intruder = self.writer.stats.intruders.get(gid)
        who = intruder.node if intruder else "a publisher not (yet) in the graph"
        self.get_logger().error(f"{topic}: ignored a command from {who}: the driver follows "
                                f"{self._followed_name()}", throttle_duration_sec=1.0)
        return False

    def _command_publishers(self) -> dict[bytes, Publisher]:
        """The command topics' publishers by GID, from the ROS graph."""
        return {bytes(info.endpoint_gid): Publisher(bytes(info.endpoint_gid),
                                                    qualified(info.node_name, info.node_namespace), topic)
                for topic in self._command_topics for info in self.get_publishers_info_by_topic(topic)}

    def _followed_name(self) -> str:
        return self.writer.followed_node or f"the first publisher of node {self.writer.writer or '(any)'!r}"

    # ----- control loop (own thread) --------------------------------------------------------
    def _control_loop(self) -> None:
        """Cycles until asked to stop or until a fault; then the controlled stop, from this thread
        (the only one that talks to the bus); after a command silence, reading on while parked."""
        granted = True
        if self.realtime_priority:
            granted = request_realtime(self.realtime_priority).policy == "SCHED_FIFO"
            self.scheduling = f"SCHED_FIFO {self.realtime_priority}" if granted else "normal (SCHED_FIFO refused)"
        log = self.get_logger()
        (log.info if granted else log.warning)(f"control loop at {self.rate_hz} Hz, scheduling {self.scheduling}")
        fatal = True
        try:
            self.ticker.run(self._cycle, self.stop_event)
        except ControlledStop as stop:
            self.stopping, fatal = stop.reason, stop.fatal
        except FatalBusError as exc:
            self.stopping = f"fatal bus error: {exc}"
        except Exception as exc:  # a bug: the arm still ends in a controlled stop, and the node exits 1
            log.error("control loop failed:\n" + traceback.format_exc())
            self.stopping = f"control loop failed: {type(exc).__name__}: {exc}"
        if self.stopping:
            log.error(f"{self.stopping}: controlled stop")
        self._controlled_stop(hold=not self.stopping)
        if self.stopping and not fatal:
            self.parked = True
            self.ticker.run(self._cycle, self.stop_event)  # torque off: reads and publishes only
        elif self.stopping:
            self.diagnostics.publish()
            self.fatal_error = self.stopping
            self.stop_event.set()

    def _cycle(self, tick: int, _missed: int) -> None:
        started_ns = time.monotonic_ns()
        health_every = max(1, int(round(self.rate_hz)))
        reading = self.driver.cycle(read_health=tick % health_every == 1)
        if reading is not None:
            self._publish_joint_state(reading)
        self._last_cycle_at = time.monotonic()
        record_span("robot.cycle", started_ns, time.monotonic_ns())
        if self.parked:
            return
        if self.driver.servo_fault:
            raise ControlledStop(self.driver.servo_fault)
        silent = self.gate.seconds_since_command(self._last_cycle_at)
        if silent is not None and silent > self.silence_rest_s:
            raise ControlledStop(f"no command for {silent:.1f} s (the command writer died?): parked at "
                                 f"rest_pose, torque off; restart the driver to resume", fatal=False)

    def _controlled_stop(self, hold: bool) -> None:
        """Hold (on a requested stop only), ramp to the rest pose through the gate, then torque off per
        the policy; a bus that fails during the sequence, or a second signal, switches torque off now."""
        policy, log = self.shutdown_policy, self.get_logger()
        if not hold:
            policy = dataclasses.replace(policy, hold_s=0.0)
        pose = "stay" if policy.pose is None else f"ramp to {policy.pose}"
        log.info(f"controlled stop: hold {policy.hold_s:.1f} s with torque on, then {pose}")
        try:
            self.driver.hold_and_park(policy, self.rate_hz, self.torque_off_now.is_set, self._publish_joint_state)
        except FatalBusError as exc:
            log.error(f"bus failed during the controlled stop, switching torque off: {exc}")
            self.torque_off_now.set()
        except Exception as exc:
            log.error(f"controlled stop failed ({type(exc).__name__}: {exc}), switching torque off")
            self.torque_off_now.set()
        if policy.torque_off or self.torque_off_now.is_set():
            confirmed = self.driver.torque_off()
            log.info("torque off" + ("" if confirmed else " (not confirmed by every servo)"))
        else:
            log.warning("torque stays on: the servos hold the last goal while powered (shutdown_torque_off "
                        "is false)")

    def _publish_joint_state(self, reading) -> None:
        self._last_cycle_at = time.monotonic()  # the heartbeat, also during a controlled stop's cycles
        msg = JointState()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.name = list(JOINT_NAMES)
        msg.position = [reading.positions[j] for j in JOINT_NAMES]
        msg.velocity = [reading.velocities[j] for j in JOINT_NAMES]
        self.joint_pub.publish(msg)

    # ----- diagnostics ----------------------------------------------------------------------
    def _bus_report(self) -> Report:
        bus, cycles, gate = self.driver.bus.stats, self.driver.stats, self.gate.stats
        stats = self.ticker.stats()
        now = time.monotonic()
        since, ticks_before = self._rate_window
        self._rate_window = (now, stats.ticks)
        self._loop_rate = (stats.ticks - ticks_before) / (now - since) if now > since else 0.0
        report = Report()
        servo_faults = {m: describe_error_bits(bits) for m, bits in bus.servo_errors.items() if bits}
        if self.stopping:
            report.raise_to(Level.ERROR, self.stopping)
        elif cycles.consecutive_failures:
            report.raise_to(Level.WARN, bus.last_error)
        errors = bus.failed_transactions + bus.checksum_errors + bus.malformed_replies + bus.unexpected_packets
        (errors_before, retries_before, timeouts_before), self._bus_before = self._bus_before, \
            (errors, bus.retries, bus.timeouts)
        judged = {
            "bus_errors_in_period": errors - errors_before,
            "bus_retries_in_period": bus.retries - retries_before,
            "bus_timeouts_in_period": bus.timeouts - timeouts_before,
            "servos_with_error_bits": len(servo_faults),
            "max_temperature_c": max(cycles.temperatures.values(), default=float("nan")),
            "min_voltage_v": min(cycles.voltages.values(), default=float("nan")),
        }
        for key, value in judged.items():
            if self.thresholds[key].judge(report, value) and key == "servos_with_error_bits":
                report.message += f" {servo_faults}"
        silent = self.gate.seconds_since_command(now)
        if silent is not None and silent > self.gate.command_timeout_s and self.driver.torque_on:
            report.raise_to(Level.WARN, f"no command for {silent:.1f} s: holding")
        values = {
            **judged,
            "loop_rate_hz": f"{self._loop_rate:.2f}",
            "target_rate_hz": f"{self.rate_hz:.2f}",
            "cadence": cadence_line(stats, self.rate_hz),
            "scheduling": self.scheduling,
            **({"emulator_scheduling": str(self.emulator.scheduling)} if self.emulator else {}),
            "lateness_p99_ms": f"{stats.p99_ms:.3f}",
            "max_lateness_ms": f"{stats.max_ms:.3f}",
            "missed_cycles": stats.missed,
            **GC_PAUSES.stats().diagnostic_values(),
            "cycles": cycles.cycles,
            "failed_cycles": cycles.failed_cycles,
            "bus_transactions": bus.transactions,
            "bus_retries": bus.retries,
            "bus_timeouts": bus.timeouts,
            "bus_checksum_errors": bus.checksum_errors,
            "bus_malformed_replies": bus.malformed_replies,
            "bus_unexpected_packets": bus.unexpected_packets,
            "bus_failed_transactions": bus.failed_transactions,
            "bus_last_error": bus.last_error,
            "commands_accepted": gate.commands_accepted,
            "commands_rejected": gate.commands_rejected,
            "stale_commands": gate.stale_commands,
            "clipped_goals": gate.clipped_goals,
            "motion_limited_goals": gate.motion_limited_goals,
            "first_commands_rejected": gate.first_commands_rejected,
            "commands_while_stopping": gate.commands_while_stopping,
            "last_rejection": gate.last_rejection,
            "command_silences": gate.command_silences,
            "seconds_since_command": "" if silent is None else f"{silent:.2f}",
            "torque_on": self.driver.torque_on,
        }
        for motor_id, bits in sorted(bus.servo_errors.items()):
            values[f"servo_{motor_id}_error"] = describe_error_bits(bits)
        for joint, volts in cycles.voltages.items():
            values[f"{joint}_voltage_v"] = f"{volts:.1f}"
        for joint, celsius in cycles.temperatures.items():
            values[f"{joint}_temperature_c"] = f"{celsius:.0f}"
        report.values = values
        return report

    def _heartbeat_report(self) -> Report:
        """The control thread's heartbeat: ERROR when it stopped cycling (died, hung) or stopped the arm."""
        now = time.monotonic()
        report = Report(values={"seconds_since_cycle": f"{now - self._last_cycle_at:.3f}",
                                "alive": self._thread.is_alive(), "parked": self.parked,
                                "torque_on": self.driver.torque_on})
        judge_heartbeat(report, now=now, last_tick_at=self._last_cycle_at, last_report_at=self._last_report_at,
                        rate_hz=self.rate_hz, failure=self.stopping, started=self._thread.ident is not None,
                        alive=self._thread.is_alive(), stopping=self.stop_event.is_set(), tick="cycle")
        self._last_report_at = now
        return report

    def _writer_report(self) -> Report:
        """Who commands the arm: ERROR while another publisher is on a command topic."""
        self.writer.observe(self._command_publishers())
        stats = self.writer.stats
        report = Report(values={"command_writer": self.writer.writer, "followed": self.writer.followed_node,
                                "commands_from_writer": stats.accepted, "commands_ignored": stats.refused,
                                "intruders": ", ".join(sorted(f"{p.node} on {p.topic}"
                                                              for p in stats.intruders.values()))})
        if stats.intruders:
            report.raise_to(Level.ERROR, "another publisher on a command topic, ignored: " + report.values["intruders"])
        return report

    # ----- shutdown -------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the control thread for the controlled stop and wait for it (a SIGINT/SIGTERM meanwhile:
        torque off now); release the port (and the emulator in sim)."""
        previous = {sig: signal.signal(sig, lambda *_: self.torque_off_now.set())
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.stop_event.set()
            if self._thread.ident is None:  # never started: stop from here
                self._controlled_stop(hold=True)
            else:
                self._thread.join()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.driver.bus.close()
        if self.emulator is not None:
            self.emulator.stop()
        if self.profiling:
            print_profiling_summary(sort_by="mean", whole="robot.cycle", title=f"{self.get_name()}: profiling summary")


class ControlledStop(Exception):
    """Raised by a cycle: stop the arm (`reason`); `fatal`: the node then exits with code 1."""

    def __init__(self, reason: str, fatal: bool = True) -> None:
        super().__init__(reason)
        self.reason, self.fatal = reason, fatal


def main(args: list[str] | None = None) -> None:
    run_node("driver_node", DriverNode, args=args, switch_interval_s=GIL_SWITCH_INTERVAL_S)


if __name__ == "__main__":
    main()
