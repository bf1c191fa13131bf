"""Two hosts from network namespaces (rtc_bringup.two_hosts): datagrams, unicast and multicast, cross
the relay with the profile's delay, and everything made is gone afterwards, also when the setup
fails halfway. Needs root and iproute2."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest
from rtc_tools.link_relay import LinkProfile
from rtc_bringup.two_hosts import TwoHosts

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip"),
                                reason="network namespaces need root and iproute2")

RECEIVE = """
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", 7399))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, struct.pack("4s4s", socket.inet_aton("239.255.0.1"),
                                                                     socket.inet_aton("0.0.0.0")))
s.settimeout(5)
print("ready", flush=True)
for _ in range(2):
    data = s.recv(100)
    print(data.decode(), time.time() - float(data.split()[1]), flush=True)
"""
SEND = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for destination in sys.argv[1:]:
    s.sendto(f"{destination} {time.time()}".encode(), (destination, 7399))
"""


def namespaces() -> set[str]:
    return {line.split()[0] for line in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                                         text=True).stdout.splitlines() if line.strip()}


def test_unicast_and_multicast_cross_the_relay_late_and_nothing_is_left(tmp_path):
    before = namespaces()
    with TwoHosts(LinkProfile.parse("30"), tag=f"u{os.getpid() % 100000}", log_dir=tmp_path) as hosts:
        made = namespaces() - before
        assert made == {hosts.gpu, hosts.arm, hosts.link}
        receiver = subprocess.Popen(hosts.host_command(hosts.arm, [sys.executable, "-c", RECEIVE]),
                                    stdout=subprocess.PIPE, text=True)
        assert receiver.stdout.readline().strip() == "ready"
        time.sleep(0.5)  # the relay is up
        subprocess.run(hosts.host_command(hosts.gpu, [sys.executable, "-c", SEND, hosts.addresses[hosts.arm],
                                                      "239.255.0.1"]), check=True, timeout=10)
        out, _ = receiver.communicate(timeout=10)
        lines = dict(line.split(" ", 1) for line in out.splitlines())
        assert set(lines) == {hosts.addresses[hosts.arm], "239.255.0.1"}, out
        assert all(0.030 <= float(text.split()[1]) < 1.0 for text in lines.values()), out
        relay = hosts.relay
    assert namespaces() == before
    assert relay.poll() is not None


def test_a_failed_setup_removes_what_it_made_and_only_that(tmp_path):
    tag = f"f{os.getpid() % 100000}"
    taken = f"rtc_arm_{tag}"
    subprocess.run(["ip", "netns", "add", taken], check=True)
    try:
        before = namespaces()
        with pytest.raises(RuntimeError, match=taken):
            TwoHosts(LinkProfile(), tag=tag, log_dir=tmp_path)
        assert namespaces() == before  # the link and gpu namespaces it made are gone, the taken one stays
    finally:
        subprocess.run(["ip", "netns", "delete", taken], check=True)
