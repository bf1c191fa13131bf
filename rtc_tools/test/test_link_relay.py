"""The relay's link model and packet handling, without namespaces: profiles, delay and loss draws,
the far side's MAC, and checksums completed as an interface would."""
from __future__ import annotations

import socket
import struct

import numpy as np
import pytest
from rtc_tools.link_relay import Link, LinkProfile, destination_mac, with_checksum


@pytest.mark.parametrize("text, profile", [
    ("none", LinkProfile()),
    ("5", LinkProfile(5.0)),
    ("20+-5/1", LinkProfile(20.0, 5.0, 1.0)),
    ("50+-20/2", LinkProfile(50.0, 20.0, 2.0)),
    ("0.5/10", LinkProfile(0.5, 0.0, 10.0)),
])
def test_profiles_parse_and_name_themselves(text, profile):
    assert LinkProfile.parse(text) == profile
    assert LinkProfile.parse(profile.name) == profile


@pytest.mark.parametrize("text", ["", "fast", "20+-", "5+-10", "20/100", "-5"])
def test_bad_profiles_are_refused(text):
    with pytest.raises(ValueError, match="link profile"):
        LinkProfile.parse(text)


def test_the_link_delays_within_the_jitter_and_loses_the_given_share():
    link = Link(LinkProfile(20.0, 5.0, 1.0), seed=3)
    holds = [link.hold_s() for _ in range(50_000)]
    kept = np.array([h for h in holds if h is not None])
    assert 0.008 < 1 - len(kept) / len(holds) < 0.012
    assert kept.min() >= 0.015 and kept.max() <= 0.025 and abs(kept.mean() - 0.020) < 0.0002
    again = Link(LinkProfile(20.0, 5.0, 1.0), seed=3)
    assert [again.hold_s() for _ in range(100)] == holds[:100]  # the seed fixes the draws
    assert {Link(LinkProfile(), seed=0).hold_s() for _ in range(100)} == {0.0}


def test_multicast_goes_to_its_group_mac_and_unicast_to_the_host():
    host = bytes.fromhex("0a0b0c0d0e0f")
    header = bytearray(20)
    header[16:20] = socket.inet_aton("239.255.0.1")
    assert destination_mac(bytes(header), host) == bytes.fromhex("01005e7f0001")
    header[16:20] = socket.inet_aton("10.203.2.2")
    assert destination_mac(bytes(header), host) == host


def _udp_packet(payload: bytes, checksum: int) -> bytes:
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28 + len(payload), 1, 0, 64, 17, 0,
                     socket.inet_aton("10.203.1.2"), socket.inet_aton("10.203.2.2"))
    return ip + struct.pack("!HHHH", 7410, 7411, 8 + len(payload), checksum) + payload


def test_a_checksum_left_to_the_interface_is_completed_so_that_the_receiver_verifies_it():
    packet = with_checksum(_udp_packet(b"rtps data", 0x1234))
    pseudo = packet[12:20] + struct.pack("!BBH", 0, 17, len(packet) - 20)
    data = pseudo + packet[20:] + b"\0"  # odd length: padded as the receiver does
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    assert total == 0xFFFF  # the receiver's check: the sum over everything, checksum included
    assert packet[:20] == _udp_packet(b"rtps data", 0)[:20] and packet[28:] == b"rtps data"
