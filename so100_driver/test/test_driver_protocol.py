"""Feetech framing, register encoding, and the packet decoder under random and garbled streams."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from so100_driver.protocol import (
    MAX_PACKET_SIZE,
    ChecksumMismatch,
    Instruction,
    Packet,
    PacketDecoder,
    StatusError,
    checksum,
    describe_error_bits,
    encode_packet,
)
from so100_driver.registers import REGISTERS, decode_sign_magnitude, encode_sign_magnitude, register


def test_ping_packet_matches_the_manual() -> None:
    # Manual example: PING to id 1 is FF FF 01 02 01 FB.
    assert encode_packet(1, Instruction.PING) == bytes.fromhex("ffff010201fb")


def test_read_packet_and_checksum() -> None:
    # READ 2 bytes at 56 from id 1; checksum = ~(1 + 4 + 2 + 0x38 + 2) & 0xFF = 0xBE.
    assert encode_packet(1, Instruction.READ, bytes((56, 2))) == bytes.fromhex("ffff0104023802be")
    assert checksum(b"\x01\x04\x02\x38\x02") == 0xBE


def test_encode_rejects_bad_ids_and_sizes() -> None:
    with pytest.raises(ValueError, match="motor id 255"):
        encode_packet(255, Instruction.PING)
    with pytest.raises(ValueError, match="exceeds"):
        encode_packet(1, Instruction.WRITE, bytes(300))


def test_error_bits_description() -> None:
    assert describe_error_bits(StatusError.OVERHEAT | StatusError.OVERLOAD) == "OVERHEAT|OVERLOAD"
    assert describe_error_bits(0) == "none"
    assert describe_error_bits(0x40) == "0x40"


@pytest.mark.parametrize(("value", "bit", "raw"), [(5, 15, 5), (-5, 15, 0x8005), (-2047, 11, 0xFFF), (0, 11, 0)])
def test_sign_magnitude(value: int, bit: int, raw: int) -> None:
    assert encode_sign_magnitude(value, bit) == raw
    assert decode_sign_magnitude(raw, bit) == value


def test_register_round_trip_little_endian() -> None:
    goal = register("Goal_Position")
    assert goal.encode(0x0123) == b"\x23\x01"
    assert goal.decode(goal.encode(-1000)) == -1000
    homing = REGISTERS["Homing_Offset"]
    assert homing.decode(homing.encode(-1470)) == -1470
    with pytest.raises(ValueError, match="Homing_Offset"):
        homing.encode(5000)
    with pytest.raises(KeyError, match="unknown STS3215 register 'Nope'"):
        register("Nope")


def test_decoder_resyncs_after_garbage_and_bad_checksum() -> None:
    good = encode_packet(3, 0, b"\x10\x20")
    bad = bytearray(encode_packet(4, 0, b"\x01"))
    bad[-1] ^= 0xFF
    decoder = PacketDecoder()
    items = decoder.feed(b"\x00\x13\xff" + bytes(bad) + b"\xfe\xff" + good)
    assert isinstance(items[0], ChecksumMismatch) and items[0].motor_id == 4
    assert items[-1] == Packet(3, 0, b"\x10\x20")
    assert decoder.buffered == 0


def test_decoder_finds_packet_hidden_behind_false_header() -> None:
    # A false header claims a long frame; the real packet inside it must still be recovered.
    good = encode_packet(2, 0, b"\x05")
    decoder = PacketDecoder()
    items = decoder.feed(b"\xff\xff\x01\x0a" + good + bytes(4))
    assert Packet(2, 0, b"\x05") in items


def test_decoder_handles_byte_by_byte_input() -> None:
    stream = encode_packet(1, Instruction.PING) + encode_packet(6, 0x20, b"\x01\x02\x03")
    decoder = PacketDecoder()
    out = []
    for byte in stream:
        out += decoder.feed(bytes((byte,)))
    assert out == [Packet(1, Instruction.PING, b""), Packet(6, 0x20, b"\x01\x02\x03")]


_packets = st.builds(
    lambda motor_id, code, params: encode_packet(motor_id, code, params),
    st.integers(0, 0xFD),
    st.integers(0, 0xFF),
    st.binary(max_size=20),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=300), _packets), max_size=20), st.integers(1, 64))
def test_fuzz_decoder_only_documented_results_and_bounded(chunks: list[bytes], split: int) -> None:
    decoder = PacketDecoder()
    stream = b"".join(chunks)
    for start in range(0, len(stream), split):
        for item in decoder.feed(stream[start : start + split]):
            assert isinstance(item, (Packet, ChecksumMismatch))
        assert decoder.buffered < MAX_PACKET_SIZE + split


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.binary(max_size=40), _packets), min_size=1, max_size=10))
def test_fuzz_decoder_recovers_packets_after_garbage(pairs: list[tuple[bytes, bytes]]) -> None:
    """Garbage without headers before each valid packet never costs a packet."""
    decoder = PacketDecoder()
    found = []
    expected = []
    for garbage, packet in pairs:
        cleaned = garbage.replace(b"\xff", b"\x00")
        found += [i for i in decoder.feed(cleaned + packet) if isinstance(i, Packet)]
        expected.append(Packet(packet[2], packet[4], packet[5:-1]))
    for packet in expected:
        assert packet in found
