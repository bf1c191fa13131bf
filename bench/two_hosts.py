"""The simulated graph over two hosts: the policy on "gpu", executor, driver and camera on "arm",
joined by a link that delays, jitters and loses packets, with the gpu host's wall clock set apart.

    sudo python bench/two_hosts.py [--profiles none,5,20+-5/1,50+-20/2] [--duration 70] [--clock-offset 7]

Each profile is one run (rtc_bringup.two_hosts: network namespaces and rtc_tools.link_relay in
a third one; root only): `run --sim --nodes rtc_policy` on gpu under libfaketime (its wall clock
`--clock-offset` s ahead, rclpy's and Fast DDS's clock reads included), `run --sim --nodes so100_driver,sim_camera,
rtc_executor --record` on arm, both with `--dds-profile` (default: lossy_link) and chunks signed by a
key only the arm trusts. The bag recorded on arm is judged by rtc_tools.report. Chunk transport is
the arm's receive stamp minus the chunk's `inference_end` (the gpu's clock) plus the offset this
script applied, so it is measured, not assumed, from the two unsynchronized clocks.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rtc_tools.bag_reader import decoded, open_bag
from rtc_tools.link_relay import LinkProfile
from rtc_bringup.two_hosts import TwoHosts

ARM_NODES = "so100_driver,sim_camera,rtc_executor"


@dataclass
class HostRun:
    """One profile's run: the two runners' processes and the bag the arm side records."""

    gpu: subprocess.Popen
    arm: subprocess.Popen
    bag: Path


def start(hosts: TwoHosts, out: Path, duration_s: float, clock_offset_s: float, dds_profile: str,
          keys: tuple[Path, Path], extra: tuple[str, ...] = ()) -> HostRun:
    """Start both halves of the graph; the arm side stops itself after `duration_s`."""
    private, public = keys
    common = ["--sim", "--dds-profile", dds_profile] if dds_profile else ["--sim"]
    runner = [sys.executable, "-m", "rtc_bringup.run"]
    bag = out / "bag"

    def launch(host: str, arguments: list[str], name: str) -> subprocess.Popen:
        log = open(out / f"{name}.log", "wb")
        proc = subprocess.Popen(hosts.host_command(host, [*runner, *common, *arguments, *extra]), stdout=log,
                                stderr=subprocess.STDOUT, env=hosts.environment(host, clock_offset_s if host == hosts.gpu else 0.0),
                                start_new_session=True)
        log.close()
        return proc

    gpu = launch(hosts.gpu, ["--nodes", "rtc_policy", f"signing_key:={private}"], "gpu")
    arm = launch(hosts.arm, ["--nodes", ARM_NODES, "--record", str(bag), "--duration", str(duration_s),
                             f"trusted_keys:={public}"], "arm")
    return HostRun(gpu, arm, bag)


def stop(proc: subprocess.Popen, timeout_s: float = 20.0) -> None:
    """SIGINT to the runner's process group (the runner stops its nodes), SIGKILL if it hangs."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def chunk_transport_ms(bag: Path, clock_offset_s: float) -> list[float]:
    """Per chunk: the arm's receive stamp minus `inference_end` (gpu clock) plus the applied offset."""
    values = []
    with open_bag(bag) as (reader, store):
        for _topic, stamp_ns, msg in decoded(reader, store, {"/rtc/action_chunk": "rtc_msgs/msg/ActionChunk"}):
            sent_ns = msg.inference_end.sec * 1_000_000_000 + msg.inference_end.nanosec
            values.append((stamp_ns - sent_ns) / 1e6 + clock_offset_s * 1e3)
    return values


def generate_keys(directory: Path) -> tuple[Path, Path]:
    from ament_index_python.packages import get_package_prefix

    keygen = Path(get_package_prefix("rtc_contract")) / "lib" / "rtc_contract" / "rtc_keygen"
    subprocess.run([str(keygen), str(directory / "policy")], check=True, capture_output=True)
    return directory / "policy.key", directory / "policy.pub"


def run_profile(profile: LinkProfile, out: Path, duration_s: float, clock_offset_s: float,
                dds_profile: str, seed: int, extra: tuple[str, ...]) -> dict:
    out.mkdir(parents=True)
    keys = generate_keys(out)
    with TwoHosts(profile, tag=f"b{os.getpid() % 10000}", seed=seed, log_dir=out) as hosts:
        time.sleep(1.0)  # a fresh veth settles before discovery
        run = start(hosts, out, duration_s, clock_offset_s, dds_profile, keys, extra)
        try:
            run.arm.wait(duration_s + 120)
        finally:
            stop(run.arm)
            stop(run.gpu)
    summary_file = out / "summary.json"
    subprocess.run([sys.executable, "-m", "rtc_tools.report", str(run.bag), "--json", str(summary_file)],
                   check=True, capture_output=True, timeout=120)
    summary = json.loads(summary_file.read_text())
    summary["transport_ms"] = chunk_transport_ms(run.bag, clock_offset_s)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", default="none,5,20+-5/1,50+-20/2", help="link profiles, comma-separated")
    parser.add_argument("--duration", type=float, default=70.0, help="seconds the arm side runs per profile")
    parser.add_argument("--clock-offset", type=float, default=7.0, help="s the gpu host's wall clock is ahead")
    parser.add_argument("--dds-profile", default="lossy_link", help="run's --dds-profile; '' for Fast DDS defaults")
    parser.add_argument("--seed", type=int, default=0, help="seeds the link's draws")
    parser.add_argument("--delay-margin-ticks", type=int, default=3, help="the policy's delay_margin_ticks")
    parser.add_argument("--keep", type=Path, help="keep logs and bags in this (new) directory")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="two_hosts_") as tmp:
        tmp = args.keep or tmp
        for i, text in enumerate(args.profiles.split(",")):
            profile = LinkProfile.parse(text)
            s = run_profile(profile, Path(tmp) / str(i), args.duration, args.clock_offset, args.dds_profile,
                            args.seed, (f"delay_margin_ticks:={args.delay_margin_ticks}",))
            rows.append((profile.name, s))
            print(f"{profile.name}: {s['merged']} merged, seam ratio {s['seam_ratio']:.2f}", flush=True)
    print(f"\n{args.duration:g} s per profile, gpu clock {args.clock_offset:+g} s, dds profile "
          f"{args.dds_profile or 'Fast DDS defaults'}, delay_margin_ticks {args.delay_margin_ticks}")
    print(f"{'link':>10} {'chunks':>7} {'merged':>7} {'transport p50':>14} {'p99':>6} {'max':>6} "
          f"{'d_real > d':>11} {'d/d_real (median)':>18} {'underruns':>10} {'seam':>5} {'targets':>8}")
    for name, s in rows:
        transport = np.array(s["transport_ms"])
        delays = np.array(s["delays"]).reshape(-1, 2)
        late = int((delays[:, 1] > delays[:, 0]).sum())
        median_d = f"{np.median(delays[:, 0]):.0f}/{np.median(delays[:, 1]):.0f}" if len(delays) else "-"
        task = s.get("task") or {}
        targets = f"{task.get('targets_reached', 0)}/{task.get('targets_shown', 0)}" if task else "-"
        print(f"{name:>10} {s['chunks']:7d} {s['merged']:7d} {np.percentile(transport, 50):14.1f} "
              f"{np.percentile(transport, 99):6.1f} {transport.max():6.1f} {f'{late} of {len(delays)}':>11} "
              f"{median_d:>18} {s['underruns']:10d} {s['seam_ratio']:5.2f} {targets:>8}", flush=True)


if __name__ == "__main__":
    main()
