"""ROS 2 node for the SO-100 arm: /joint_states out, joint commands in, /diagnostics at 1 Hz.

The control loop runs on its own thread sleeping to absolute deadlines (an rclpy timer is far
too jittery at 100 Hz); the ROS executor on the main thread only receives commands and
publishes diagnostics. SIGINT/SIGTERM and fatal bus errors switch the torque off.

Parameters (default) [unit]:
  port ("/dev/ttyACM0")             serial port of the arm's bus adapter; ignored with sim
  baudrate (1000000) [baud]         bus speed; in sim the emulator delays replies by their transmission time
  calibration_file ("")             lerobot-calibrate JSON; required on a real arm, sim defaults to the shipped one
  rate_hz (100.0) [Hz]              control cycles per second: one sync read + one sync write each
  max_relative_target (0.25) [rad]  largest step of a goal from the present position per cycle; <= 0 disables
  command_timeout_s (0.5) [s]       a joint's command older than this is dropped and the joint holds
  sim (False)                       run against a servo-bus emulator on a pty inside this process
  sim_task_seed (-1)                sim only: >= 0 starts the emulated servos at the start pose of the
                                    simulated task with this seed (so100_driver.sim.scene_for_seed, the
                                    scene sim_camera renders for its seed); < 0 starts at range midpoints
  bus_timeout_s (0.01) [s]          wait for a transaction's status packets before a retry
  bus_retries (2)                   retries per transaction before it fails
  max_failed_cycles (20)            failed cycles in a row that are fatal (torque off, exit code 1)
  write_calibration (True)          write homing offset and limits from the file when the servos differ;
                                    False refuses to start instead
  realtime (True)                   run the control loop under SCHED_FIFO (normal scheduling if refused)
  realtime_priority (50)            SCHED_FIFO priority, 1..99
  profiling (True)                  record robot.get_observation, robot.send_action and
                                    robot.cycle.lateness with rtc_runtime.profiling; print their
                                    summary table at shutdown

Topics:
  publishes  /joint_states (sensor_msgs/JointState, reliable, depth 10): names JOINT_NAMES, position
             [rad, zero at the calibrated range midpoint], velocity [rad/s]; one per successful cycle
  publishes  /diagnostics (diagnostic_msgs/DiagnosticArray, reliable, depth 10) at 1 Hz: status
             "so100_driver: bus" with loop rate, lateness, bus errors and retries, voltages, temperatures
  subscribes /so100/command (sensor_msgs/JointState, best effort, depth 1): targets [rad] matched by
             name; any subset of the joints; a message with unknown/duplicate names, NaN or
             mismatched sizes is rejected whole
  subscribes /so100/command_array (std_msgs/Float64MultiArray, best effort, depth 1): six targets [rad]
             in the order shoulder_pan, shoulder_lift, elbow_flex, wrist_flex, wrist_roll, gripper
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from .arm import JOINT_NAMES, Calibration, default_calibration_path
from .arm_driver import ArmDriver, FatalBusError
from .bus import FeetechBus
from .emulator import ServoBusEmulator
from .protocol import describe_error_bits
from .safety import CommandError, CommandGate
from .sim import scene_for_seed, start_position_ticks
from rtc_runtime.profiling import enable_profiling, print_profiling_summary, record_timing
from rtc_runtime.scheduling import request_realtime
from .timing import DeadlineClock

JOINT_STATES_TOPIC = "/joint_states"
DIAGNOSTICS_TOPIC = "/diagnostics"
COMMAND_TOPIC = "/so100/command"
COMMAND_ARRAY_TOPIC = "/so100/command_array"

PARAMETER_DEFAULTS: dict[str, object] = {
    "port": "/dev/ttyACM0",
    "baudrate": 1_000_000,
    "calibration_file": "",
    "rate_hz": 100.0,
    "max_relative_target": 0.25,
    "command_timeout_s": 0.5,
    "sim": False,
    "sim_task_seed": -1,
    "bus_timeout_s": 0.01,
    "bus_retries": 2,
    "max_failed_cycles": 20,
    "write_calibration": True,
    "realtime": True,
    "realtime_priority": 50,
    "profiling": True,
}


class DriverNode(Node):
    def __init__(self) -> None:
        super().__init__("so100_driver")
        p = self._declare_parameters()
        self.sim = p["sim"]
        if p["realtime"] and not 1 <= p["realtime_priority"] <= 99:
            raise ValueError(f"parameter realtime_priority must be 1..99, got {p['realtime_priority']}")
        self.realtime_priority = p["realtime_priority"] if p["realtime"] else 0
        self.rate_hz = p["rate_hz"]
        self.profiling = p["profiling"]
        if self.profiling:
            enable_profiling()
        if self.rate_hz <= 0:
            raise ValueError(f"parameter rate_hz must be positive, got {self.rate_hz}")
        calibration_file = p["calibration_file"] or (str(default_calibration_path()) if self.sim else "")
        if not calibration_file:
            raise ValueError("parameter calibration_file is required (the JSON lerobot-calibrate wrote)")
        self.calibration = Calibration.load(calibration_file)
        self.emulator: ServoBusEmulator | None = None
        port = p["port"]
        if self.sim:
            start = None
            if p["sim_task_seed"] >= 0:
                start = start_position_ticks(scene_for_seed(p["sim_task_seed"]), self.calibration)
            self.emulator = ServoBusEmulator.for_arm(self.calibration, positions=start, baudrate=p["baudrate"]).start()
            port = self.emulator.port
            pose = f"start pose of sim task seed {p['sim_task_seed']}" if start else "range midpoints"
            self.get_logger().info(f"sim: emulated STS3215 bus on {port}, servos at {pose}")
        elif p["sim_task_seed"] >= 0:
            self.get_logger().warning("parameter sim_task_seed is ignored without sim")
        self.gate = CommandGate(self.calibration, p["max_relative_target"], p["command_timeout_s"])
        bus = FeetechBus(port, p["baudrate"], timeout_s=p["bus_timeout_s"], retries=p["bus_retries"])
        self.driver = ArmDriver(bus, self.calibration, self.gate, max_failed_cycles=p["max_failed_cycles"])
        try:
            self.driver.connect(write_calibration=p["write_calibration"])
        except Exception:
            bus.close()
            if self.emulator is not None:
                self.emulator.stop()
            raise
        self.get_logger().info(f"connected to {port}; calibration {calibration_file}; torque on")

        self.joint_pub = self.create_publisher(JointState, JOINT_STATES_TOPIC, 10)
        self.diag_pub = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, 10)
        # Best effort matches reliable and best-effort publishers alike; only the latest command matters.
        command_qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
        self.create_subscription(JointState, COMMAND_TOPIC, self._on_command, command_qos)
        self.create_subscription(Float64MultiArray, COMMAND_ARRAY_TOPIC, self._on_command_array, command_qos)
        self.create_timer(1.0, self._publish_diagnostics)

        self.stop_event = threading.Event()
        self.fatal_error = ""
        self.deadlines = DeadlineClock(1.0 / self.rate_hz)
        self._lateness_max = 0.0
        self._loop_rate = 0.0
        self.scheduling = "normal"
        self._thread = threading.Thread(target=self._control_loop, name="so100-control", daemon=True)
        self._thread.start()

    def _declare_parameters(self) -> dict:
        return {name: self.declare_parameter(name, value).value for name, value in PARAMETER_DEFAULTS.items()}

    # ----- commands (executor thread) -------------------------------------------------------
    def _on_command(self, msg: JointState) -> None:
        try:
            self.gate.set_targets(list(msg.name), list(msg.position), time.monotonic())
        except CommandError as exc:
            self.get_logger().warning(f"{COMMAND_TOPIC} rejected: {exc}", throttle_duration_sec=1.0)

    def _on_command_array(self, msg: Float64MultiArray) -> None:
        try:
            self.gate.set_array(list(msg.data), time.monotonic())
        except CommandError as exc:
            self.get_logger().warning(f"{COMMAND_ARRAY_TOPIC} rejected: {exc}", throttle_duration_sec=1.0)

    # ----- control loop (own thread) --------------------------------------------------------
    def _control_loop(self) -> None:
        granted = True
        if self.realtime_priority:
            granted = request_realtime(self.realtime_priority).policy == "SCHED_FIFO"
            self.scheduling = f"SCHED_FIFO {self.realtime_priority}" if granted else "normal (SCHED_FIFO refused)"
        log = self.get_logger()
        (log.info if granted else log.warning)(f"control loop at {self.rate_hz} Hz, scheduling {self.scheduling}")
        clock = self.deadlines
        health_every = max(1, int(round(self.rate_hz)))
        window_start, window_ticks = time.monotonic(), 0
        try:
            while not self.stop_event.is_set():
                lateness = clock.wait()
                record_timing("robot.cycle.lateness", lateness)
                self._lateness_max = max(self._lateness_max, lateness)
                reading = self.driver.cycle(read_health=clock.ticks % health_every == 1)
                window_ticks += 1
                now = time.monotonic()
                if now - window_start >= 1.0:
                    self._loop_rate = window_ticks / (now - window_start)
                    window_start, window_ticks = now, 0
                if reading is not None:
                    self._publish_joint_state(reading)
        except FatalBusError as exc:
            self.fatal_error = str(exc)
            self.get_logger().fatal(f"fatal bus error, switching torque off: {exc}")
            self.driver.torque_off()
            self.stop_event.set()

    def _publish_joint_state(self, reading) -> None:
        msg = JointState()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.name = list(JOINT_NAMES)
        msg.position = [reading.positions[j] for j in JOINT_NAMES]
        msg.velocity = [reading.velocities[j] for j in JOINT_NAMES]
        self.joint_pub.publish(msg)

    # ----- diagnostics ----------------------------------------------------------------------
    def _publish_diagnostics(self) -> None:
        bus, cycles, gate = self.driver.bus.stats, self.driver.stats, self.gate.stats
        status = DiagnosticStatus(name="so100_driver: bus", hardware_id=self.driver.bus.port)
        servo_faults = {m: bits for m, bits in bus.servo_errors.items() if bits}
        if self.fatal_error:
            status.level, status.message = DiagnosticStatus.ERROR, self.fatal_error
        elif cycles.consecutive_failures or servo_faults:
            status.level = DiagnosticStatus.WARN
            status.message = bus.last_error if cycles.consecutive_failures else f"servo errors {servo_faults}"
        else:
            status.level, status.message = DiagnosticStatus.OK, "ok"
        values = {
            "loop_rate_hz": f"{self._loop_rate:.2f}",
            "target_rate_hz": f"{self.rate_hz:.2f}",
            "scheduling": self.scheduling,
            "max_lateness_ms": f"{self._lateness_max * 1e3:.3f}",
            "missed_cycles": self.deadlines.missed,
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
            "torque_on": self.driver.torque_on,
        }
        for motor_id, bits in sorted(bus.servo_errors.items()):
            values[f"servo_{motor_id}_error"] = describe_error_bits(bits)
        for joint, volts in cycles.voltages.items():
            values[f"{joint}_voltage_v"] = f"{volts:.1f}"
        for joint, celsius in cycles.temperatures.items():
            values[f"{joint}_temperature_c"] = f"{celsius:.0f}"
        status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(msg)

    # ----- shutdown -------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop the loop, switch torque off, release the port (and the emulator in sim)."""
        self.stop_event.set()
        self._thread.join(timeout=2.0)
        if not self.fatal_error:  # after a fatal error the loop already switched torque off
            confirmed = self.driver.torque_off()
            self.get_logger().info("torque off" + ("" if confirmed else " (not confirmed by every servo)"))
        self.driver.bus.close()
        if self.emulator is not None:
            self.emulator.stop()
        if self.profiling:
            print_profiling_summary(sort_by="mean", title=f"{self.get_name()}: profiling summary")


def main(args: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO)
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    node = None
    exit_code = 0
    try:
        node = DriverNode()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        while not stop.is_set() and not node.stop_event.is_set():
            executor.spin_once(timeout_sec=0.1)
        if node.fatal_error:
            node._publish_diagnostics()
            exit_code = 1
    except Exception as exc:  # bring-up failures: report clearly, exit non-zero
        logging.getLogger("so100_driver").error("%s: %s", type(exc).__name__, exc)
        exit_code = 1
    finally:
        if node is not None:
            node.shutdown()
            node.destroy_node()
        rclpy.try_shutdown()
    sys.exit(exit_code)


if __name__ == "__main__":
    main()
