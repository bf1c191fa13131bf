"""The control-loop processes' DDS transport: UDP only, discovery as the graph's range says."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from rtc_bringup.control_loop_transport import PROFILE_FILE_NAME, control_loop_transport

NS = {"dds": "http://www.eprosima.com"}
RANGE = "ROS_AUTOMATIC_DISCOVERY_RANGE"


def _peers(xml: str) -> list[str]:
    root = ET.fromstring(xml)
    return [a.text for a in root.findall(".//dds:initialPeersList/dds:locator/dds:udpv4/dds:address", NS)]


def test_localhost_gets_a_udp_only_profile_that_discovers_as_localhost_does(tmp_path):
    got = control_loop_transport("udp", {RANGE: "LOCALHOST", "ROS_STATIC_PEERS": "127.0.0.2; localhost"})
    env = got.environment(tmp_path)
    # rmw_fastrtps adds shared memory in LOCALHOST, so the range goes to the profile's hands
    assert env[RANGE] == "SYSTEM_DEFAULT"
    profile = tmp_path / PROFILE_FILE_NAME
    assert env["FASTDDS_DEFAULT_PROFILES_FILE"] == str(profile)
    root = ET.fromstring(profile.read_text())
    assert [t.text for t in root.findall(".//dds:transport_descriptor/dds:type", NS)] == ["UDPv4"]
    assert root.find(".//dds:rtps/dds:useBuiltinTransports", NS).text == "false"
    assert root.find(".//dds:participant", NS).get("is_default_profile") == "true"
    # this host and the static peers, resolved; no multicast discovery (a unicast metatraffic locator)
    assert _peers(profile.read_text()) == ["127.0.0.1", "127.0.0.2", "127.0.0.1"]
    assert root.find(".//dds:builtin/dds:metatrafficUnicastLocatorList/dds:locator/dds:udpv4", NS) is not None
    assert root.find(".//dds:builtin/dds:metatrafficMulticastLocatorList", NS) is None


def test_the_range_defaults_to_localhost():
    assert _peers(control_loop_transport("", {}).profile_xml) == ["127.0.0.1"]


@pytest.mark.parametrize("discovery", ["SUBNET", "SYSTEM_DEFAULT"])
def test_wider_ranges_switch_fast_dds_to_udp(tmp_path, discovery):
    got = control_loop_transport("udp", {RANGE: discovery})
    assert got.environment(tmp_path) == {"FASTDDS_BUILTIN_TRANSPORTS": "UDPv4"}
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("environ", [
    {RANGE: "OFF"},  # no other participant to talk to
    {RANGE: "LOCALHOST", "FASTDDS_DEFAULT_PROFILES_FILE": "/etc/mine.xml"},  # the user's profile rules
])
def test_nothing_changes_where_there_is_nothing_to_change(tmp_path, environ):
    assert control_loop_transport("udp", environ).environment(tmp_path) == {}


def test_default_keeps_rmw_fastrtps_transports(tmp_path):
    got = control_loop_transport("default", {RANGE: "LOCALHOST"})
    assert got.environment(tmp_path) == {}
    assert "default transports" in got.describe()


def test_bad_values_are_one_clear_error():
    with pytest.raises(ValueError, match="control_loop_transport:='tcp': expected one of udp, default"):
        control_loop_transport("tcp", {})
    with pytest.raises(ValueError, match="ROS_STATIC_PEERS: cannot resolve 'no-such-host.invalid'"):
        control_loop_transport("udp", {"ROS_STATIC_PEERS": "no-such-host.invalid"})
    # a peer that would close the XML element is an address lookup failure, not markup
    with pytest.raises(ValueError, match="cannot resolve"):
        control_loop_transport("udp", {"ROS_STATIC_PEERS": "</address><x>"})
