"""The SO-100 on a Feetech bus: bring-up, one read/write cycle, health reads, the controlled stop,
torque off.

No ROS here: the node (``driver_node``) and the benchmark both drive this class.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from collections.abc import Callable

from rtc_runtime.profiling import profile_section

from .arm import JOINT_NAMES, MOTOR_IDS, RADIANS_PER_TICK, Calibration
from .bus import BusError, BusPortError, FeetechBus
from .protocol import BROADCAST_ID, StatusError, describe_error_bits
from .registers import REGISTERS, STS3215_MODEL_NUMBER
from .safety import CommandGate, ShutdownPolicy
from rtc_runtime.deadline_loop import Ticker

log = logging.getLogger(__name__)

_R = REGISTERS
# The identity block: firmware major (0), minor (1), a reserved byte, model number (3-4).
_IDENTITY_ADDRESS = REGISTERS["Firmware_Major_Version"].address
_IDENTITY_SIZE = REGISTERS["Model_Number"].address + REGISTERS["Model_Number"].size - _IDENTITY_ADDRESS
_IDS = [MOTOR_IDS[j] for j in JOINT_NAMES]
_POSITION, _VELOCITY = _R["Present_Position"], _R["Present_Velocity"]
_VOLTAGE, _TEMPERATURE = _R["Present_Voltage"], _R["Present_Temperature"]
_STATE_BLOCK = (_POSITION.address, _POSITION.size + _VELOCITY.size)  # one sync read per cycle
_HEALTH_BLOCK = (_VOLTAGE.address, _VOLTAGE.size + _TEMPERATURE.size)

# What LeRobot's SO-100 follower writes in configure(), with torque off.
_CONFIGURATION = (
    ("Return_Delay_Time", 0),
    ("Maximum_Acceleration", 254),
    ("Acceleration", 254),
    ("Operating_Mode", 0),  # position mode
    ("P_Coefficient", 16),
    ("I_Coefficient", 0),
    ("D_Coefficient", 32),
)
_GRIPPER_CONFIGURATION = (("Max_Torque_Limit", 500), ("Protection_Current", 250), ("Overload_Torque", 25))


SETTLE_S = 0.5  # after a shutdown ramp: cycles that let the servos reach the pose
BRINGUP_TIMEOUT_S = 10.0  # bring-up retries each failing transaction until this much time has passed
_BRINGUP_RETRY_PAUSE_S = 0.05
# Status bits that end in a controlled stop: the servo protects itself and will not follow much longer.
STOPPING_ERROR_BITS = StatusError.OVERLOAD | StatusError.OVERHEAT


class FatalBusError(BusError):
    """The bus cannot be trusted any more (port failed, or too many failed cycles in a row)."""


class HandshakeError(BusError):
    """A servo is missing or is not the expected model/firmware."""


@dataclass(frozen=True)
class JointReading:
    """One cycle's state: radians and radians per second by joint name, plus the goal written."""

    stamp: float
    positions: dict[str, float]
    velocities: dict[str, float]
    goal: dict[str, float]


@dataclass
class CycleStats:
    cycles: int = 0
    failed_cycles: int = 0
    consecutive_failures: int = 0
    health_reads: int = 0
    voltages: dict[str, float] = field(default_factory=dict)
    temperatures: dict[str, float] = field(default_factory=dict)


class ArmDriver:
    def __init__(self, bus: FeetechBus, calibration: Calibration, gate: CommandGate, max_failed_cycles: int = 20):
        self.bus = bus
        self.calibration = calibration
        self.gate = gate
        self.max_failed_cycles = max_failed_cycles
        self.stats = CycleStats()
        self.torque_on = False
        self.servo_fault = ""  # set by a cycle whose replies carry STOPPING_ERROR_BITS
        self._bringup_deadline = 0.0
        self._bringup_waited = False

    # ----- bring-up -------------------------------------------------------------------------
    def connect(self, write_calibration: bool = True, torque: bool = True,
                timeout_s: float = BRINGUP_TIMEOUT_S) -> None:
        """Open, check the servos, configure them as LeRobot does (torque off), then enable torque holding
        still; with `torque` false (a dry run) torque stays off and `cycle` only reads.

        A slow start (servos still powering up, a loaded machine) is waited for: each transaction
        that fails is retried until `timeout_s` after the start of bring-up, then its error raises."""
        if not self.bus.is_open:
            self.bus.open()
        self._bringup_deadline = time.monotonic() + timeout_s
        self._bringup_waited = False
        self._handshake()
        self._write_each(("Torque_Enable", 0), ("Lock", 0))
        for name in JOINT_NAMES:
            settings = _CONFIGURATION + (_GRIPPER_CONFIGURATION if name == "gripper" else ())
            for register_name, value in settings:
                self._patiently(self.bus.write, MOTOR_IDS[name], _R[register_name], value)
        self._check_calibration(write_calibration)
        if torque:
            self.enable_torque()

    def _patiently(self, transaction: Callable, *args):
        """`transaction(*args)`, retried on timeouts and corrupt replies until the bring-up deadline."""
        while True:
            try:
                return transaction(*args)
            except BusPortError:
                raise
            except BusError as exc:
                left = self._bringup_deadline - time.monotonic()
                if left < _BRINGUP_RETRY_PAUSE_S:
                    raise
                if not self._bringup_waited:
                    log.warning("bring-up: %s; waiting up to %.1f s more for the servos", exc, left)
                    self._bringup_waited = True
                time.sleep(_BRINGUP_RETRY_PAUSE_S)

    def _handshake(self) -> None:
        firmware = {}
        for name in JOINT_NAMES:
            motor_id = MOTOR_IDS[name]
            try:
                self._patiently(self.bus.ping, motor_id)
                # One read from the firmware version to the model number: a status packet does not
                # name its register, so a late reply to one of three small reads was once taken as
                # the next one's value; a reply of another size is refused by the bus.
                identity = self._patiently(self.bus.read_block, motor_id, _IDENTITY_ADDRESS, _IDENTITY_SIZE,
                                           "identity").data
                model = _R["Model_Number"].decode(identity[_R["Model_Number"].address - _IDENTITY_ADDRESS :])
                firmware[name] = (identity[_R["Firmware_Major_Version"].address - _IDENTITY_ADDRESS],
                                  identity[_R["Firmware_Minor_Version"].address - _IDENTITY_ADDRESS])
            except BusError as exc:
                raise HandshakeError(f"joint {name} (motor id {motor_id}) does not answer: {exc}") from exc
            if model != STS3215_MODEL_NUMBER:
                raise HandshakeError(
                    f"joint {name} (motor id {motor_id}) has model number {model}, expected STS3215 ({STS3215_MODEL_NUMBER})"
                )
        if len(set(firmware.values())) > 1:
            raise HandshakeError(f"servos run different firmware versions: {firmware}")

    def _check_calibration(self, write: bool) -> None:
        for name in JOINT_NAMES:
            motor_id, wanted = MOTOR_IDS[name], self.calibration.motors[name]
            fields = (
                ("Homing_Offset", wanted.homing_offset),
                ("Min_Position_Limit", wanted.range_min),
                ("Max_Position_Limit", wanted.range_max),
            )
            for register_name, value in fields:
                present = self._patiently(self.bus.read, motor_id, _R[register_name])
                if present == value:
                    continue
                if not write:
                    raise HandshakeError(
                        f"joint {name}: servo {register_name} is {present} but {self.calibration.source} says {value}"
                    )
                log.warning("joint %s: writing %s=%d from %s (servo had %d)", name, register_name, value,
                            self.calibration.source, present)
                self._patiently(self.bus.write, motor_id, _R[register_name], value)

    def enable_torque(self) -> None:
        """Goal := present position on every servo, then torque on; the gate restarts from present."""
        present = self._patiently(self.bus.sync_read, _POSITION, _IDS)
        self.bus.sync_write(_R["Goal_Position"], present)
        self._write_each(("Torque_Enable", 1), ("Lock", 1))
        self.gate.rearm()
        self.torque_on = True

    def _write_each(self, *settings: tuple[str, int]) -> None:
        for motor_id in _IDS:
            for register_name, value in settings:
                self._patiently(self.bus.write, motor_id, _R[register_name], value)

    # ----- the cycle ------------------------------------------------------------------------
    def cycle(self, read_health: bool = False) -> JointReading | None:
        """One sync read of position+velocity, one sync write of the safe goal (timed as the
        profiling components robot.get_observation and robot.send_action).

        A failed read skips the write (nothing is commanded without a fresh present position)
        and returns None. Raises :class:`FatalBusError` when the port fails or after
        ``max_failed_cycles`` failed cycles in a row. Overload or overheat bits in the replies set
        `servo_fault` (the caller stops the arm).
        """
        stats = self.stats
        stats.cycles += 1
        try:
            with profile_section("robot.get_observation"):
                replies = self.bus.sync_read_block(*_STATE_BLOCK, _IDS, "Present_Position+Present_Velocity")
                now = time.monotonic()
                positions, velocities = {}, {}
                for name in JOINT_NAMES:
                    block = replies[MOTOR_IDS[name]].data
                    ticks = _POSITION.decode(_POSITION.slice_of(block, _STATE_BLOCK[0]))
                    speed = _VELOCITY.decode(_VELOCITY.slice_of(block, _STATE_BLOCK[0]))
                    positions[name] = self.calibration.ticks_to_radians(name, ticks)
                    velocities[name] = speed * RADIANS_PER_TICK
                self._note_servo_faults(replies)
            goal = self.gate.goal(positions, now) if self.torque_on else positions
            if self.torque_on:
                with profile_section("robot.send_action"):
                    self._write_goal(goal)
        except BusPortError as exc:
            raise FatalBusError(str(exc)) from exc
        except BusError as exc:
            stats.failed_cycles += 1
            stats.consecutive_failures += 1
            if stats.consecutive_failures >= self.max_failed_cycles:
                raise FatalBusError(f"{stats.consecutive_failures} failed cycles in a row; last: {exc}") from exc
            return None
        stats.consecutive_failures = 0
        if read_health:
            self._read_health()
        return JointReading(now, positions, velocities, goal)

    def _note_servo_faults(self, replies: dict) -> None:
        if self.servo_fault:
            return
        faults = {name: replies[MOTOR_IDS[name]].error & STOPPING_ERROR_BITS for name in JOINT_NAMES}
        faults = {name: describe_error_bits(bits) for name, bits in faults.items() if bits}
        if faults:
            self.servo_fault = "servo status " + ", ".join(f"{name} {bits}" for name, bits in faults.items())

    def _write_goal(self, goal: dict[str, float]) -> None:
        ticks = {}
        for name in JOINT_NAMES:
            ticks[MOTOR_IDS[name]] = int(round(self.calibration.radians_to_ticks(name, goal[name])))
        self.bus.sync_write(_R["Goal_Position"], ticks)

    def _read_health(self) -> None:
        """Voltages and temperatures; a failure here only shows in the bus counters."""
        try:
            replies = self.bus.sync_read_block(*_HEALTH_BLOCK, _IDS, "Present_Voltage+Present_Temperature")
        except BusPortError as exc:
            raise FatalBusError(str(exc)) from exc
        except BusError:
            return
        for name in JOINT_NAMES:
            block = replies[MOTOR_IDS[name]].data
            self.stats.voltages[name] = block[0] / 10.0
            self.stats.temperatures[name] = float(block[1])
        self.stats.health_reads += 1

    # ----- shutdown -------------------------------------------------------------------------
    def hold_and_park(self, policy: ShutdownPolicy, rate_hz: float, abort: Callable[[], bool],
                      on_reading: Callable[[JointReading], None] | None = None) -> None:
        """The first part of the shutdown policy, torque on: hold `policy.hold_s`, then ramp to the
        pose and let the servos settle, one cycle per period (each reading goes to `on_reading`).
        Commands stop counting (the gate forgets them; only the ramp sets targets, through the gate's
        motion limits). Returns early when `abort()` turns true (an explicit request for torque
        off); raises FatalBusError like `cycle`, after `max_failed_cycles` failures counted from the
        start of the sequence (a bus that answers again after a loss still parks the arm). Switching
        torque off is the caller's, per the policy."""
        if not self.torque_on:
            return
        self.stats.consecutive_failures = 0
        self.gate.freeze()
        start = self.gate.last_goal
        ramp = policy.ramp(start, rate_hz) if start is not None else []
        hold_cycles = round(policy.hold_s * rate_hz)
        settle_cycles = round(SETTLE_S * rate_hz) if ramp else 0
        targets = iter([None] * hold_cycles + ramp + [None] * settle_cycles)
        done = threading.Event()

        def one_cycle(_tick: int, _missed: int) -> None:
            target = next(targets, done)
            if target is done or abort():
                done.set()
                return
            if target is not None:
                self.gate.set_targets(JOINT_NAMES, [target[j] for j in JOINT_NAMES], time.monotonic(), own=True)
            reading = self.cycle()
            if reading is not None and on_reading is not None:
                on_reading(reading)

        Ticker(rate_hz, window_ticks=1).run(one_cycle, done)

    def torque_off(self) -> bool:
        """Best effort: broadcast torque off, then confirm motor by motor. True if all confirmed."""
        self.torque_on = False
        confirmed = True
        try:
            self.bus.write(BROADCAST_ID, _R["Torque_Enable"], 0)
        except BusError as exc:
            log.error("broadcast torque off failed: %s", exc)
        for motor_id in _IDS:
            try:
                self.bus.write(motor_id, _R["Torque_Enable"], 0)
                self.bus.write(motor_id, _R["Lock"], 0)
            except BusError as exc:
                confirmed = False
                log.error("torque off not confirmed by motor %d: %s", motor_id, exc)
        return confirmed
