"""Start the SO-100 RTC graph as separate processes where `ros2 launch` is not installed.

    run --sim --duration 30                 # simulated arm for 30 s, then stop cleanly
    run --sim --world mujoco --duration 20  # the same on the MuJoCo twin (docs/twin.md)
    run sim:=false port:=/dev/ttyACM0       # same arguments as the launch file, until Ctrl-C
    run --sim --foxglove                    # and watch it in the Foxglove app on ws://localhost:8765
    run --sim --nodes rtc_policy --dds-profile lossy_link   # this host's part of a graph over hosts

The nodes and their parameters are the launch file's (rtc_bringup.graph). Each node gets its
parameter files (the config file, then its overrides) and namespace through `--ros-args`, exactly as
`ros2 launch` passes them. SIGINT/SIGTERM are forwarded; a node that exits on its own stops the
whole graph (exit code 1 if a node failed, 0 if every node that exited did so cleanly).

`--nodes` starts only some of the graph's nodes, with the parameters they have in the whole graph,
so one graph runs over several hosts (docs/multi_host.md); `--dds-profile` gives the nodes a Fast
DDS XML profile (`lossy_link`: the shipped config/fastdds_lossy_link.xml).
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

from ament_index_python.packages import get_package_prefix, get_package_share_directory

from rtc_bringup.control_loop_transport import control_loop_transport
from rtc_bringup.graph import (ARGUMENTS, CAMERA_TOPIC, CONTROL_LOOP_NODES, OUTLIVED_NODES, NodeSpec, build_graph,
                               discovery_environment, guard_envelope, overrides_file_text, policy_camera_topics,
                               trace_dir)
from rtc_runtime.node_main import stop_on_signals
from rtc_tools.trace_session import TraceError, TraceSession, node_environment

STOP_TIMEOUT_S = 10.0
WAIT_FOR_PATH_S = 60.0  # a node waiting for another's path (the driver for the twin's bus) gives up after this
FOXGLOVE_PORT = next(a.default for a in ARGUMENTS if a.name == "foxglove_port")


def node_command(spec: NodeSpec, params_dir: Path, remaps: tuple[str, ...] = ()) -> list[str]:
    """The command line `ros2 launch` would run for this node."""
    overrides_file = params_dir / f"{spec.name}.yaml"
    overrides_file.write_text(overrides_file_text(spec))
    executable = Path(get_package_prefix(spec.package)) / "lib" / spec.package / spec.executable
    if not executable.exists():
        raise FileNotFoundError(f"{spec.package} has no executable {spec.executable} ({executable})")
    command = [str(executable), "--ros-args", "-r", f"__node:={spec.name}"]
    if spec.namespace:
        command += ["-r", f"__ns:=/{spec.namespace}"]
    for params_file in (*spec.parameter_files, overrides_file):
        command += ["--params-file", str(params_file)]
    for remap in remaps:  # like launch_ros's SetRemap: for every node
        command += ["-r", remap]
    if spec.enclave:
        command += ["--enclave", spec.enclave]
    return command


class Graph:
    """The running node processes, each in its own session so the runner decides the stop order."""

    def __init__(self) -> None:
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        print(f"run: starting {name}: {' '.join(command)}", flush=True)
        self.procs[name] = subprocess.Popen(command, start_new_session=True, env=env)

    def wait_for_path(self, path: str, timeout_s: float) -> bool:
        """Whether `path` appeared within `timeout_s` while every started node kept running."""
        deadline = time.monotonic() + timeout_s
        while not os.path.lexists(path):
            if self.exited() or time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def exited(self) -> dict[str, int]:
        return {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}

    def stop(self) -> None:
        for name, proc in reversed(list(self.procs.items())):
            if proc.poll() is not None:
                continue
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                print(f"run: {name} ignored SIGINT for {STOP_TIMEOUT_S:.0f} s, killing it", flush=True)
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def dds_profile_path(text: str, share_dir: Path) -> Path:
    """`--dds-profile`'s file: a path, or the name of a profile shipped in config/ (fastdds_NAME.xml)."""
    shipped = share_dir / "config" / f"fastdds_{text}.xml"
    path = shipped if shipped.exists() else Path(text)
    if not path.is_file():
        raise ValueError(f"--dds-profile {text!r}: no such file and no shipped profile {shipped.name}")
    return path.resolve()


def select_nodes(specs: list[NodeSpec], names: str | None) -> list[NodeSpec]:
    """The graph's nodes named in `--nodes` (comma-separated), in the graph's start order."""
    if names is None:
        return specs
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    unknown = sorted(set(wanted) - {s.name for s in specs})
    if unknown or not wanted:
        raise ValueError(f"--nodes {names!r}: not in this graph: {unknown}; its nodes: {[s.name for s in specs]}")
    return [s for s in specs if s.name in wanted]


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, dict[str, str]]:
    parser = argparse.ArgumentParser(
        prog="run", description=__doc__.split("\n\n")[0],
        epilog="launch arguments (name:=value): " + ", ".join(
            f"{a.name} ({a.description}; default {a.default!r})" for a in ARGUMENTS))
    parser.add_argument("--sim", action="store_true", help="same as sim:=true")
    parser.add_argument("--world", metavar="NAME", help="same as world:=NAME: kinematic | mujoco (the MuJoCo twin)")
    parser.add_argument("--duration", type=float, default=0.0, help="seconds to run; 0: until Ctrl-C")
    parser.add_argument("--record", type=Path, help="record the run into this rosbag2 directory")
    parser.add_argument("--remap", action="append", default=[], metavar="FROM:=TO",
                        help="remap a topic in every node, e.g. so100/joint_trajectory:=/arm_controller/joint_trajectory")
    parser.add_argument("--trace", type=Path, metavar="DIR", help="record an LTTng trace into DIR "
                        "(same as trace:=true trace_dir:=DIR)")
    parser.add_argument("--foxglove", nargs="?", const=FOXGLOVE_PORT, metavar="PORT",
                        help=f"serve the topics to the Foxglove app on PORT (default {FOXGLOVE_PORT}; same as "
                        "foxglove:=true foxglove_port:=PORT; docs/foxglove.md)")
    parser.add_argument("--nodes", metavar="NAME,...", help="start only these nodes of the graph "
                        "(the rest runs elsewhere, e.g. rtc_policy on a GPU host; docs/multi_host.md)")
    parser.add_argument("--dds-profile", metavar="FILE|NAME", help="Fast DDS XML profile for the nodes "
                        "(FASTDDS_DEFAULT_PROFILES_FILE); lossy_link: the shipped one for links that lose packets")
    parser.add_argument("launch_arguments", nargs="*", metavar="name:=value")
    args = parser.parse_args(argv)
    if args.foxglove and ":=" in args.foxglove:  # `--foxglove seed:=3`: a launch argument, not a port
        args.launch_arguments.insert(0, args.foxglove)
        args.foxglove = FOXGLOVE_PORT
    launch_arguments: dict[str, str] = {}
    for item in args.launch_arguments:
        name, sep, value = item.partition(":=")
        if not sep:
            parser.error(f"launch argument {item!r} is not name:=value")
        launch_arguments[name] = value
    if args.sim:
        launch_arguments["sim"] = "true"
    if args.world:
        launch_arguments["world"] = args.world
    for remap in args.remap:
        if ":=" not in remap or not all(remap.split(":=", 1)):
            parser.error(f"--remap {remap!r} is not FROM:=TO")
    if args.trace:
        launch_arguments.update(trace="true", trace_dir=str(args.trace))
    if args.foxglove:
        launch_arguments.update(foxglove="true", foxglove_port=args.foxglove)
    return args, launch_arguments


def main(argv: list[str] | None = None) -> int:
    args, launch_arguments = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        share_dir = Path(get_package_share_directory("rtc_bringup"))
        graph_specs = build_graph(launch_arguments, share_dir)
        specs = select_nodes(graph_specs, args.nodes)
        # the policy's input too (the twin's policy reads the wrist camera), so a replay sees what it saw
        # (the recorder runs in the root namespace and matches topics by their absolute names)
        cameras = (CAMERA_TOPIC, *policy_camera_topics(graph_specs))
        recorded_cameras = list(dict.fromkeys("/" + topic.lstrip("/") for topic in cameras))
        traced_into = trace_dir(launch_arguments)
        discovery = discovery_environment(launch_arguments, os.environ)
        dds_profile = dds_profile_path(args.dds_profile, share_dir) if args.dds_profile else None
        profile_env = {"FASTDDS_DEFAULT_PROFILES_FILE": str(dds_profile)} if dds_profile else {}
        control_transport = control_loop_transport(launch_arguments.get("control_loop_transport", ""),
                                                   {**os.environ, **discovery, **profile_env})
    except ValueError as exc:
        print(f"run: {exc}", file=sys.stderr)
        return 2
    if args.record and specs[0].namespace:
        print("run: --record records the root namespace's topics; run without namespace:= to record",
              file=sys.stderr)
        return 2
    stop = stop_on_signals()
    graph = Graph()
    status = 0
    session = TraceSession(traced_into) if traced_into else None
    try:
        if session:
            session.start()
            print(f"run: tracing into {session.output_dir} (LTTng session {session.name})", flush=True)
    except TraceError as exc:
        print(f"run: {exc}", file=sys.stderr)
        return 1
    env = {**(node_environment() if session else os.environ), **discovery, **profile_env}
    print(f"run: {guard_envelope(specs)}", flush=True)
    print(f"run: {control_transport.describe()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="rtc_run_") as params_dir:
        control_env = {**env, **control_transport.environment(Path(params_dir))}
        try:
            if args.record:
                graph.start("recorder", [sys.executable, "-m", "rtc_tools.recorder", str(args.record),
                                         "--cameras", *recorded_cameras], env)
            for spec in specs:
                if spec.waits_for and not graph.wait_for_path(spec.waits_for, WAIT_FOR_PATH_S):
                    print(f"run: {spec.name} needs {spec.waits_for}, which did not appear; stopping the graph",
                          file=sys.stderr)
                    status = 1
                    break
                graph.start(spec.name, node_command(spec, Path(params_dir), tuple(args.remap)),
                            control_env if spec.name in CONTROL_LOOP_NODES else env)
            deadline = time.monotonic() + args.duration if args.duration > 0 else float("inf")
            outlived: set[str] = set()
            started = status == 0  # else a node's prerequisite never appeared
            while started and not stop.is_set() and time.monotonic() < deadline:
                exited = graph.exited()
                for name in set(exited) & OUTLIVED_NODES - outlived:
                    outlived.add(name)
                    status = 1
                    print(f"run: {name} exited (code {exited[name]}); the arm holds and the rest of the graph "
                          f"runs on (Ctrl-C stops it)", flush=True)
                exited = {n: code for n, code in exited.items() if n not in OUTLIVED_NODES}
                if exited:
                    print(f"run: node(s) exited on their own: {exited}; stopping the graph", flush=True)
                    status = 1 if any(exited.values()) or status else 0
                    break
                time.sleep(0.1)
        except FileNotFoundError as exc:
            print(f"run: {exc}", file=sys.stderr)
            status = 2
        finally:
            graph.stop()
            if session:
                session.stop()
    return status


if __name__ == "__main__":
    sys.exit(main())
