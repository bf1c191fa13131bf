"""The arm host's profile (tools/setup.sh --arm) against the full environment: size on disk, the
executor's import time, and its memory, importing and running.

For each profile, in a clean environment made by `source tools/env.sh [--arm]`:
  - size: `du` of the venv and of the workspace's install space (the full one also holds the policy's
    packages, the arm one only the executor's and the driver's);
  - import: a fresh interpreter imports `rtc_executor.executor_node` (the node's module and everything
    it pulls in); wall time of the import and the process's RSS after it; median of --runs;
  - running: the executor node started by its command with the bringup's simulated parameters; its
    RSS (VmRSS) after --settle seconds of ticking with no chunks.

Usage (in the project's environment, `source tools/env.sh`; builds the arm profile first if absent):
  python bench/arm_profile.py [--runs 5] [--settle 5]
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from rtc_bringup.graph import build_graph
from rtc_bringup.run import node_command

ROOT = Path(__file__).resolve().parents[1]
PROFILES = {"full": ("", ".venv", ".ws"), "arm": ("--arm", ".venv-arm", ".ws-arm")}
IMPORT_PROBE = """
import time
t = time.perf_counter()
import rtc_executor.executor_node  # noqa: F401
elapsed = time.perf_counter() - t
rss_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS"))
print(elapsed, rss_kb)
"""


def environment(flag: str) -> dict[str, str]:
    clean = {"HOME": os.environ.get("HOME", "/root"), "PATH": "/usr/local/bin:/usr/bin:/bin"}
    out = subprocess.run(["bash", "-c", f"source tools/env.sh {flag} >/dev/null && env -0"], cwd=ROOT, env=clean,
                         check=True, capture_output=True).stdout.decode()
    env = dict(item.split("=", 1) for item in out.split("\0") if "=" in item)
    env["ROS_DOMAIN_ID"] = os.environ.get("ROS_DOMAIN_ID", "0")
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    return env


def disk_mb(path: Path) -> float:
    out = subprocess.run(["du", "-sk", str(path.resolve())], check=True, capture_output=True, text=True).stdout
    return int(out.split()[0]) / 1024


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def running_rss_mb(env: dict[str, str], ws: Path, settle_s: float) -> float:
    spec = next(s for s in build_graph({"sim": "true"}, Path(get_package_share_directory("rtc_bringup")))
                if s.name == "rtc_executor")
    spec = dataclasses.replace(spec, overrides={**spec.overrides, "realtime": False})
    with tempfile.TemporaryDirectory() as params_dir:
        command = node_command(spec, Path(params_dir))
        command[0] = str(ws / "install" / spec.package / "lib" / spec.package / spec.executable)
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            time.sleep(settle_s)
            if proc.poll() is not None:
                raise RuntimeError(f"the executor exited with {proc.returncode}: {' '.join(command)}")
            return rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--settle", type=float, default=5.0)
    args = parser.parse_args()
    if not (ROOT / ".ws-arm" / "install" / "rtc_executor").exists():
        subprocess.run(["bash", "tools/setup.sh", "--arm"], cwd=ROOT, check=True,
                       env={"HOME": os.environ.get("HOME", "/root"), "PATH": "/usr/local/bin:/usr/bin:/bin"})
    print("profile | venv MB | install MB | torch importable | executor import s (median) | RSS after import MB "
          "| executor running RSS MB")
    for name, (flag, venv, ws) in PROFILES.items():
        env = environment(flag)
        python = str(ROOT / venv / "bin" / "python")
        torch = subprocess.run([python, "-c", "import importlib.util as u; print(u.find_spec('torch') is not None)"],
                               env=env, capture_output=True, text=True, check=True).stdout.strip()
        samples = [subprocess.run([python, "-c", IMPORT_PROBE], env=env, capture_output=True, text=True,
                                  check=True).stdout.split() for _ in range(args.runs)]
        import_s = statistics.median(float(s[0]) for s in samples)
        import_rss = statistics.median(int(s[1]) for s in samples) / 1024
        running = running_rss_mb(env, ROOT / ws, args.settle)
        print(f"{name} | {disk_mb(ROOT / venv):.0f} | {disk_mb(ROOT / ws / 'install'):.1f} | {torch} | "
              f"{import_s:.3f} | {import_rss:.1f} | {running:.1f}")


if __name__ == "__main__":
    main()
