"""A lossy network link in user space: IPv4 packets between two interfaces, each one delayed, jittered
or dropped, and otherwise passed on unchanged.

    python -m rtc_tools.link_relay IFACE_A MAC_A IFACE_B MAC_B [--profile 20+-5/1] [--seed 0]

The relay runs in a network namespace between two hosts (see rtc_bringup.two_hosts) where the kernel
forwards nothing (ip_forward off): it reads every IPv4 packet that arrives on one interface through a
packet socket and sends the same bytes out of the other, to the MAC of the host there (MAC_A: the
host on IFACE_A's link); packets for the relay's own addresses stay there. Multicast goes to its
multicast MAC, so DDS discovery crosses too. Nothing in the packet is rewritten (addresses and TTL
stay as sent; a checksum the sender left to the interface, as veths do, is filled in as that
interface would), which is what `tc netem` would do on a kernel that has it; this kernel has no
`sch_netem`.

Link profiles (`LinkProfile.parse`): `none`, `DELAY_MS`, `DELAY_MS+-JITTER_MS` and either of these
with `/LOSS_PERCENT`, e.g. `20+-5/1`: each packet, in each direction, waits DELAY plus a uniform draw
in [-JITTER, +JITTER] ms (at least 0) and is lost with that probability, independently (as netem's
delay/jitter, packets may overtake one another).
"""
from __future__ import annotations

import argparse
import fcntl
import heapq
import ipaddress
import random
import re
import select
import socket
import struct
import sys
import time
from dataclasses import dataclass

from rtc_runtime.node_main import stop_on_signals

ETH_P_IP = 0x0800
PACKET_OUTGOING = 4  # sockaddr_ll.sll_pkttype of a packet this namespace sent
SOL_PACKET, PACKET_AUXDATA = 263, 8
SIOCGIFADDR = 0x8915
TP_STATUS_CSUMNOTREADY = 8  # tpacket_auxdata.tp_status: the sender left the checksum to the "NIC"
_PROFILE = re.compile(r"^(?P<delay>\d+(\.\d+)?)(\+-(?P<jitter>\d+(\.\d+)?))?(/(?P<loss>\d+(\.\d+)?))?$")


@dataclass(frozen=True)
class LinkProfile:
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    loss_percent: float = 0.0

    @classmethod
    def parse(cls, text: str) -> LinkProfile:
        """`none`, `5`, `20+-5/1` (delay ms, jitter ms, loss percent)."""
        if text.strip() == "none":
            return cls()
        match = _PROFILE.match(text.strip())
        if not match:
            raise ValueError(f"link profile {text!r} is not none, DELAY_MS, DELAY_MS+-JITTER_MS[/LOSS_PERCENT]")
        profile = cls(float(match["delay"]), float(match["jitter"] or 0), float(match["loss"] or 0))
        if profile.jitter_ms > profile.delay_ms:
            raise ValueError(f"link profile {text!r}: jitter larger than the delay")
        if profile.loss_percent >= 100:
            raise ValueError(f"link profile {text!r}: loss must be below 100 %")
        return profile

    @property
    def name(self) -> str:
        if self == LinkProfile():
            return "none"
        text = f"{self.delay_ms:g}" + (f"+-{self.jitter_ms:g}" if self.jitter_ms else "")
        return text + (f"/{self.loss_percent:g}" if self.loss_percent else "")


class Link:
    """The link's decision per packet: the seconds it is held, or None when it is lost."""

    def __init__(self, profile: LinkProfile, seed: int) -> None:
        self.profile = profile
        self._random = random.Random(seed)

    def hold_s(self) -> float | None:
        p = self.profile
        if p.loss_percent and self._random.random() * 100.0 < p.loss_percent:
            return None
        jitter = self._random.uniform(-p.jitter_ms, p.jitter_ms) if p.jitter_ms else 0.0
        return max(0.0, p.delay_ms + jitter) / 1000.0


def destination_mac(packet: bytes, host_mac: bytes) -> bytes:
    """The MAC an IPv4 packet goes to on the far link: its multicast MAC (01:00:5e and the low 23
    bits of the group) or the host's."""
    destination = ipaddress.IPv4Address(packet[16:20])
    if destination.is_multicast:
        low = int(destination) & 0x7FFFFF
        return bytes((0x01, 0x00, 0x5E, low >> 16, (low >> 8) & 0xFF, low & 0xFF))
    return host_mac


def _ones_complement_sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def with_checksum(packet: bytes) -> bytes:
    """A UDP or TCP packet whose checksum the sending kernel left to the interface (veths offload it,
    and a packet socket sees it before): the checksum computed, as the interface would have."""
    header = (packet[0] & 0x0F) * 4
    protocol = packet[9]
    offset = {17: 6, 6: 16}.get(protocol)
    if offset is None:
        return packet
    segment = bytearray(packet[header:])
    segment[offset:offset + 2] = b"\0\0"
    pseudo = packet[12:20] + struct.pack("!BBH", 0, protocol, len(segment))
    checksum = 0xFFFF - _ones_complement_sum(pseudo + bytes(segment))
    if protocol == 17 and checksum == 0:
        checksum = 0xFFFF
    segment[offset:offset + 2] = struct.pack("!H", checksum)
    return packet[:header] + bytes(segment)


def parse_mac(text: str) -> bytes:
    parts = text.split(":")
    if len(parts) != 6:
        raise ValueError(f"{text!r} is not a MAC address")
    return bytes(int(p, 16) for p in parts)


def interface_address(sock: socket.socket, interface: str) -> bytes:
    """The IPv4 address of an interface of this namespace (4 bytes)."""
    request = struct.pack("256s", interface.encode()[:15])
    return fcntl.ioctl(sock.fileno(), SIOCGIFADDR, request)[20:24]


def relay(interface_a: str, mac_a: bytes, interface_b: str, mac_b: bytes, link: Link) -> None:
    """Forward until SIGTERM/SIGINT; each direction draws from the same link."""
    sockets = {}
    for name in (interface_a, interface_b):
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
        sock.bind((name, ETH_P_IP))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
        sockets[name] = sock
    own = {interface_address(s, name) for name, s in sockets.items()}  # for this namespace, not the far side
    far = {interface_a: (interface_b, mac_b), interface_b: (interface_a, mac_a)}
    held: list[tuple[float, int, str, bytes, bytes]] = []  # (release time, order, interface, mac, packet)
    order = 0
    stop = stop_on_signals()
    by_fd = {s.fileno(): name for name, s in sockets.items()}
    while not stop.is_set():
        timeout = max(0.0, held[0][0] - time.monotonic()) if held else 0.1
        try:
            ready, _, _ = select.select(list(sockets.values()), [], [], timeout)
        except InterruptedError:
            continue
        now = time.monotonic()
        for sock in ready:
            packet, ancillary, _flags, address = sock.recvmsg(65536, socket.CMSG_SPACE(20))
            if address[2] == PACKET_OUTGOING or len(packet) < 20 or packet[16:20] in own:
                continue
            for level, kind, data in ancillary:
                if level == SOL_PACKET and kind == PACKET_AUXDATA and \
                        struct.unpack_from("I", data)[0] & TP_STATUS_CSUMNOTREADY:
                    packet = with_checksum(packet)
            hold = link.hold_s()
            if hold is None:
                continue
            out, host_mac = far[by_fd[sock.fileno()]]
            heapq.heappush(held, (now + hold, order, out, destination_mac(packet, host_mac), packet))
            order += 1
        now = time.monotonic()
        while held and held[0][0] <= now:
            _, _, out, mac, packet = heapq.heappop(held)
            try:
                sockets[out].sendto(packet, (out, ETH_P_IP, 0, 0, mac))
            except OSError as exc:  # a full queue loses the packet, as a link would
                print(f"link_relay: {out}: {exc.strerror}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="link_relay", description=__doc__.split("\n\n")[0])
    parser.add_argument("interface_a")
    parser.add_argument("mac_a", help="MAC of the host on interface_a's link")
    parser.add_argument("interface_b")
    parser.add_argument("mac_b", help="MAC of the host on interface_b's link")
    parser.add_argument("--profile", default="none", help="none | DELAY_MS[+-JITTER_MS][/LOSS_PERCENT]")
    parser.add_argument("--seed", type=int, default=0, help="seeds the delay and loss draws")
    args = parser.parse_args(argv)
    try:
        link = Link(LinkProfile.parse(args.profile), args.seed)
        macs = parse_mac(args.mac_a), parse_mac(args.mac_b)
    except ValueError as exc:
        print(f"link_relay: {exc}", file=sys.stderr)
        return 2
    print(f"link_relay: {args.interface_a} <-> {args.interface_b}, profile {link.profile.name}", flush=True)
    relay(args.interface_a, macs[0], args.interface_b, macs[1], link)
    return 0


if __name__ == "__main__":
    sys.exit(main())
