"""Bag size per minute of the simulated demo, by storage and image format, recorded side by side.

    python bench/bag_size.py [--duration 90]

One run of `python -m rtc_bringup.run --sim` with three recorders on the same graph: the runner's
own (MCAP, PNG-compressed images: the default), MCAP with raw images, and sqlite3 with PNG images.
Prints each bag's size, messages, MB per minute of recording and its camera messages.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rosbags.rosbag2 import Reader

VARIANTS = {
    "mcap, PNG images (default)": (),
    "mcap, raw images": ("--images", "raw"),
    "sqlite3, PNG images": ("--storage", "sqlite3"),
}


def size_mb(bag: Path) -> float:
    return sum(p.stat().st_size for p in bag.iterdir() if p.is_file()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=90.0, help="seconds the graph runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bag_size_") as tmp:
        out = Path(tmp)
        bags = {name: out / f"bag{i}" for i, name in enumerate(VARIANTS)}
        recorders = [subprocess.Popen([sys.executable, "-m", "rtc_tools.recorder", str(bags[name]), *options],
                                      stdout=subprocess.DEVNULL, start_new_session=True)
                     for name, options in VARIANTS.items() if options]
        time.sleep(3.0)  # the extra recorders are up before the graph starts
        subprocess.run([sys.executable, "-m", "rtc_bringup.run", "--sim", "--duration", str(args.duration),
                        "--record", str(bags["mcap, PNG images (default)"])],
                       check=True, capture_output=True, timeout=args.duration + 180)
        for proc in recorders:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(30)
        print(f"simulated demo, {args.duration:.0f} s run, one 96x96 rgb8 camera (sim_camera rate_hz 30)")
        print(f"{'bag':<28}{'MB':>8}{'messages':>10}{'minutes':>9}{'MB/min':>8}{'camera msgs':>13}")
        for name, bag in bags.items():
            with Reader(bag) as reader:
                minutes = (reader.end_time - reader.start_time) / 60e9
                camera = sum(c.msgcount for c in reader.connections if c.topic.startswith("/camera/"))
                print(f"{name:<28}{size_mb(bag):>8.2f}{reader.message_count:>10}{minutes:>9.2f}"
                      f"{size_mb(bag) / minutes:>8.2f}{camera:>13}")


if __name__ == "__main__":
    main()
