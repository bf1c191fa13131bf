"""The DDS transports of the control-loop processes (driver, executor): UDP only, no shared memory.

Why: Fast DDS's shared-memory transport delivers a sample by pushing it into each reader's port under
a mutex that lives in memory shared with the reader's process. A reader of normal priority (the
recorder, the Foxglove server, the policy node) that is preempted while it holds that mutex stalls the
writer, and here the writer is a SCHED_FIFO control thread that holds the GIL across the write: the
tick is late (docs/benchmarks.md, "What makes the control loops miss ticks"). Over UDP a write ends
in the kernel's socket buffer; nothing the writer waits for is held by another process.

rmw_fastrtps always adds shared memory in the LOCALHOST discovery range, so there the control-loop
processes get the range SYSTEM_DEFAULT and a Fast DDS profile that discovers as LOCALHOST does (no
multicast; peers: this host and ROS_STATIC_PEERS) over UDP alone. In the SUBNET and SYSTEM_DEFAULT
ranges Fast DDS's own switch does it (FASTDDS_BUILTIN_TRANSPORTS=UDPv4); OFF talks to no one. A
profile of the user's (FASTDDS_DEFAULT_PROFILES_FILE) is left alone, and `control_loop_transport:=
default` keeps rmw_fastrtps's transports. The other nodes keep shared memory (camera images).
No rclpy import: the runner and the launch file call it, tests read it as plain data.
"""
from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

__all__ = ["TRANSPORTS", "PROFILE_FILE_NAME", "ControlLoopTransport", "control_loop_transport", "udp_profile"]

TRANSPORTS = ("udp", "default")
PROFILE_FILE_NAME = "fastdds_control_loop_udp.xml"
PROFILE_VARIABLE = "FASTDDS_DEFAULT_PROFILES_FILE"
# Participants of this host that discovery tries (rmw_fastrtps's own figure for LOCALHOST)
MAX_INITIAL_PEERS_RANGE = 32


@dataclass(frozen=True)
class ControlLoopTransport:
    """What a control-loop process's environment gets on top of the graph's: variables, and a profile file."""

    env: dict[str, str] = field(default_factory=dict)
    profile_xml: str = ""  # written next to the parameter files; empty: none

    def environment(self, profile_dir: Path) -> dict[str, str]:
        """The variables, the profile written into `profile_dir` (the run's parameter directory)."""
        if not self.profile_xml:
            return dict(self.env)
        path = Path(profile_dir) / PROFILE_FILE_NAME
        path.write_text(self.profile_xml)
        return {**self.env, PROFILE_VARIABLE: str(path)}

    def describe(self) -> str:
        if self.profile_xml:
            return "control loops: DDS over UDP only (LOCALHOST discovery by a Fast DDS profile, no shared memory)"
        if self.env:
            return "control loops: DDS over UDP only (FASTDDS_BUILTIN_TRANSPORTS=UDPv4, no shared memory)"
        return "control loops: rmw_fastrtps's default transports"


def control_loop_transport(transport: str, environ: Mapping[str, str]) -> ControlLoopTransport:
    """The control-loop processes' transport for argument `control_loop_transport` and the nodes'
    environment `environ` (ROS_AUTOMATIC_DISCOVERY_RANGE already decided, as the runner and the launch
    file set it). Raises ValueError for an unknown value or a static peer that does not resolve."""
    value = (transport or "udp").strip().lower()
    if value not in TRANSPORTS:
        raise ValueError(f"argument control_loop_transport:={transport!r}: expected one of {', '.join(TRANSPORTS)}")
    if value == "default" or environ.get(PROFILE_VARIABLE):
        return ControlLoopTransport()
    discovery = environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST").strip().upper() or "LOCALHOST"
    if discovery == "LOCALHOST":
        peers = ["127.0.0.1", *resolve_peers(environ.get("ROS_STATIC_PEERS", ""))]
        return ControlLoopTransport({"ROS_AUTOMATIC_DISCOVERY_RANGE": "SYSTEM_DEFAULT"}, udp_profile(peers))
    if discovery in ("SUBNET", "SYSTEM_DEFAULT"):
        return ControlLoopTransport({"FASTDDS_BUILTIN_TRANSPORTS": "UDPv4"})
    return ControlLoopTransport()  # OFF: no other participant


def resolve_peers(text: str) -> list[str]:
    """ROS_STATIC_PEERS ("host;host;...") as IPv4 addresses, as rmw_fastrtps resolves them."""
    addresses = []
    for name in filter(None, (part.strip() for part in text.split(";"))):
        try:
            addresses.append(socket.gethostbyname(name))
        except OSError as exc:
            raise ValueError(f"ROS_STATIC_PEERS: cannot resolve {name!r} ({exc}); give an IPv4 address") from None
    return addresses


def udp_profile(peers: Sequence[str]) -> str:
    """A Fast DDS default participant profile: UDPv4 only, no multicast discovery, these initial peers."""
    locators = "\n".join(f"            <locator><udpv4><address>{escape(p)}</address></udpv4></locator>" for p in peers)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by rtc_bringup for the control-loop nodes: UDP only (rtc_bringup.control_loop_transport). -->
<dds xmlns="http://www.eprosima.com">
  <profiles>
    <transport_descriptors>
      <transport_descriptor>
        <transport_id>rtc_control_loop_udp</transport_id>
        <type>UDPv4</type>
        <maxInitialPeersRange>{MAX_INITIAL_PEERS_RANGE}</maxInitialPeersRange>
      </transport_descriptor>
    </transport_descriptors>
    <participant profile_name="rtc_control_loop" is_default_profile="true">
      <rtps>
        <useBuiltinTransports>false</useBuiltinTransports>
        <userTransports><transport_id>rtc_control_loop_udp</transport_id></userTransports>
        <builtin>
          <!-- a unicast metatraffic locator: no default multicast one (as rmw_fastrtps's LOCALHOST) -->
          <metatrafficUnicastLocatorList><locator><udpv4/></locator></metatrafficUnicastLocatorList>
          <initialPeersList>
{locators}
          </initialPeersList>
        </builtin>
      </rtps>
    </participant>
  </profiles>
</dds>
"""
