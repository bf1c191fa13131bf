"""STS3215 servos behind a pseudo-terminal (or a loopback TCP socket), speaking the real Feetech protocol 0.

Clients (our bus, the vendor SDK, LeRobot) open the pty's slave side as if it were the USB
serial adapter of a real arm. With `transport="socket"` the emulator listens on 127.0.0.1 instead and
a client opens pyserial's URL `socket://127.0.0.1:PORT` (`serial.serial_for_url`): the same bytes
without the pty, which moves them both ways in a normal-priority kernel worker that a loaded machine
delays (a USB serial adapter's replies pass it, its requests do not); one client at a time, as on a
serial line. Each emulated servo keeps a register table, answers PING, READ, WRITE, SYNC_READ and
SYNC_WRITE with the status packets a real servo sends (none to broadcast or SYNC_WRITE), and, while
torque is on, moves its position toward the goal with bounded velocity and acceleration. Faults can
be injected to test the client's recovery.

What moves the servos is a world (`World`): the kinematic one (each servo follows the firmware's motion
profile exactly, nothing has mass) or the MuJoCo twin (`so100_driver.twin`: the servos drive the
joints of a simulated SO-100 with torque, and read back what the joints did). Time: behind a pty the
world advances by the wall-clock time since the last transaction, or, with `start(step_every_s)`, in a
thread of its own (`pacing` says whether it keeps up); without a pty, `advance(dt)` steps it in
simulated time.

Usage: ``bus_emulator --link /tmp/so100 [--calibration FILE] [--world kinematic|mujoco]`` serves until killed.
"""

from __future__ import annotations

import argparse
import math
import os
import select
import signal
import socket
import sys
import threading
import time
import tty
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from rtc_runtime.scheduling import Scheduling, request_realtime

from .arm import JOINT_NAMES, MOTOR_IDS, Calibration, load_calibration
from .protocol import BROADCAST_ID, Instruction, Packet, PacketDecoder, encode_packet
from .pacing import WallClockPacing
from .registers import REGISTERS, STS3215_MODEL_NUMBER, TABLE_SIZE, Register
from .twin.servo import motion_profile, profile_limits
from .worlds import WORLD_NAMES, WorldUnavailable, make_world

DEFAULT_MAX_VELOCITY = 3000.0  # ticks/s, about the STS3215's no-load speed at 7.4 V
# SCHED_FIFO of the emulator's threads (serve_realtime): below a driver's control loop (its default 50),
# above the driver's other threads (40) and every normal task.
BUS_PRIORITY = 45
TRANSPORTS = ("pty", "socket")  # what a client opens: the pty's slave, or socket://127.0.0.1:PORT
_PHYSICS_STEP_S = 0.001
_R = REGISTERS
_NAME_AT = {reg.address: name for name, reg in REGISTERS.items()}


def _reg_default(table: bytearray, reg: Register, value: int) -> None:
    table[reg.address : reg.address + reg.size] = reg.encode(value)


class EmulatedServo:
    """One STS3215: register table plus a simple motion model in Present_Position ticks."""

    def __init__(self, motor_id: int, position: float = 2048.0, max_velocity: float = DEFAULT_MAX_VELOCITY):
        self.motor_id = motor_id
        self.max_velocity = max_velocity
        self.table = bytearray(TABLE_SIZE)
        self.position = float(position)
        self.velocity = 0.0
        self.load = 0  # Present_Load: signed duty in 0.1 % (the kinematic world leaves it 0)
        self.current = 0  # Present_Current, in its register unit
        self.error_bits = 0
        self.writes: Counter[str] = Counter()  # register name -> client writes starting there (WRITE, SYNC_WRITE)
        self.torque_was_enabled = False  # a client switched torque on at some point
        for name, value in (
            ("Firmware_Major_Version", 3),
            ("Firmware_Minor_Version", 9),
            ("Model_Number", STS3215_MODEL_NUMBER),
            ("ID", motor_id),
            ("Return_Delay_Time", 250),
            ("Response_Status_Level", 1),
            ("Max_Position_Limit", 4095),
            ("Max_Temperature_Limit", 70),
            ("Max_Voltage_Limit", 140),
            ("Min_Voltage_Limit", 40),
            ("Max_Torque_Limit", 1000),
            ("P_Coefficient", 32),
            ("D_Coefficient", 32),
            ("Protection_Current", 500),
            ("Overload_Torque", 80),
            ("Torque_Limit", 1000),
            ("Present_Voltage", 74),
            ("Present_Temperature", 32),
            ("Maximum_Acceleration", 254),
        ):
            _reg_default(self.table, _R[name], value)
        self.sync_registers()
        _reg_default(self.table, _R["Goal_Position"], self.present_ticks())

    # ----- registers ----------------------------------------------------------------------
    def get(self, name: str) -> int:
        reg = _R[name]
        return reg.decode(self.table[reg.address : reg.address + reg.size])

    def set(self, name: str, value: int) -> None:
        _reg_default(self.table, _R[name], value)

    def read(self, address: int, size: int) -> bytes | None:
        if address + size > TABLE_SIZE:
            return None
        self.sync_registers()
        return bytes(self.table[address : address + size])

    def write(self, address: int, data: bytes) -> bool:
        if address + len(data) > TABLE_SIZE:
            return False
        old_offset = self.get("Homing_Offset")
        self.table[address : address + len(data)] = data
        self.writes[_NAME_AT.get(address, str(address))] += 1
        self.torque_was_enabled |= self.torque_enabled
        new_offset = self.get("Homing_Offset")
        if new_offset != old_offset:
            # Present_Position = actual - Homing_Offset, so the reading shifts; the shaft does not move.
            self.position += old_offset - new_offset
        if not self.torque_enabled:
            self.velocity = 0.0
        return True

    @property
    def torque_enabled(self) -> bool:
        return bool(self.table[_R["Torque_Enable"].address])

    def present_ticks(self) -> int:
        return int(round(self.position))

    def goal_ticks(self) -> float:
        goal = float(self.get("Goal_Position"))
        lower, upper = self.get("Min_Position_Limit"), self.get("Max_Position_Limit")
        if upper > lower:  # the firmware clamps goals to the angle limits
            goal = min(upper, max(lower, goal))
        return goal

    # ----- motion ---------------------------------------------------------------------------
    def advance(self, dt: float) -> None:
        """Integrate motion for ``dt`` seconds (position mode, trapezoidal velocity profile)."""
        if not self.torque_enabled:
            self.velocity = 0.0
            self.sync_registers()
            return
        vmax, accel = profile_limits(self.get("Acceleration"), self.get("Goal_Velocity"), self.max_velocity)
        goal = self.goal_ticks()
        steps = max(1, math.ceil(dt / _PHYSICS_STEP_S))
        h = dt / steps
        for _ in range(steps):
            self.position, self.velocity = motion_profile(self.position, self.velocity, goal, vmax, accel, h)
        self.sync_registers()

    def sync_registers(self) -> None:
        self.set("Present_Position", self.present_ticks())
        self.set("Present_Velocity", int(round(self.velocity)))
        self.set("Moving", int(abs(self.velocity) > 0.5))
        self.set("Present_Load", self.load)
        self.set("Present_Current", self.current)
        self.set("Status", self.error_bits)


class World(Protocol):
    """What moves the servos' shafts (so100_driver.worlds names them)."""

    name: str
    step_every_s: float  # > 0: behind a pty, step in a thread of its own this often (a costly world)

    def place(self, servos: dict[int, EmulatedServo]) -> None:
        """Start at the servos' present positions."""

    def advance(self, servos: dict[int, EmulatedServo], dt: float) -> None:
        """Move for ``dt`` seconds under the servos' registers; update their position, velocity, load
        and current."""

    def holding_error_ticks(self, p_coefficient: float) -> list[float]:
        """Per servo (id order), the largest steady error holding the present pose at this P gain."""


class KinematicWorld:
    """Each servo follows its motion profile exactly: no mass, no gravity, no contact."""

    name = "kinematic"
    step_every_s = 0.0  # cheap: stepped on each transaction

    def place(self, servos: dict[int, EmulatedServo]) -> None:
        """Nothing to place: the servos' positions are the world's state."""

    def advance(self, servos: dict[int, EmulatedServo], dt: float) -> None:
        for servo in servos.values():
            servo.advance(dt)

    def holding_error_ticks(self, p_coefficient: float) -> list[float]:
        """None: a kinematic servo lands exactly on its goal."""
        return [0.0] * len(MOTOR_IDS)


@dataclass
class Faults:
    """Pending fault injections, consumed reply by reply (``None`` id means any motor)."""

    drop: list[int | None] = field(default_factory=list)
    corrupt: list[int | None] = field(default_factory=list)
    late: list[tuple[int | None, float]] = field(default_factory=list)
    garbage: bytes = b""
    vanished_until: dict[int, float] = field(default_factory=dict)

    @staticmethod
    def take(queue: list[int | None], motor_id: int) -> bool:
        for i, target in enumerate(queue):
            if target is None or target == motor_id:
                del queue[i]
                return True
        return False


class ServoBusEmulator:
    """N emulated servos on one pty (or loopback socket), served by a background thread."""

    def __init__(self, servos: list[EmulatedServo], link: str | Path | None = None, baudrate: int | None = None,
                 world: World | None = None, transport: str = "pty"):
        """``baudrate``: when set, delay each reply by its transmission time at that rate. ``world``:
        what moves the servos (default the kinematic one); it starts at the servos' positions.
        ``transport``: "pty" (a tty, linked at ``link`` if given) or "socket" (no link)."""
        if transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}, got {transport!r}")
        if transport == "socket" and link:
            raise ValueError("a link names a pty: the socket transport has none")
        self.transport = transport
        self.servos = {servo.motor_id: servo for servo in servos}
        self.world: World = world or KinematicWorld()
        self.world.place(self.servos)
        self.pacing = WallClockPacing()
        self.link = Path(link) if link else None
        self.baudrate = baudrate
        self.faults = Faults()
        self.lock = threading.RLock()
        self.instructions_served = 0
        self.bytes_received = 0
        self.bytes_sent = 0
        # While a list: every SYNC_WRITE of Goal_Position, as (monotonic time, {motor id: ticks}): what
        # reached the servos (the fault campaign checks it against the guard's envelope).
        self.goal_writes: list[tuple[float, dict[int, int]]] | None = None
        self._master = -1  # the pty's master side, or the connected client's socket
        self._slave = -1
        self._listener: socket.socket | None = None  # socket transport: where clients connect
        self._client: socket.socket | None = None
        self._stop_r, self._stop_w = -1, -1
        self._thread: threading.Thread | None = None
        self._stepper: threading.Thread | None = None  # the world's own stepping thread, if any
        self._stepping = threading.Event()
        self.scheduling = Scheduling("SCHED_OTHER", 0, "realtime not requested")  # its threads' (serve_realtime)
        self._last_advance = time.monotonic()
        self._decoder = PacketDecoder()

    @classmethod
    def for_arm(
        cls,
        calibration: Calibration | None = None,
        link: str | Path | None = None,
        positions: dict[str, float] | None = None,
        baudrate: int | None = None,
        world: World | None = None,
        transport: str = "pty",
    ) -> ServoBusEmulator:
        """The six SO-100 servos, already calibrated with ``calibration`` (if given).

        ``positions`` are Present_Position ticks by joint name; the default is each joint's
        calibrated midpoint (or 2048 uncalibrated).
        """
        servos = []
        for name in JOINT_NAMES:
            servo = EmulatedServo(MOTOR_IDS[name])
            if calibration is not None:
                motor = calibration.motors[name]
                servo.set("Homing_Offset", motor.homing_offset)
                servo.set("Min_Position_Limit", motor.range_min)
                servo.set("Max_Position_Limit", motor.range_max)
                servo.position = motor.midpoint
            if positions and name in positions:
                servo.position = float(positions[name])
            servo.sync_registers()
            servo.set("Goal_Position", servo.present_ticks())
            servos.append(servo)
        return cls(servos, link=link, baudrate=baudrate, world=world, transport=transport)

    # ----- lifecycle ------------------------------------------------------------------------
    @property
    def port(self) -> str:
        """What a client opens: the link if one was asked for, else the pty's slave name; with the socket
        transport the URL `socket://127.0.0.1:PORT` (for `serial.serial_for_url`)."""
        if self._listener is not None:
            host, port = self._listener.getsockname()
            return f"socket://{host}:{port}"
        if self._slave < 0:
            raise RuntimeError("emulator is not started")
        return str(self.link) if self.link else os.ttyname(self._slave)

    def start(self, step_every_s: float | None = None) -> ServoBusEmulator:
        """Serve the pty. `step_every_s` > 0 (default: the world's `step_every_s`, 0 for the kinematic
        one): a thread of its own brings the world up to the wall clock that often, and transactions
        answer from the latest state (as a servo samples its encoder on its own clock) instead of
        stepping the world first: replies stay prompt under a costly world."""
        if step_every_s is None:
            step_every_s = self.world.step_every_s
        if self.transport == "socket":
            self._listener = socket.create_server(("127.0.0.1", 0), backlog=1)
        else:
            self._master, self._slave = os.openpty()
            tty.setraw(self._slave)
        if self.link:
            if self.link.is_symlink() or self.link.exists():
                self.link.unlink()
            self.link.symlink_to(os.ttyname(self._slave))
        self._stop_r, self._stop_w = os.pipe()
        self._last_advance = time.monotonic()
        self._thread = threading.Thread(target=self._serve, name="bus-emulator", daemon=True)
        self._thread.start()
        if step_every_s > 0:
            self._stepping = threading.Event()
            self._stepper = threading.Thread(target=self._step_continuously, args=(step_every_s,),
                                             name="world-stepper", daemon=True)
            self._stepper.start()
        return self

    def native_thread_ids(self) -> list[int]:
        """The OS ids of the emulator's threads (serving, and stepping if any): for real-time scheduling."""
        return [t.native_id for t in (self._thread, self._stepper) if t is not None and t.native_id is not None]

    def serve_realtime(self, priority: int = BUS_PRIORITY) -> Scheduling:
        """Put the emulator's threads under SCHED_FIFO at `priority` when permitted (normal scheduling if
        not): the bus stands in for servo hardware, which answers whatever the host's load. Call after
        `start`; what they got is also kept in `scheduling` (for logs and diagnostics)."""
        got = [request_realtime(priority, tid) for tid in self.native_thread_ids()]
        refused = [g for g in got if g.policy != "SCHED_FIFO"]
        self.scheduling = (refused[0] if refused else got[0] if got
                           else Scheduling("SCHED_OTHER", 0, "emulator is not started"))
        return self.scheduling

    def _step_continuously(self, period_s: float) -> None:
        while not self._stepping.wait(period_s):
            self.catch_up()

    def stop(self) -> None:
        if self._stepper is not None:
            self._stepping.set()
            self._stepper.join(timeout=2.0)
            self._stepper = None
        if self._thread is not None:
            os.write(self._stop_w, b"x")
            self._thread.join(timeout=2.0)
            self._thread = None
        if self._client is not None:
            self._hang_up()
        for fd in (self._master, self._slave, self._stop_r, self._stop_w):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = self._stop_r = self._stop_w = -1
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self.link and self.link.is_symlink():
            self.link.unlink()

    def __enter__(self) -> ServoBusEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- fault injection (thread-safe) ----------------------------------------------------
    def drop_replies(self, count: int = 1, motor_id: int | None = None) -> None:
        with self.lock:
            self.faults.drop += [motor_id] * count

    def corrupt_replies(self, count: int = 1, motor_id: int | None = None) -> None:
        with self.lock:
            self.faults.corrupt += [motor_id] * count

    def delay_replies(self, delay_s: float, count: int = 1, motor_id: int | None = None) -> None:
        with self.lock:
            self.faults.late += [(motor_id, delay_s)] * count

    def inject_garbage(self, data: bytes) -> None:
        """Send these bytes just before the next reply."""
        with self.lock:
            self.faults.garbage += data

    def set_error_bits(self, motor_id: int, bits: int) -> None:
        with self.lock:
            self.servos[motor_id].error_bits = bits

    def vanish(self, duration_s: float, motor_ids: list[int] | None = None) -> None:
        """Servos drop off the bus (neither execute nor answer) for ``duration_s``; all if ``motor_ids`` is None."""
        until = time.monotonic() + duration_s
        with self.lock:
            for motor_id in motor_ids or list(self.servos):
                self.faults.vanished_until[motor_id] = until

    # ----- state access (thread-safe) -------------------------------------------------------
    def register(self, motor_id: int, name: str) -> int:
        with self.lock:
            self._advance_all()
            return self.servos[motor_id].get(name)

    def positions(self) -> dict[int, int]:
        with self.lock:
            self._advance_all()
            return {motor_id: servo.present_ticks() for motor_id, servo in self.servos.items()}

    def torque_enabled(self) -> dict[int, bool]:
        with self.lock:
            return {motor_id: servo.torque_enabled for motor_id, servo in self.servos.items()}

    def writes(self, register: str) -> dict[int, int]:
        """Client writes to `register` per motor id since the start (e.g. none to Goal_Position in a dry run)."""
        with self.lock:
            return {motor_id: servo.writes[register] for motor_id, servo in self.servos.items()}

    def torque_was_enabled(self) -> dict[int, bool]:
        """Per motor id: whether a client ever switched its torque on."""
        with self.lock:
            return {motor_id: servo.torque_was_enabled for motor_id, servo in self.servos.items()}

    # ----- serving --------------------------------------------------------------------------
    def _serve(self) -> None:
        while True:
            waiting_for_client = self._listener is not None and self._client is None
            source = self._listener.fileno() if waiting_for_client else self._master
            ready, _, _ = select.select([source, self._stop_r], [], [])
            if self._stop_r in ready:
                return
            if waiting_for_client:
                self._answer()
                continue
            try:
                data = os.read(self._master, 4096)
            except OSError:  # no client has the slave open right now
                if self._client is not None:
                    self._hang_up()
                    continue
                time.sleep(0.01)
                continue
            if not data and self._client is not None:  # the client closed its connection
                self._hang_up()
                continue
            self.bytes_received += len(data)
            for item in self._decoder.feed(data):
                if isinstance(item, Packet):
                    self._handle(item)

    def _answer(self) -> None:
        """Take the next client of the socket transport (one at a time, as on a serial line)."""
        self._client, _ = self._listener.accept()
        self._client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # a reply leaves at once
        self._master = self._client.fileno()
        self._decoder = PacketDecoder()

    def _hang_up(self) -> None:
        self._client.close()
        self._client, self._master = None, -1

    def advance(self, dt: float) -> None:
        """Step the world by ``dt`` seconds of simulated time (for callers that own time; a started
        emulator advances by the wall clock on every transaction)."""
        with self.lock:
            self.world.advance(self.servos, dt)

    def catch_up(self) -> None:
        """Bring the world up to the wall clock now (a started emulator does on every transaction); call
        with `lock` held to keep the state until it has been read."""
        with self.lock:
            self._advance_all()

    def _advance_all(self) -> None:
        """Bring the world up to the wall clock (at most `pacing`'s catch-up per call)."""
        now = time.monotonic()
        dt = self.pacing.due(now - self._last_advance)
        self._last_advance = now
        self.world.advance(self.servos, dt)
        self.pacing.advanced(dt, time.monotonic() - now)

    def _handle(self, packet: Packet) -> None:
        with self.lock:
            if self._stepper is None:
                self._advance_all()
            self.instructions_served += 1
            replies = self._execute(packet)
        for motor_id, frame in replies:
            self._send(motor_id, frame)

    def _execute(self, packet: Packet) -> list[tuple[int, bytes]]:
        """Apply one instruction; return the (motor id, status frame) replies due."""
        instruction, params, target = packet.code, packet.params, packet.motor_id
        now = time.monotonic()
        present = [m for m in self.servos if self.faults.vanished_until.get(m, 0.0) <= now]
        addressed = present if target == BROADCAST_ID else [target] if target in present else []
        if instruction == Instruction.PING:
            return [(m, self._status(m, b"")) for m in addressed]
        if instruction == Instruction.READ and len(params) == 2 and target != BROADCAST_ID:
            return [(m, self._status(m, self.servos[m].read(params[0], params[1]))) for m in addressed]
        if instruction == Instruction.WRITE and len(params) >= 2:
            for m in addressed:
                self.servos[m].write(params[0], params[1:])
            return [] if target == BROADCAST_ID else [(m, self._status(m, b"")) for m in addressed]
        if instruction == Instruction.SYNC_READ and len(params) >= 2 and target == BROADCAST_ID:
            address, size = params[0], params[1]
            return [(m, self._status(m, self.servos[m].read(address, size))) for m in params[2:] if m in present]
        if instruction == Instruction.SYNC_WRITE and len(params) >= 2 and target == BROADCAST_ID:
            address, size = params[0], params[1]
            body = params[2:]
            written = {}
            for start in range(0, len(body) - size, size + 1):
                motor_id = body[start]
                if motor_id in present:
                    self.servos[motor_id].write(address, body[start + 1 : start + 1 + size])
                    written[motor_id] = self.servos[motor_id].get("Goal_Position")
            if self.goal_writes is not None and address == _R["Goal_Position"].address and written:
                self.goal_writes.append((now, written))
        return []

    def _status(self, motor_id: int, data: bytes | None) -> bytes:
        servo = self.servos[motor_id]
        # An out-of-range read answers with no data, as an invalid request gets on the real servo.
        return encode_packet(motor_id, servo.error_bits, data or b"")

    def _send(self, motor_id: int, frame: bytes) -> None:
        with self.lock:
            faults = self.faults
            if Faults.take(faults.drop, motor_id):
                return
            if Faults.take(faults.corrupt, motor_id):
                frame = frame[:-1] + bytes(((frame[-1] + 1) & 0xFF,))
            delay = 0.0
            for i, (target, seconds) in enumerate(faults.late):
                if target is None or target == motor_id:
                    delay = seconds
                    del faults.late[i]
                    break
            garbage, faults.garbage = faults.garbage, b""
        if self.baudrate:
            delay += len(frame) * 10 / self.baudrate
        if delay:
            time.sleep(delay)
        out = garbage + frame
        if self._master < 0:  # the socket's client left
            return
        try:
            os.write(self._master, out)
        except OSError:
            if self._client is None:
                raise
            return  # the socket's client left while the reply was on its way: nobody reads it
        self.bytes_sent += len(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Emulate the six STS3215 servos of an SO-100 arm on a pty.")
    parser.add_argument("--link", required=True, help="path of the symlink to create to the pty (e.g. /tmp/so100)")
    parser.add_argument(
        "--calibration",
        help="lerobot-calibrate JSON to pre-load into the servos (default: uncalibrated factory state)",
    )
    parser.add_argument("--baudrate", type=int, default=0, help="emulate transmission time at this baud rate")
    parser.add_argument("--world", default="kinematic", help=f"what the servos move: {' | '.join(WORLD_NAMES)}")
    args = parser.parse_args(argv)
    calibration = load_calibration(args.calibration) if args.calibration else None
    try:
        world = make_world(args.world, calibration)
    except WorldUnavailable as exc:
        print(f"bus_emulator: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    emulator = ServoBusEmulator.for_arm(calibration, link=args.link, baudrate=args.baudrate or None, world=world)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with emulator:
        print(emulator.port, "->", os.path.realpath(emulator.port), f"bus threads {emulator.serve_realtime()}",
              flush=True)
        while not stop.wait(0.5):
            pass


if __name__ == "__main__":
    main()
