"""The policy node's start to first chunk with the built-in policy, and what it waits for.

Three measurements, in fresh processes (phases and graph --runs times; medians printed):
  - phases: one interpreter does what the node does before its first chunk, timed step by step:
    the node's module (rclpy, messages, the contract), torch, the policy's module, loading the
    built-in checkpoint through LeRobotPolicy, the first and the second sample (zero state, grey
    image); and which heavy modules the load pulled in. Twice per run, alternating: the built-in
    loader (what the node does) and LeRobot's path (`via_lerobot=True`), side by side with their
    ratio, since the machine may be shared and its load changes between runs (the load average is
    printed before and after);
  - imports: `python -X importtime` of the node's imports on the built-in path, self time summed by
    package (top-level, torch's by subpackage): where the import phases go;
  - graph: the simulated driver, camera and executor run (their bringup commands); the policy node
    starts by its command, and this process records when its log lines appear (ROS stamps them) and
    when the first ActionChunk arrives, from the moment the process was started.

Usage (in the project's environment, `source tools/env.sh`):
  python bench/policy_startup.py [--runs 3]
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PHASES_CHILD = "--phases-child"
LOADERS = ("built-in", "lerobot")
HEAVY_MODULES = ("lerobot.policies.factory", "lerobot.policies.groot", "transformers", "torchvision", "datasets")


def phases_child(loader: str) -> None:
    """In a fresh interpreter: print `phase seconds` lines, loading through `loader` (LOADERS)."""
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        print(f"phase {name} {now - clock:.3f}", flush=True)
        clock = now

    import rtc_policy_node.policy_node  # noqa: F401
    lap("node_module")
    import torch  # noqa: F401
    lap("torch")
    import numpy as np

    from rtc_policy_node.builtin_policy.checkpoint import default_checkpoint_path
    from rtc_policy_node.lerobot_policy import GuidanceSettings, LeRobotPolicy
    lap("policy_module")
    policy = LeRobotPolicy(default_checkpoint_path(), "cpu", GuidanceSettings(), via_lerobot=loader == "lerobot")
    lap("load")
    images = {key: np.full((96, 96, 3), 128, np.uint8) for key in policy.image_keys}
    policy.sample(np.zeros(policy.state_dim), images, None, 0)
    lap("first_sample")
    policy.sample(np.zeros(policy.state_dim), images, None, 0)
    lap("second_sample")
    print("phase heavy " + ",".join(m for m in HEAVY_MODULES if m in sys.modules))


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def phases(runs: int) -> None:
    samples: dict[str, dict[str, list[float]]] = {loader: {} for loader in LOADERS}
    heavy = {loader: "" for loader in LOADERS}
    print(f"load average (1, 5, 15 min) before: {load_average()}")
    for _ in range(runs):
        for loader in LOADERS:
            out = subprocess.run([sys.executable, __file__, PHASES_CHILD, loader], check=True, capture_output=True,
                                 text=True).stdout
            for line in out.splitlines():  # LeRobot prints to stdout too
                if not line.startswith("phase "):
                    continue
                name, value = (line[len("phase "):].split(" ", 1) + [""])[:2]
                if name == "heavy":
                    heavy[loader] = value
                else:
                    samples[loader].setdefault(name, []).append(float(value))
    print(f"load average (1, 5, 15 min) after:  {load_average()}")
    print(f"phases in one interpreter, median of {runs} (runs alternate between the loaders):")
    print(f"  {'':15s} {'built-in':>9s} {'lerobot':>9s} {'ratio':>6s}   built-in runs / lerobot runs")
    medians = {loader: {k: statistics.median(v) for k, v in samples[loader].items()} for loader in LOADERS}
    for name in samples[LOADERS[0]]:
        ours, theirs = medians[LOADERS[0]][name], medians[LOADERS[1]][name]
        runs_text = " / ".join(", ".join(f"{v:.2f}" for v in samples[loader][name]) for loader in LOADERS)
        print(f"  {name:15s} {ours:8.2f}s {theirs:8.2f}s {ours / theirs:6.2f}   {runs_text}")
    totals = [sum(v for k, v in medians[loader].items() if k != "second_sample") for loader in LOADERS]
    print(f"  {'to first chunk':15s} {totals[0]:8.2f}s {totals[1]:8.2f}s {totals[0] / totals[1]:6.2f}"
          "   (sum of the medians, second sample excluded)")
    for loader in LOADERS:
        print(f"  heavy modules the {loader} load imported: {heavy[loader] or 'none of ' + ', '.join(HEAVY_MODULES)}")


IMPORTS = "import rtc_policy_node.policy_node, rtc_policy_node.lerobot_policy, rtc_policy_node.builtin_policy.loading"


def imports(top: int = 15) -> None:
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", IMPORTS], check=True, capture_output=True,
                         text=True).stderr
    by_package: dict[str, float] = {}
    for line in err.splitlines():
        fields = [f.strip() for f in line.removeprefix("import time:").split("|")]
        if len(fields) != 3 or not fields[0].isdigit():
            continue
        parts = fields[2].split(".")
        package = ".".join(parts[:3] if parts[0] == "lerobot" else parts[:2] if parts[0] == "torch" else parts[:1])
        by_package[package] = by_package.get(package, 0.0) + int(fields[0]) / 1e6
    print(f"imports (python -X importtime, one run): {sum(by_package.values()):.2f} s of self time; by package:")
    for package, seconds in sorted(by_package.items(), key=lambda item: -item[1])[:top]:
        print(f"  {seconds:6.2f} s  {package}")


def graph(runs: int) -> None:
    import rclpy
    from ament_index_python.packages import get_package_share_directory
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from rtc_msgs.msg import ActionChunk, ExecutorStatus

    from rtc_bringup.graph import build_graph
    from rtc_bringup.run import node_command

    specs = {s.name: s for s in build_graph({"sim": "true"}, Path(get_package_share_directory("rtc_bringup")))}
    rclpy.init()
    node = rclpy.create_node("policy_startup_bench")
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    first_chunk: list[float] = []
    statuses: list[float] = []
    node.create_subscription(ActionChunk, "/rtc/action_chunk", lambda _: first_chunk.append(time.time()), reliable)
    node.create_subscription(ExecutorStatus, "/rtc/executor_status", lambda _: statuses.append(time.time()),
                             reliable)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    stamped = re.compile(r"\[(\d+\.\d+)\] \[[^\]]*\]: (.*)")
    results: list[tuple[float, list[tuple[float, str]]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        procs = []
        for name in ("so100_driver", "sim_camera", "rtc_executor"):
            spec = dataclasses.replace(specs[name], overrides={**specs[name].overrides, "realtime": False}
                                       if name != "sim_camera" else specs[name].overrides)
            procs.append(subprocess.Popen(node_command(spec, Path(tmp)), stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, start_new_session=True))
        try:
            while not statuses:
                time.sleep(0.1)
            for _ in range(runs):
                first_chunk.clear()
                log_path = Path(tmp) / "policy.log"
                with open(log_path, "w") as log:
                    started = time.time()
                    policy = subprocess.Popen(node_command(specs["rtc_policy"], Path(tmp)), stdout=log,
                                              stderr=subprocess.STDOUT, start_new_session=True)
                    while not first_chunk and time.time() - started < 120 and policy.poll() is None:
                        time.sleep(0.02)
                    policy.terminate()
                    policy.wait(20)
                if not first_chunk:
                    raise RuntimeError(f"no chunk from the policy node:\n{log_path.read_text()}")
                lines = [(float(m.group(1)) - started, re.sub(r"from \S+", "from <path>", m.group(2))) for m in
                         (stamped.search(line) for line in log_path.read_text().splitlines()) if m]
                results.append((first_chunk[0] - started, lines))
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(20)
    executor.shutdown()
    spinner.join(5.0)
    node.destroy_node()
    rclpy.try_shutdown()
    print(f"graph running, policy node started by its command: start to first chunk "
          f"(median of {runs}) {statistics.median(r[0] for r in results):.2f} s "
          f"(runs: {', '.join(f'{r[0]:.2f}' for r in results)})")
    print("  log of the last run, seconds after start:")
    for at, text in results[-1][1]:
        print(f"    {at:6.2f}  {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    phases(args.runs)
    imports()
    graph(args.runs)


if __name__ == "__main__":
    if sys.argv[1:2] == [PHASES_CHILD]:
        phases_child(sys.argv[2])
    else:
        main()
