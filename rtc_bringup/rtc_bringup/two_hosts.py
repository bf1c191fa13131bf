"""Two hosts on one machine: network namespaces "gpu" and "arm", joined through a third, "link",
where rtc_tools.link_relay delays, jitters and drops packets (root only).

    gpu 10.203.1.2 --veth-- 10.203.1.1 link 10.203.2.1 --veth-- 10.203.2.2 arm

The link namespace forwards nothing itself (ip_forward 0); each host's default route points at the
link, whose relay passes every IPv4 packet, unicast or multicast, on to the other side unchanged.
`TwoHosts` creates it all under names that carry a per-run tag, and `close()` removes exactly what it
made (the relay by its PID, then the namespaces, which takes their veths along), also after a
failure halfway through the setup.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from rtc_tools.link_relay import LinkProfile

FAKETIME_LIBRARY = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")  # apt libfaketime
SUBNET = "10.203"  # 10.203.1.0/24: gpu side, 10.203.2.0/24: arm side


def _ip(*args: str) -> str:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


class TwoHosts:
    """The namespaces, veths and relay of one run; `host_command` runs a command on a host."""

    def __init__(self, profile: LinkProfile, tag: str | None = None, seed: int = 0,
                 log_dir: Path | None = None) -> None:
        tag = tag or str(os.getpid())
        self.gpu, self.arm, self.link = f"rtc_gpu_{tag}", f"rtc_arm_{tag}", f"rtc_link_{tag}"
        self.addresses = {self.gpu: f"{SUBNET}.1.2", self.arm: f"{SUBNET}.2.2"}
        self._veths = {self.gpu: f"rg{tag}"[:15], self.arm: f"ra{tag}"[:15]}  # on the link side
        self._made: list[str] = []
        self.relay: subprocess.Popen | None = None
        self.profile, self._seed, self._log_dir = profile, seed, log_dir
        try:
            self._setup()
        except BaseException:
            self.close()
            raise

    def _setup(self) -> None:
        for ns in (self.link, self.gpu, self.arm):
            _ip("netns", "add", ns)
            self._made.append(ns)
            _ip("-n", ns, "link", "set", "lo", "up")
        _ip("netns", "exec", self.link, "sysctl", "-qw", "net.ipv4.ip_forward=0")
        host_macs = []
        for side, host in ((1, self.gpu), (2, self.arm)):
            outer = self._veths[host]
            _ip("-n", self.link, "link", "add", outer, "type", "veth", "peer", "name", "eth0", "netns", host)
            _ip("-n", self.link, "addr", "add", f"{SUBNET}.{side}.1/24", "dev", outer)
            _ip("-n", self.link, "link", "set", outer, "up")
            _ip("-n", host, "addr", "add", f"{SUBNET}.{side}.2/24", "dev", "eth0")
            _ip("-n", host, "link", "set", "eth0", "up")
            _ip("-n", host, "route", "add", "default", "via", f"{SUBNET}.{side}.1")
            host_macs.append(_ip("-n", host, "-o", "link", "show", "eth0").split("link/ether ")[1].split()[0])
        log = open(self._log_dir / "link_relay.log", "wb") if self._log_dir else subprocess.DEVNULL
        self.relay = subprocess.Popen(
            ["ip", "netns", "exec", self.link, sys.executable, "-m", "rtc_tools.link_relay",
             self._veths[self.gpu], host_macs[0], self._veths[self.arm], host_macs[1],
             "--profile", self.profile.name, "--seed", str(self._seed)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        if log is not subprocess.DEVNULL:
            log.close()

    def host_command(self, host: str, command: list[str]) -> list[str]:
        """`command` run in a host's namespace (gpu or arm)."""
        return ["ip", "netns", "exec", host, *command]

    def peers_of(self, namespace: str) -> list[str]:
        """The addresses a namespace's DDS participants are given as static peers: the other host's;
        for the link namespace both."""
        return [address for ns, address in self.addresses.items() if ns != namespace]

    def environment(self, namespace: str, clock_offset_s: float = 0.0) -> dict[str, str]:
        """The environment of ROS processes in a namespace: DDS over UDP only (shared memory would
        join the namespaces, which machines do not share) with the peers as static peers besides
        multicast discovery; `clock_offset_s`: CLOCK_REALTIME shifted by that much (libfaketime)."""
        env = {**os.environ, "FASTDDS_BUILTIN_TRANSPORTS": "UDPv4",
               "ROS_STATIC_PEERS": ";".join(self.peers_of(namespace))}
        if clock_offset_s:
            if not FAKETIME_LIBRARY.exists():
                raise RuntimeError(f"{FAKETIME_LIBRARY} is missing: apt-get install libfaketime")
            # FAKETIME_DONT_FAKE_MONOTONIC would be closer, but libfaketime 0.9.10 then fails
            # Python's time.sleep (EINVAL); a shifted monotonic clock only moves the process's origin.
            env.update(LD_PRELOAD=str(FAKETIME_LIBRARY), FAKETIME=f"{clock_offset_s:+g}", FAKETIME_NO_CACHE="1")
        return env

    def close(self) -> None:
        if self.relay is not None and self.relay.poll() is None:
            os.killpg(self.relay.pid, signal.SIGTERM)
            try:
                self.relay.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.relay.pid, signal.SIGKILL)
                self.relay.wait()
        for ns in reversed(self._made):
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True, timeout=10)
        self._made.clear()

    def __enter__(self) -> TwoHosts:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()
