"""Feetech protocol 0 (STS/SMS series) framing: packets, checksum, instructions, status errors.

Every packet on the wire, in either direction, is::

    0xFF 0xFF  ID  LENGTH  CODE  PARAM...  CHECKSUM

LENGTH counts CODE, the parameters and CHECKSUM (so it is ``len(params) + 2``). CODE is the
instruction in a packet to a servo and the error bits in a status packet from a servo.
CHECKSUM is the inverted low byte of the sum of ID, LENGTH, CODE and the parameters.
Multi-byte values are little-endian.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, IntFlag

HEADER = b"\xff\xff"
BROADCAST_ID = 0xFE
MAX_LENGTH = 250  # the largest LENGTH byte accepted, as in the vendor SDK
MIN_LENGTH = 2
MAX_PACKET_SIZE = 4 + MAX_LENGTH  # header, id, length byte, then LENGTH bytes


class Instruction(IntEnum):
    PING = 0x01
    READ = 0x02
    WRITE = 0x03
    REG_WRITE = 0x04
    ACTION = 0x05
    SYNC_READ = 0x82
    SYNC_WRITE = 0x83


class StatusError(IntFlag):
    """Error bits in a status packet (STS3215 manual, as in the vendor SDK)."""

    VOLTAGE = 0x01
    ANGLE = 0x02
    OVERHEAT = 0x04
    OVERCURRENT = 0x08
    OVERLOAD = 0x20


def describe_error_bits(bits: int) -> str:
    """Human-readable error bits, e.g. 'OVERHEAT|OVERLOAD' or '0x40' for undocumented bits."""
    known = [flag.name for flag in StatusError if bits & flag and flag.name]
    unknown = bits & ~sum(StatusError)
    if unknown:
        known.append(f"0x{unknown:02x}")
    return "|".join(known) if known else "none"


def checksum(body: bytes | bytearray) -> int:
    """Checksum of ID, LENGTH, CODE and parameters."""
    return ~sum(body) & 0xFF


def encode_packet(motor_id: int, code: int, params: bytes = b"") -> bytes:
    """Frame one packet (instruction or status: the layout is the same)."""
    if not 0 <= motor_id <= BROADCAST_ID:
        raise ValueError(f"motor id {motor_id} is outside 0..{BROADCAST_ID}")
    if not 0 <= code <= 0xFF:
        raise ValueError(f"packet code {code} does not fit one byte")
    length = len(params) + 2
    if length > MAX_LENGTH:
        raise ValueError(f"packet with {len(params)} parameter bytes exceeds the {MAX_LENGTH}-byte limit")
    body = bytes((motor_id, length, code)) + bytes(params)
    return HEADER + body + bytes((checksum(body),))


@dataclass(frozen=True)
class Packet:
    """A decoded packet. ``code`` is the instruction (to a servo) or the error bits (from one)."""

    motor_id: int
    code: int
    params: bytes

    @property
    def wire_size(self) -> int:
        return 6 + len(self.params)


@dataclass(frozen=True)
class ChecksumMismatch:
    """A complete frame whose checksum is wrong (the frame's bytes are kept for error messages)."""

    motor_id: int
    frame: bytes
    expected: int

    def describe(self) -> str:
        return (
            f"checksum 0x{self.frame[-1]:02x} != expected 0x{self.expected:02x} "
            f"in frame {self.frame.hex(' ')}"
        )


class PacketDecoder:
    """Incremental frame decoder that resynchronises on garbage.

    Bytes that cannot start a valid frame are skipped up to the next 0xFF 0xFF header. A frame
    with a bad checksum is reported and scanning resumes one byte after its header, so a real
    packet hidden behind a false header is still found. The buffer never holds more than one
    maximal frame plus the bytes of the last ``feed``.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.discarded_bytes = 0

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def clear(self) -> None:
        self.discarded_bytes += len(self._buffer)
        self._buffer.clear()

    def feed(self, data: bytes | bytearray) -> list[Packet | ChecksumMismatch]:
        """Add received bytes; return every complete frame now available, in order."""
        self._buffer += data
        out: list[Packet | ChecksumMismatch] = []
        buf = self._buffer
        while True:
            start = buf.find(HEADER)
            if start < 0:
                # Keep a trailing 0xFF: it may be the first half of the next header.
                keep = 1 if buf[-1:] == b"\xff" else 0
                self._discard(len(buf) - keep)
                return out
            self._discard(start)
            if len(buf) < 4:
                return out
            motor_id, length = buf[2], buf[3]
            if motor_id > BROADCAST_ID or not MIN_LENGTH <= length <= MAX_LENGTH:
                self._discard(1)
                continue
            size = 4 + length
            if len(buf) < size:
                return out
            frame = bytes(buf[:size])
            expected = checksum(frame[2:-1])
            if frame[-1] == expected:
                out.append(Packet(motor_id, frame[4], frame[5:-1]))
                del buf[:size]
            else:
                out.append(ChecksumMismatch(motor_id, frame, expected))
                self._discard(1)

    def _discard(self, count: int) -> None:
        if count > 0:
            del self._buffer[:count]
            self.discarded_bytes += count
