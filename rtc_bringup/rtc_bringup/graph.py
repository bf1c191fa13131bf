"""The SO-100 RTC node graph, described once for the launch file and for the runner.

`build_graph(arguments)` turns launch arguments (strings, as `ros2 launch` gives them) into the
list of nodes with their parameters and remappings: the base values come from a parameter file in
`config/` (so100_sim.yaml or so100_rtc.yaml), and each argument left empty keeps the file's value.
No rclpy or launch import here, so tests and the runner read the graph as plain data.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml


@dataclass(frozen=True)
class Argument:
    name: str
    default: str
    description: str


@dataclass(frozen=True)
class NodeSpec:
    package: str
    executable: str
    name: str
    parameters: dict[str, Any] = field(default_factory=dict)
    remappings: tuple[tuple[str, str], ...] = ()


CAMERA_TOPIC = "/camera/front/image_raw"

ARGUMENTS: tuple[Argument, ...] = (
    Argument("sim", "true", "true: bus emulator and simulated camera instead of the real arm"),
    Argument("config_file", "", "parameter file; empty: config/so100_sim.yaml or config/so100_rtc.yaml"),
    Argument("port", "", "serial port of the arm's bus, e.g. /dev/ttyACM0 (sim:=false)"),
    Argument("calibration_file", "", "lerobot-calibrate JSON; empty: the simulated arm's calibration"),
    Argument("policy_path", "", "checkpoint dir or hub id; empty: the built-in checkpoint"),
    Argument("device", "", "torch device of the policy, e.g. cpu, cuda"),
    Argument("guidance_mode", "", "off | identity | vjp | prefix"),
    Argument("executor_mode", "", "rtc | append | replace (how the executor merges chunks)"),
    Argument("execution_horizon", "", "ticks of the leftover that guidance follows"),
    Argument("max_guidance_weight", "", "clip of the guidance weight (beta)"),
    Argument("schedule", "", "prefix weight schedule: ZEROS | ONES | LINEAR | EXP"),
    Argument("control_rate_hz", "", "executor tick rate"),
    Argument("cameras", "", f"name=topic,...; empty: front={CAMERA_TOPIC}"),
    Argument("extra_latency_ms", "", "added inference latency, emulating a larger model"),
    Argument("trigger_remaining", "", "start an inference when the executor has this many actions left"),
    Argument("task", "", "language instruction for policies that take one (pi0, SmolVLA)"),
    Argument("debug_denoising", "", "directory for a plot of each chunk's denoising steps; empty: off"),
    Argument("seed", "0", "simulated task: the scene the camera renders and the arm's start pose (sim:=true)"),
)
ARGUMENT_NAMES = frozenset(a.name for a in ARGUMENTS)


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _cameras(text: str) -> list[str]:
    entries = [e.strip() for e in text.split(",") if e.strip()]
    for entry in entries:
        name, sep, topic = entry.partition("=")
        if not sep or not name or not topic.startswith("/"):
            raise ValueError(f"camera entry {entry!r} is not name=/topic")
    return entries


def _seed(text: str) -> int:
    try:
        seed = int(text)
    except ValueError:
        raise ValueError(f"argument seed:={text!r}: expected a non-negative integer") from None
    if seed < 0:
        raise ValueError(f"argument seed:={text!r}: expected a non-negative integer")
    return seed


# argument -> (node, parameter, parser): where a non-empty argument lands.
_OVERRIDES: dict[str, tuple[str, str, Callable[[str], Any]]] = {
    "port": ("so100_driver", "port", str),
    "calibration_file": ("so100_driver", "calibration_file", str),
    "policy_path": ("rtc_policy", "policy_path", str),
    "device": ("rtc_policy", "device", str),
    "guidance_mode": ("rtc_policy", "guidance_mode", str),
    "executor_mode": ("rtc_executor", "mode", str),
    "execution_horizon": ("rtc_policy", "execution_horizon", int),
    "max_guidance_weight": ("rtc_policy", "max_guidance_weight", float),
    "schedule": ("rtc_policy", "schedule", str),
    "control_rate_hz": ("rtc_executor", "control_rate_hz", float),
    "cameras": ("rtc_policy", "camera_topics", _cameras),
    "extra_latency_ms": ("rtc_policy", "extra_latency_ms", float),
    "task": ("rtc_policy", "task", str),
    "trigger_remaining": ("rtc_policy", "trigger_remaining", int),
    "debug_denoising": ("rtc_policy", "debug_denoising", str),
}

_EXECUTABLES = {
    "so100_driver": ("so100_driver", "driver_node"),
    "sim_camera": ("so100_driver", "sim_camera"),
    "rtc_policy": ("rtc_policy_node", "policy_node"),
    "rtc_executor": ("rtc_policy_node", "executor_node"),
}


def default_config_file(sim: bool, share_dir: Path) -> Path:
    return share_dir / "config" / ("so100_sim.yaml" if sim else "so100_rtc.yaml")


def load_parameter_file(path: Path) -> dict[str, dict[str, Any]]:
    """Read a ROS 2 parameter file into {node name: {parameter: value}}."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ValueError(f"cannot read parameter file {path}: {exc.strerror}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of node names")
    nodes: dict[str, dict[str, Any]] = {}
    for node, body in data.items():
        params = (body or {}).get("ros__parameters") if isinstance(body, dict) else None
        if not isinstance(params, dict):
            raise ValueError(f"{path}: node {node!r} has no ros__parameters mapping")
        nodes[node] = dict(params)
    return nodes


def build_graph(arguments: Mapping[str, str], share_dir: Path) -> list[NodeSpec]:
    """The nodes to start for these launch arguments; `share_dir` is rtc_bringup's share directory."""
    unknown = set(arguments) - ARGUMENT_NAMES
    if unknown:
        raise ValueError(f"unknown argument(s) {sorted(unknown)}; known: {sorted(ARGUMENT_NAMES)}")
    values = {a.name: arguments.get(a.name, a.default) for a in ARGUMENTS}
    try:
        sim = _bool(values["sim"])
    except ValueError as exc:
        raise ValueError(f"argument sim:={values['sim']!r}: {exc}") from exc
    config = Path(values["config_file"]) if values["config_file"] else default_config_file(sim, share_dir)
    params = load_parameter_file(config)

    for name, (node, parameter, parse) in _OVERRIDES.items():
        text = values[name].strip()
        if text:
            try:
                params.setdefault(node, {})[parameter] = parse(text)
            except ValueError as exc:
                raise ValueError(f"argument {name}:={text!r}: {exc}") from exc
    params.setdefault("so100_driver", {})["sim"] = sim
    if sim:  # camera and emulated arm show the same scene: the arm starts at that task's start pose
        seed = _seed(values["seed"])
        params.setdefault("sim_camera", {})["seed"] = seed
        params["so100_driver"]["sim_task_seed"] = seed
    params.setdefault("rtc_policy", {}).setdefault("camera_topics", [f"front={CAMERA_TOPIC}"])
    calibration = params["so100_driver"].get("calibration_file", "")
    if calibration:  # the policy converts radians to the policy's units with the same calibration
        params["rtc_policy"]["calibration_file"] = calibration

    names = ["so100_driver", "sim_camera", "rtc_policy", "rtc_executor"] if sim else \
        ["so100_driver", "rtc_policy", "rtc_executor"]
    return [NodeSpec(*_EXECUTABLES[n], name=n, parameters=params.get(n, {})) for n in names]
