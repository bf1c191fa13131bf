"""A Feetech STS bus over pyserial: transactions with timeouts, bounded retries and resync.

One transaction = flush stale input, write one instruction packet, collect the status packets
it calls for (none for broadcast writes and SYNC_WRITE, one per listed id for SYNC_READ).
A missing, corrupt or malformed reply fails the attempt; the whole transaction is retried up
to ``retries`` times, then a :class:`BusError` names the motor(s), the register and what was
received. Servo error bits in a valid reply are not a transport failure: they are returned in
:class:`Reply` for the caller to report.
"""

from __future__ import annotations

import select
import socket
import time
from dataclasses import dataclass, field

import serial

from .protocol import BROADCAST_ID, ChecksumMismatch, Instruction, Packet, PacketDecoder, encode_packet
from .registers import Register

DEFAULT_BAUDRATE = 1_000_000
_MAX_SHOWN_BYTES = 48


class BusError(Exception):
    """Base of every error the bus raises."""


class BusTimeout(BusError):
    """Expected status packet(s) did not arrive within the timeout on any attempt."""


class BusCorruption(BusError):
    """Status packet(s) arrived but were corrupt or malformed on every attempt."""


class BusPortError(BusError):
    """The serial port itself failed (unplugged, closed, permission): not worth retrying."""


@dataclass(frozen=True)
class Reply:
    motor_id: int
    error: int
    data: bytes


@dataclass
class BusStats:
    """Counters since the bus was opened; the node publishes them as diagnostics."""

    transactions: int = 0
    failed_transactions: int = 0
    retries: int = 0
    timeouts: int = 0
    checksum_errors: int = 0
    malformed_replies: int = 0
    unexpected_packets: int = 0
    servo_error_replies: int = 0
    bytes_written: int = 0
    bytes_read: int = 0
    last_error: str = ""
    servo_errors: dict[int, int] = field(default_factory=dict)


class FeetechBus:
    """Client side of the bus. Not thread-safe: one owner thread does all transactions."""

    def __init__(
        self,
        port: str,
        baudrate: int = DEFAULT_BAUDRATE,
        timeout_s: float = 0.01,
        retries: int = 2,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError(f"bus timeout must be positive, got {timeout_s}")
        if retries < 0:
            raise ValueError(f"bus retries must be >= 0, got {retries}")
        self.port = port
        self.baudrate = baudrate
        self.timeout_s = timeout_s
        self.retries = retries
        self.stats = BusStats()
        self._decoder = PacketDecoder()
        self._serial: serial.SerialBase | None = None

    # ----- port -----------------------------------------------------------------------------
    def open(self) -> None:
        try:
            # A device path opens the serial port; a pyserial URL (socket://HOST:PORT) the emulator's socket.
            self._serial = serial.serial_for_url(self.port, self.baudrate, timeout=0,
                                                 write_timeout=self.timeout_s * 10)
            if self.port.startswith("socket://"):
                # A request goes out at once: Nagle's algorithm would hold a request that follows one
                # with no reply (SYNC_WRITE) until the peer's delayed ACK, tens of ms later.
                with socket.fromfd(self._serial.fileno(), socket.AF_INET, socket.SOCK_STREAM) as same:
                    same.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (serial.SerialException, OSError) as exc:
            raise BusPortError(f"cannot open serial port {self.port} at {self.baudrate} baud: {exc}") from exc

    def close(self) -> None:
        if self._serial is not None:
            self._serial.close()
            self._serial = None

    def __enter__(self) -> FeetechBus:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    # ----- instructions ---------------------------------------------------------------------
    def ping(self, motor_id: int) -> Reply:
        packet = encode_packet(motor_id, Instruction.PING)
        return self._transact(packet, [motor_id], 0, f"PING to motor {motor_id}")[motor_id]

    def read_block(self, motor_id: int, address: int, size: int, what: str = "") -> Reply:
        packet = encode_packet(motor_id, Instruction.READ, bytes((address, size)))
        label = f"READ {what or 'block'} (addr {address}, {size} bytes) from motor {motor_id}"
        return self._transact(packet, [motor_id], size, label)[motor_id]

    def read(self, motor_id: int, reg: Register) -> int:
        reply = self.read_block(motor_id, reg.address, reg.size, reg.name)
        return reg.decode(reply.data)

    def write(self, motor_id: int, reg: Register, value: int) -> Reply | None:
        """Write one register; waits for the status packet unless ``motor_id`` is broadcast."""
        packet = encode_packet(motor_id, Instruction.WRITE, bytes((reg.address,)) + reg.encode(value))
        expect = [] if motor_id == BROADCAST_ID else [motor_id]
        replies = self._transact(packet, expect, 0, f"WRITE {reg.name}={value} to motor {motor_id}")
        return replies.get(motor_id)

    def sync_read_block(self, address: int, size: int, motor_ids: list[int], what: str = "") -> dict[int, Reply]:
        params = bytes((address, size)) + bytes(motor_ids)
        packet = encode_packet(BROADCAST_ID, Instruction.SYNC_READ, params)
        label = f"SYNC_READ {what or 'block'} (addr {address}, {size} bytes) from motors {motor_ids}"
        return self._transact(packet, list(motor_ids), size, label)

    def sync_read(self, reg: Register, motor_ids: list[int]) -> dict[int, int]:
        replies = self.sync_read_block(reg.address, reg.size, motor_ids, reg.name)
        return {motor_id: reg.decode(reply.data) for motor_id, reply in replies.items()}

    def sync_write(self, reg: Register, values: dict[int, int]) -> None:
        params = bytearray((reg.address, reg.size))
        for motor_id, value in values.items():
            params.append(motor_id)
            params += reg.encode(value)
        packet = encode_packet(BROADCAST_ID, Instruction.SYNC_WRITE, bytes(params))
        self._transact(packet, [], 0, f"SYNC_WRITE {reg.name} to motors {list(values)}")

    # ----- transaction core -----------------------------------------------------------------
    def _transact(self, packet: bytes, expect: list[int], size: int | None, what: str) -> dict[int, Reply]:
        stats = self.stats
        stats.transactions += 1
        failure = ""
        failure_kind: type[BusError] = BusTimeout
        for attempt in range(1 + self.retries):
            if attempt:
                stats.retries += 1
            replies, received, failure, failure_kind = self._attempt(packet, expect, size)
            if not failure:
                return replies
            if failure_kind is BusTimeout:
                self._drain_late_replies()
            shown = received[:_MAX_SHOWN_BYTES].hex(" ") or "nothing"
            if len(received) > _MAX_SHOWN_BYTES:
                shown += " ..."
            failure = f"{failure}; received {len(received)} byte(s): {shown}"
        stats.failed_transactions += 1
        message = f"{what}: {failure} (after {1 + self.retries} attempt(s), timeout {self.timeout_s * 1e3:.1f} ms)"
        stats.last_error = message
        raise failure_kind(message)

    def _attempt(
        self, packet: bytes, expect: list[int], size: int | None
    ) -> tuple[dict[int, Reply], bytes, str, type[BusError]]:
        port = self._require_port()
        stats = self.stats
        try:
            port.reset_input_buffer()
            self._decoder.clear()
            stats.bytes_written += port.write(packet) or 0
        except (serial.SerialException, OSError) as exc:
            raise BusPortError(f"serial port {self.port} failed while writing: {exc}") from exc
        replies: dict[int, Reply] = {}
        if not expect:
            return replies, b"", "", BusTimeout
        pending = set(expect)
        corrupt: dict[int, str] = {}
        wrong_size: dict[int, str] = {}
        received = bytearray()
        deadline = time.monotonic() + self.timeout_s
        while pending - corrupt.keys():
            # Past the deadline, one last look without waiting: a reply that came in time is not lost
            # because this thread was scheduled late (a loaded machine).
            remaining = deadline - time.monotonic()
            chunk = self._read_available(port, max(0.0, remaining))
            received += chunk
            for item in self._decoder.feed(chunk):
                if isinstance(item, ChecksumMismatch):
                    stats.checksum_errors += 1
                    if item.motor_id in pending:
                        corrupt[item.motor_id] = item.describe()
                    continue
                self._accept(item, pending, corrupt, wrong_size, replies, size)
            if remaining <= 0:
                break
        if not pending:
            return {m: replies[m] for m in expect}, bytes(received), "", BusTimeout
        missing = sorted(pending - corrupt.keys())
        parts = [f"motor {m}: {corrupt[m]}" for m in sorted(corrupt)]
        parts += [f"motor {m}: {wrong_size[m]}" for m in missing if m in wrong_size]
        if missing:
            stats.timeouts += 1
            parts.append(f"no reply from motor(s) {missing}")
        kind: type[BusError] = BusTimeout if missing else BusCorruption
        return replies, bytes(received), "; ".join(parts), kind

    def _accept(
        self, packet: Packet, pending: set[int], corrupt: dict[int, str], wrong_size: dict[int, str],
        replies: dict[int, Reply], size: int | None,
    ) -> None:
        stats = self.stats
        if packet.motor_id not in pending or packet.motor_id in corrupt:
            stats.unexpected_packets += 1
            return
        if size is not None and len(packet.params) != size:
            # Not the answer to this request (a late reply to an earlier one): keep waiting.
            stats.malformed_replies += 1
            wrong_size[packet.motor_id] = f"reply carries {len(packet.params)} data byte(s), expected {size}"
            return
        if packet.code:
            stats.servo_error_replies += 1
        stats.servo_errors[packet.motor_id] = packet.code
        pending.discard(packet.motor_id)
        replies[packet.motor_id] = Reply(packet.motor_id, packet.code, packet.params)

    def _drain_late_replies(self) -> None:
        """After an attempt gave up waiting, swallow the replies still on their way.

        A status packet names the servo but not the register it answers, so a late reply would
        otherwise be taken as the answer to the next request of that servo (a firmware version read
        as another register's value). Waits until the line has been quiet for one timeout, at most
        three timeouts in all.
        """
        port = self._require_port()
        end = time.monotonic() + 3 * self.timeout_s
        while (left := end - time.monotonic()) > 0 and self._read_available(port, min(self.timeout_s, left)):
            pass

    def _read_available(self, port: serial.SerialBase, timeout_s: float) -> bytes:
        try:
            ready, _, _ = select.select([port.fileno()], [], [], timeout_s)
            if not ready:
                return b""
            data = port.read(max(1, port.in_waiting))
        except (serial.SerialException, OSError, ValueError) as exc:
            raise BusPortError(f"serial port {self.port} failed while reading: {exc}") from exc
        self.stats.bytes_read += len(data)
        return data

    def _require_port(self) -> serial.SerialBase:
        if self._serial is None:
            raise BusPortError(f"serial port {self.port} is not open")
        return self._serial
