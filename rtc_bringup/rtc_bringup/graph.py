"""The SO-100 RTC node graph, described once for the launch file and for the runner.

`build_graph(arguments, share_dir)` turns launch arguments (strings, as `ros2 launch` gives them)
into the nodes to start. Parameters reach each node the way ROS 2 passes them: first the parameter
file itself (`config_file`; empty: config/so100_sim.yaml or config/so100_rtc.yaml), so that its
`/**`, `/ns/node`, `node` and wildcard keys keep rcl's semantics, then the overrides from non-empty
arguments, keyed by the node's fully qualified name (as launch_ros writes a parameter dict).
The driver runs at least as fast as the executor commands: with `interpolation:=N` (or a file
that sets it), a driver `rate_hz` below control_rate_hz x N is raised to it (the nodes' own defaults
come from their PARAMETERS). LeRobot's names of parameters (`rtc_runtime.lerobot_names`) are
arguments too: `prefix_attention_schedule:=EXP` is `schedule:=EXP`; both with different values is
an error. `inference:=sync` (LeRobot's inference type) is a preset: the arguments of `INFERENCE_PRESETS`
that are not given themselves.
`namespace:=` puts every node under one namespace; every topic the nodes use is relative, so it
follows (only `/diagnostics` stays global, as diagnostic_updater's convention wants).
On a real arm (`sim:=false`) the graph also: needs `policy_path` (the built-in checkpoint was trained
on the simulated task); finds the calibration by `robot_id:=` where lerobot-calibrate wrote it; gives
the executor's guard the envelope `so100_driver.safety` computes from that calibration (for every
guard parameter the parameter file leaves out); and starts one rtc_camera node for `cameras:=` in
LeRobot's syntax, whose topics become the policy's cameras. `dry_run:=true` keeps the driver's torque off
and lifts the executor's seam check (the arm does not follow the commands).
`world:=mujoco` (with sim:=true) puts the MuJoCo twin behind the servos: the `twin` node serves the
emulated bus on a pty link and renders the cameras, and the driver opens that link as a real arm's port
(so it runs exactly as on hardware); the driver starts once the link exists (`NodeSpec.waits_for`).
With no policy given (argument or file), the twin's policy is the built-in checkpoint trained on the
twin (`builtin_so100_twin`), reading the cameras it was trained on unless `cameras:=` names others.
No rclpy or launch import at module level, so tests and the runner read the graph as plain data.
"""
from __future__ import annotations

import math
import os
import re
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from lerobot_calibration import CalibrationError, find_robot_calibration
from rtc_camera.camera_spec import image_topic, parse_cameras
from rtc_contract.modes import GuidanceMode, MergeMode
from rtc_runtime.lerobot_names import LEROBOT_NAMES, with_our_names
from rtc_policy_node.shipped_checkpoints import TWIN_CHECKPOINT, checkpoint_cameras, shipped_checkpoint_path
from so100_driver.arm import LEROBOT_ROBOT_NAMES, default_calibration_path, load_calibration
from so100_driver.emulator import TRANSPORTS
from so100_driver.safety import executor_guard_parameters
from so100_driver.topics import IMAGE_TOPIC
from so100_driver.worlds import WorldUnavailable, check_world_name


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
    namespace: str = ""  # relative ("arm1") or empty: under the namespace the launch pushes, if any
    parameter_files: tuple[Path, ...] = ()
    overrides: dict[str, Any] = field(default_factory=dict)  # after the files, for this node only
    enclave: str = ""  # SROS2 enclave passed as `--ros-args --enclave` (enclaves:=true); empty: none
    waits_for: str = ""  # a path that must exist before the node starts (the twin's bus link); empty: none

    @property
    def fully_qualified_name(self) -> str:
        return f"/{self.namespace}/{self.name}" if self.namespace else f"/{self.name}"


CAMERA_TOPIC = IMAGE_TOPIC  # the policy's default camera: the simulated camera's topic

ARGUMENTS: tuple[Argument, ...] = (
    Argument("sim", "true", "true: bus emulator and simulated camera instead of the real arm"),
    Argument("inference", "rtc", "rtc: asynchronous chunks continued by RTC guidance (the nodes' defaults); sync: "
             "the synchronous baseline (stop, infer, run: no guidance, whole chunks, inference once the queue is "
             "empty)"),
    Argument("driver", "true", "false (with sim:=false): no so100_driver, the arm runs under ros2_control"),
    Argument("namespace", "", "namespace of every node and topic, e.g. arm1; empty: none"),
    Argument("config_file", "", "ROS 2 parameter file; empty: config/so100_sim.yaml or config/so100_rtc.yaml"),
    Argument("port", "", "serial port of the arm's bus, e.g. /dev/ttyACM0 (sim:=false)"),
    Argument("calibration_file", "", "lerobot-calibrate JSON; empty: the simulated arm's calibration "
             "(or robot_id's)"),
    Argument("robot_id", "", "sim:=false: the --robot.id lerobot-calibrate wrote the calibration for (found in "
             "LeRobot's calibration dir) instead of calibration_file"),
    Argument("dry_run", "false", "true: the driver keeps torque off and only reads; policy and executor run and "
             "the commands are published, never written to the servos"),
    Argument("policy_path", "", "checkpoint dir or hub id; empty: the built-in checkpoint (sim:=true only)"),
    Argument("device", "", "torch device of the policy, e.g. cpu, cuda"),
    Argument("guidance_mode", "", "off | identity | vjp | prefix"),
    Argument("executor_mode", "", "rtc | append | replace (how the executor merges chunks)"),
    Argument("command_type", "", "joint_state | float64_array | trajectory (the executor's command)"),
    Argument("execution_horizon", "", "ticks of the leftover that guidance follows"),
    Argument("max_guidance_weight", "", "clip of the guidance weight (beta)"),
    Argument("schedule", "", "prefix weight schedule: ZEROS | ONES | LINEAR | EXP"),
    Argument("control_rate_hz", "", "policy tick rate of the executor (one chunk row per tick)"),
    Argument("interpolation", "", "executor commands per chunk row (control_rate_hz x this per second; 1: off); "
             "raises the driver's rate_hz to at least that"),
    Argument("interpolation_mode", "", "hermite | linear (how the executor fills the commands between rows)"),
    Argument("speed_scale", "", "in (0, 1]: the executor plays the chunks' rows this much slower, the guard's "
             "velocity and acceleration limits scaled with it (0.25 for a first run; empty: 1.0)"),
    Argument("cameras", "", f"the policy's cameras as name=topic,... (empty: front={CAMERA_TOPIC}), or "
             "(sim:=false) LeRobot's {name: {type: opencv, index_or_path: 0, width: 640, height: 480, fps: 30}, ...}: "
             "an rtc_camera node publishes each on camera/<name>/image_raw"),
    Argument("extra_latency_ms", "", "added inference latency, emulating a larger model"),
    Argument("extra_latency_sequence_ms", "", "ms,ms,...: further latency chunk by chunk, cyclically (a latency profile)"),
    Argument("trigger_remaining", "", "start an inference when the executor has this many actions left"),
    Argument("delay_margin_ticks", "", "ticks added to the policy's delay estimate; 3 on a link between hosts "
             "that loses packets (docs/multi_host.md)"),
    Argument("task", "", "language instruction for policies that take one (pi0, SmolVLA)"),
    Argument("use_torch_compile", "", "true: torch.compile the policy (compiled during its warm-up inferences)"),
    Argument("warmup_inferences", "", "the policy's first inferences, not published (at least 2 with "
             "use_torch_compile)"),
    Argument("debug_denoising", "", "directory for a plot of each chunk's denoising steps; empty: off"),
    Argument("signing_key", "", "private key (rtc_keygen) the policy signs its chunks with; empty: unsigned"),
    Argument("trusted_keys", "", "public key files or directories, comma-separated: the executor merges only "
             "chunks they signed; empty: no authentication"),
    Argument("allow_unsigned", "", "true: the executor merges unsigned chunks (WARN on /diagnostics); needed with "
             "sim:=false and no trusted_keys, where the executor otherwise refuses to start"),
    Argument("enclaves", "false", "true: each node runs in its SROS2 enclave (NODE_ENCLAVES; docs/sros2.md); "
             "takes effect only with ROS_SECURITY_ENABLE=true and a keystore from rtc_sros2"),
    Argument("world", "kinematic", "what the emulated servos move (sim:=true): kinematic | mujoco (the MuJoCo twin, "
             "docs/twin.md)"),
    Argument("sim_bus", "", "how the driver reaches the emulated bus (sim:=true, world:=kinematic): pty (the "
             "driver's default, a tty as a USB serial adapter) or socket (loopback TCP, the same protocol without "
             "the pty's kernel worker; for long runs on a loaded machine, docs/benchmarks.md)"),
    Argument("seed", "0", "simulated task: the scene the camera renders and the arm's start pose (sim:=true)"),
    Argument("retarget_after_s", "", "simulated task: a new target this long after the last was reached; empty or 0: never"),
    Argument("robot_description", "true", "true: publish the SO-100 URDF on robot_description"),
    Argument("discovery_range", "", "ROS_AUTOMATIC_DISCOVERY_RANGE of every node: LOCALHOST, SUBNET, "
             "SYSTEM_DEFAULT or OFF; empty: the environment's, else LOCALHOST (no other host takes part unless "
             "ROS_STATIC_PEERS names it; docs/multi_host.md)"),
    Argument("control_loop_transport", "udp", "udp: the driver and the executor talk DDS over UDP only, no shared "
             "memory (a preempted reader cannot stall their control threads; docs/safety.md); default: "
             "rmw_fastrtps's transports"),
    Argument("trace", "false", "true: record an LTTng trace of the run (docs/tracing.md)"),
    Argument("trace_dir", "", "where the trace goes (trace:=true); empty: ./rtc_trace_<date>_<time>"),
    Argument("foxglove", "false", "true: a Foxglove WebSocket server forwards the topics (docs/foxglove.md)"),
    Argument("foxglove_port", "8765", "TCP port of that server (foxglove:=true)"),
)
_OURS = frozenset(a.name for a in ARGUMENTS)
ARGUMENTS += tuple(Argument(theirs, "", f"LeRobot's name for {ours}") for theirs, ours in LEROBOT_NAMES.items()
                   if ours in _OURS)
ARGUMENT_NAMES = frozenset(a.name for a in ARGUMENTS)
_NAME_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _numbers(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"{text!r} is not a comma-separated list of numbers") from None


def camera_entries(text: str) -> list[str]:
    entries = [e.strip() for e in text.split(",") if e.strip()]
    for entry in entries:
        name, sep, topic = entry.partition("=")
        if not sep or not name or not topic:
            raise ValueError(f"camera entry {entry!r} is not name=topic")
    return entries


def _paths(text: str) -> list[str]:
    return [e.strip() for e in text.split(",") if e.strip()]


def _seed(text: str) -> int:
    try:
        seed = int(text)
    except ValueError:
        raise ValueError(f"argument seed:={text!r}: expected a non-negative integer") from None
    if seed < 0:
        raise ValueError(f"argument seed:={text!r}: expected a non-negative integer")
    return seed


def _sim_bus(text: str) -> str:
    if text not in TRANSPORTS:
        raise ValueError(f"expected one of {', '.join(TRANSPORTS)}")
    return text


def _speed_scale(text: str) -> float:
    try:
        scale = float(text)
    except ValueError:
        raise ValueError(f"argument speed_scale:={text!r}: expected a number in (0, 1]") from None
    if not 0.0 < scale <= 1.0:
        raise ValueError(f"argument speed_scale:={text!r}: expected a number in (0, 1]")
    return scale


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise ValueError(f"argument foxglove_port:={text!r}: expected a TCP port, 0 to 65535") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"argument foxglove_port:={text!r}: expected a TCP port, 0 to 65535")
    return port


def _world(text: str, sim: bool, enclaves: bool) -> str:
    """The world argument, checked: a known name, sim:=true for the twin, and the twin installed."""
    try:
        world = check_world_name(text.strip())
        if world == "mujoco":
            if not sim:
                raise WorldUnavailable("the mujoco world is the simulated arm's: it needs sim:=true")
            if enclaves:
                raise WorldUnavailable("the twin has no SROS2 enclave yet: run it with enclaves:=false")
            from so100_driver.twin.model import require_twin

            require_twin()
    except WorldUnavailable as exc:
        raise ValueError(f"argument world:={text!r}: {exc}") from None
    return world


def relative_namespace(text: str) -> str:
    """A namespace argument as a relative name ("arm1", "lab/arm1"); "" or "/" for none."""
    tokens = [t for t in text.strip().strip("/").split("/")] if text.strip().strip("/") else []
    bad = [t for t in tokens if not _NAME_TOKEN.fullmatch(t)]
    if bad:
        raise ValueError(f"argument namespace:={text!r}: {bad[0]!r} is not a valid name "
                         "(letters, digits and _, not starting with a digit)")
    return "/".join(tokens)


# inference:=NAME -> the arguments it stands for, where they are not given themselves. sync: the
# classic loop (rtc_sim_eval's mode sync): the arm holds while the policy infers, then runs the whole chunk.
INFERENCE_PRESETS: dict[str, dict[str, str]] = {
    "rtc": {},
    "sync": {"guidance_mode": GuidanceMode.OFF.value, "executor_mode": MergeMode.REPLACE.value, "trigger_remaining": "0"},
}

# argument -> (node, parameter, parser): where a non-empty argument lands.
_OVERRIDES: dict[str, tuple[str, str, Callable[[str], Any]]] = {
    "port": ("so100_driver", "port", str),
    "calibration_file": ("so100_driver", "calibration_file", str),
    "policy_path": ("rtc_policy", "policy_path", str),
    "device": ("rtc_policy", "device", str),
    "guidance_mode": ("rtc_policy", "guidance_mode", str),
    "executor_mode": ("rtc_executor", "mode", str),
    "command_type": ("rtc_executor", "command_type", str),
    "execution_horizon": ("rtc_policy", "execution_horizon", int),
    "max_guidance_weight": ("rtc_policy", "max_guidance_weight", float),
    "schedule": ("rtc_policy", "schedule", str),
    "control_rate_hz": ("rtc_executor", "control_rate_hz", float),
    "interpolation": ("rtc_executor", "interpolation", int),
    "interpolation_mode": ("rtc_executor", "interpolation_mode", str),
    "speed_scale": ("rtc_executor", "speed_scale", _speed_scale),
    "extra_latency_ms": ("rtc_policy", "extra_latency_ms", float),
    "extra_latency_sequence_ms": ("rtc_policy", "extra_latency_sequence_ms", _numbers),
    "task": ("rtc_policy", "task", str),
    "use_torch_compile": ("rtc_policy", "use_torch_compile", _bool),
    "warmup_inferences": ("rtc_policy", "warmup_inferences", int),
    "trigger_remaining": ("rtc_policy", "trigger_remaining", int),
    "delay_margin_ticks": ("rtc_policy", "delay_margin_ticks", int),
    "debug_denoising": ("rtc_policy", "debug_denoising", str),
    "signing_key": ("rtc_policy", "signing_key_file", str),
    "trusted_keys": ("rtc_executor", "trusted_keys", _paths),
    "allow_unsigned": ("rtc_executor", "allow_unsigned", _bool),
    "retarget_after_s": ("sim_camera", "retarget_after_s", float),
    "sim_bus": ("so100_driver", "sim_bus", _sim_bus),
}

# node -> the SROS2 enclave (security identity) it runs in with enclaves:=true; rtc_sros2 writes
# their keys and permissions. The monitor enclave is for viewers (Foxglove, ros2 topic echo, record).
NODE_ENCLAVES = {
    "so100_driver": "/rtc/driver",
    "sim_camera": "/rtc/camera",
    "twin": "/rtc/twin",
    "rtc_camera": "/rtc/cameras",
    "rtc_policy": "/rtc/policy",
    "rtc_executor": "/rtc/executor",
    "robot_description": "/rtc/description",
    "foxglove_server": "/rtc/monitor",
}

_EXECUTABLES = {
    "so100_driver": ("so100_driver", "rtc_so100_driver"),
    "sim_camera": ("so100_driver", "rtc_sim_camera"),
    "twin": ("so100_driver", "rtc_twin"),
    "rtc_camera": ("rtc_camera", "rtc_camera"),
    "rtc_policy": ("rtc_policy_node", "rtc_policy_node"),
    "rtc_executor": ("rtc_executor", "rtc_executor"),
    "robot_description": ("rtc_bringup", "rtc_robot_description"),
    "foxglove_server": ("rtc_tools", "rtc_foxglove"),
}


def default_config_file(sim: bool, share_dir: Path) -> Path:
    return share_dir / "config" / ("so100_sim.yaml" if sim else "so100_rtc.yaml")


def load_parameter_file(path: Path) -> dict[str, dict[str, Any]]:
    """Read a ROS 2 parameter file into {node name key as written: {parameter: value}}.

    Nested namespace keys (`ns: {node: {ros__parameters: ...}}`) are flattened to "ns/node"."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise ValueError(f"cannot read parameter file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"parameter file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of node names")
    nodes: dict[str, dict[str, Any]] = {}

    def visit(prefix: str, mapping: dict) -> None:
        for key, body in mapping.items():
            name = f"{prefix}/{key}" if prefix else str(key)
            if not isinstance(body, dict):
                raise ValueError(f"{path}: node {name!r} has no ros__parameters mapping")
            if "ros__parameters" in body:
                if not isinstance(body["ros__parameters"], dict):
                    raise ValueError(f"{path}: node {name!r} has no ros__parameters mapping")
                nodes[name] = dict(body["ros__parameters"])
            else:
                visit(name, body)

    visit("", data)
    return nodes


def node_key_matches(key: str, fully_qualified_name: str) -> bool:
    """Whether a parameter-file node key applies to a node, with rcl's rules: a key without a
    leading slash is absolute ("rtc_policy" is "/rtc_policy"), `/*` stands for one namespace token
    or the node name, `/**` for any number of them (so "/**" matches every node)."""
    absolute = key if key.startswith("/") else f"/{key}"
    pattern = re.escape(absolute).replace(r"/\*\*", r"(/\w+)*").replace(r"/\*", r"(/\w+)")
    return re.fullmatch(pattern, fully_qualified_name) is not None


def node_parameters(nodes: Mapping[str, Mapping[str, Any]], fully_qualified_name: str) -> dict[str, Any]:
    """The parameters a node takes from one loaded parameter file: every matching key, in file
    order, later values winning."""
    merged: dict[str, Any] = {}
    for key, params in nodes.items():
        if node_key_matches(key, fully_qualified_name):
            merged.update(params)
    return merged


def effective_parameters(spec: NodeSpec) -> dict[str, Any]:
    """The parameters the node will run with: its parameter files' matching keys, then its overrides
    (what rcl makes of `--params-file` given in that order; parameters the files leave out keep the
    node's own defaults and are not listed)."""
    merged: dict[str, Any] = {}
    for path in spec.parameter_files:
        merged.update(node_parameters(load_parameter_file(path), spec.fully_qualified_name))
    return {**merged, **spec.overrides}


def policy_camera_topics(specs: list[NodeSpec]) -> list[str]:
    """The image topics the policy node reads (its `camera_topics`, wherever the file or an argument set
    them), for the viewers and the recorder; empty when the graph has no policy or the node's default."""
    for spec in specs:
        if spec.name == "rtc_policy":
            return [entry.partition("=")[2] for entry in effective_parameters(spec).get("camera_topics") or ()]
    return []


def overrides_file_text(spec: NodeSpec) -> str:
    """The parameter file of a node's overrides, keyed by its fully qualified name. Written as a
    file (not a launch_ros dict, whose strings launch_ros re-reads as YAML) so a task "1" stays text."""
    return yaml.safe_dump({spec.fully_qualified_name: {"ros__parameters": spec.overrides}})
def trace_dir(arguments: Mapping[str, str]) -> Path | None:
    """Where trace:=true writes the trace; None without trace:=true."""
    text = arguments.get("trace", "false")
    try:
        wanted = _bool(text)
    except ValueError as exc:
        raise ValueError(f"argument trace:={text!r}: {exc}") from exc
    if not wanted:
        return None
    return Path(arguments.get("trace_dir", "") or time.strftime("rtc_trace_%Y%m%d_%H%M%S"))


# Nodes whose exit does not stop the graph: without the policy the executor holds and the driver holds
# with it (docs/safety.md), so a policy that dies does not take the arm down.
OUTLIVED_NODES = frozenset({"rtc_policy"})

# Nodes with a SCHED_FIFO control loop: their DDS goes over UDP only (rtc_bringup.control_loop_transport)
CONTROL_LOOP_NODES = frozenset({"so100_driver", "rtc_executor"})

DISCOVERY_RANGES = ("LOCALHOST", "SUBNET", "SYSTEM_DEFAULT", "OFF")


def discovery_environment(arguments: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """The nodes' ROS_AUTOMATIC_DISCOVERY_RANGE: the argument, else the environment's, else LOCALHOST
    (a graph that drives an arm talks to this host only unless told otherwise)."""
    text = arguments.get("discovery_range", "").strip() or environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE", "")
    value = text.strip().upper() or "LOCALHOST"
    if value not in DISCOVERY_RANGES:
        raise ValueError(f"argument discovery_range:={text!r}: expected one of {', '.join(DISCOVERY_RANGES)}")
    return {"ROS_AUTOMATIC_DISCOVERY_RANGE": value}


# The modules whose PARAMETERS hold a node's own defaults (where neither the file nor an argument
# sets a parameter).
_NODE_MODULES = {"so100_driver": "so100_driver.driver_node", "rtc_executor": "rtc_executor.executor_node"}


def _with_node_defaults(node: NodeSpec, params: Mapping[str, Any]) -> dict[str, Any]:
    """`params` over the node's own defaults; LeRobot's names as ours. (The node module is imported
    here only: it imports rclpy.)"""
    import importlib

    from rtc_runtime.parameters import defaults

    return {**defaults(importlib.import_module(_NODE_MODULES[node.name]).PARAMETERS), **with_our_names(params)}


def _driver_keeps_up(driver: NodeSpec, executor: NodeSpec, file_params: Mapping[str, Mapping[str, Any]],
                     driver_overrides: dict[str, Any]) -> None:
    """Raise the driver's rate_hz to the executor's command rate (control_rate_hz x interpolation)
    when it is lower: a driver slower than its commands would skip some of them."""
    executor_params = _with_node_defaults(executor, {**node_parameters(file_params, executor.fully_qualified_name),
                                                     **executor.overrides})
    command_rate = float(executor_params["control_rate_hz"]) * int(executor_params["interpolation"])
    driver_params = _with_node_defaults(driver, {**node_parameters(file_params, driver.fully_qualified_name),
                                                 **driver.overrides})
    if float(driver_params["rate_hz"]) < command_rate:
        driver_overrides["rate_hz"] = command_rate


DRY_RUN_MAX_SEAM = round(2 * math.pi, 4)  # rad: farther than any two positions of a joint: no seam check
GUARD_PARAMETERS = ("joint_names", "position_lower_limits", "position_upper_limits", "max_velocity",
                    "max_acceleration")


def _real_arm_policy(policy: NodeSpec, file_params: Mapping[str, Mapping[str, Any]]) -> None:
    """sim:=false: a checkpoint is required, from the argument or the parameter file."""
    if not str({**node_parameters(file_params, policy.fully_qualified_name), **policy.overrides}
               .get("policy_path", "")).strip():
        raise ValueError("argument policy_path is required with sim:=false: the built-in checkpoint was trained "
                         "on the simulated task (give your checkpoint's directory or hub id)")


def _twin_policy(policy: NodeSpec, file_params: Mapping[str, Mapping[str, Any]], overrides: dict[str, Any]) -> None:
    """world:=mujoco with no policy given: the built-in checkpoint trained on the twin. Unless an argument
    or the file names the cameras, the twin's camera topics that checkpoint (or a local checkpoint given,
    when the twin renders all its cameras) takes as input."""
    from so100_driver.twin.cameras import CAMERA_NAMES

    params = {**node_parameters(file_params, policy.fully_qualified_name), **policy.overrides}
    given = str(params.get("policy_path", "")).strip()
    path = Path(given) if given else shipped_checkpoint_path(TWIN_CHECKPOINT)
    if not given:
        overrides["policy_path"] = str(path)
    cameras = checkpoint_cameras(path) if (path / "config.json").is_file() else []
    if "camera_topics" not in params and cameras and set(cameras) <= set(CAMERA_NAMES):
        overrides["camera_topics"] = [f"{name}={image_topic(name)}" for name in cameras]


def _real_arm(values: Mapping[str, str], overrides: dict[str, dict[str, Any]]) -> None:
    """sim:=false: robot_id finds the calibration file."""
    robot_id = values["robot_id"].strip()
    if robot_id:
        if values["calibration_file"].strip():
            raise ValueError("arguments robot_id and calibration_file name the same file: give one of them")
        try:
            overrides["so100_driver"]["calibration_file"] = str(find_robot_calibration(robot_id, LEROBOT_ROBOT_NAMES))
        except CalibrationError as exc:
            raise ValueError(f"argument robot_id:={robot_id!r}: {exc}") from None


def _cameras(text: str, sim: bool, overrides: dict[str, dict[str, Any]]) -> bool:
    """The cameras argument: the policy's camera topics (name=topic,...), or LeRobot's cameras for an
    rtc_camera node (True: start it), whose camera/<name>/image_raw topics the policy then reads."""
    if not text:
        return False
    if not text.startswith("{"):
        try:
            overrides["rtc_policy"]["camera_topics"] = camera_entries(text)
        except ValueError as exc:
            raise ValueError(f"argument cameras:={text!r}: {exc}") from exc
        return False
    if sim:
        raise ValueError("argument cameras in LeRobot's syntax needs sim:=false (the simulated arm has its camera)")
    try:
        specs = parse_cameras(text)
    except ValueError as exc:
        raise ValueError(f"argument cameras: {exc}") from None
    overrides["rtc_camera"]["cameras"] = text
    overrides["rtc_policy"]["camera_topics"] = [f"{s.name}={image_topic(s.name)}" for s in specs]
    return True


def _guard_from_calibration(calibration: str, executor: NodeSpec, file_params: Mapping[str, Mapping[str, Any]],
                            executor_overrides: dict[str, Any]) -> None:
    """The guard's envelope from the arm's calibration (so100_driver.safety's, which
    `python -m so100_driver.safety CAL.json` prints), for each guard parameter the file leaves out."""
    try:
        envelope = executor_guard_parameters(load_calibration(calibration))
    except CalibrationError as exc:
        raise ValueError(f"calibration for the guard envelope: {exc}") from None
    in_file = node_parameters(file_params, executor.fully_qualified_name)
    executor_overrides.update({k: v for k, v in envelope.items() if k not in in_file and k not in executor_overrides})


def guard_envelope(specs: list[NodeSpec]) -> str:
    """One line with the executor's guard envelope as the graph gives it (for the starters to log once)."""
    executor = next((s for s in specs if s.name == "rtc_executor"), None)
    if executor is None:
        return "guard envelope: no rtc_executor in this part of the graph"
    params = effective_parameters(executor)
    return "guard envelope (rtc_executor): " + ", ".join(
        f"{k}={params[k]}" if k in params else f"{k}=(node default)" for k in GUARD_PARAMETERS)


def build_graph(arguments: Mapping[str, str], share_dir: Path) -> list[NodeSpec]:
    """The nodes to start for these launch arguments; `share_dir` is rtc_bringup's share directory."""
    unknown = set(arguments) - ARGUMENT_NAMES
    if unknown:
        raise ValueError(f"unknown argument(s) {sorted(unknown)}; known: {sorted(ARGUMENT_NAMES)}")
    values = {a.name: arguments.get(a.name, a.default) for a in ARGUMENTS}
    given = {name: text for name, text in values.items() if text.strip() and name in _OURS | set(LEROBOT_NAMES)}
    values.update(with_our_names(given, where="argument"))  # LeRobot's names as ours
    preset = values["inference"].strip()
    if preset not in INFERENCE_PRESETS:
        raise ValueError(f"argument inference:={preset!r}: expected one of {', '.join(INFERENCE_PRESETS)}")
    for name, text in INFERENCE_PRESETS[preset].items():
        values[name] = values[name] if values[name].strip() else text
    flags = {}
    for name in ("sim", "driver", "robot_description", "foxglove", "enclaves", "dry_run"):
        try:
            flags[name] = _bool(values[name])
        except ValueError as exc:
            raise ValueError(f"argument {name}:={values[name]!r}: {exc}") from exc
    sim = flags["sim"]
    if sim and not flags["driver"]:
        raise ValueError("argument driver:=false needs sim:=false (the simulated arm is the driver's)")
    world = _world(values["world"], sim, flags["enclaves"])
    namespace = relative_namespace(values["namespace"])
    config = Path(values["config_file"]) if values["config_file"] else default_config_file(sim, share_dir)
    config = config.resolve()
    file_params = load_parameter_file(config)

    overrides: dict[str, dict[str, Any]] = {n: {} for n in _EXECUTABLES}
    for name, (node, parameter, parse) in _OVERRIDES.items():
        text = values[name].strip()
        if text:
            try:
                overrides[node][parameter] = parse(text)
            except ValueError as exc:
                raise ValueError(f"argument {name}:={text!r}: {exc}") from exc
    if values["sim_bus"].strip() and not (sim and world == "kinematic"):
        raise ValueError("argument sim_bus needs sim:=true and world:=kinematic (the driver's own emulated bus)")
    twin_link = ""
    if world == "mujoco":  # the driver runs as on a real arm, on the twin's bus
        twin_link = values["port"].strip() or str(Path(tempfile.gettempdir()) / f"rtc_twin_{os.getpid()}_so100")
        overrides["twin"].update(seed=_seed(values["seed"]), link=twin_link)
        overrides["so100_driver"].update(sim=False, port=twin_link)
        overrides["so100_driver"].setdefault("calibration_file", str(default_calibration_path()))
    else:
        overrides["so100_driver"]["sim"] = sim
    if flags["dry_run"]:
        if not flags["driver"]:
            raise ValueError("argument dry_run:=true needs the so100_driver (driver:=true)")
        overrides["so100_driver"]["dry_run"] = True
        # The arm does not follow, so each new chunk starts where the arm still is, not where the last
        # command went: the seam check would refuse every chunk after the first. Every other check stays.
        overrides["rtc_executor"]["guard_max_seam"] = DRY_RUN_MAX_SEAM
        overrides["rtc_executor"]["tracking_tolerance"] = [math.inf]  # nor can it track its commands
    if not sim:
        _real_arm(values, overrides)
        # fail closed: no chunk from just any process on the domain drives a real arm
        overrides["rtc_executor"]["require_trusted_keys"] = True
    if not flags["driver"]:  # ros2_control publishes the joint states the executor trusts
        overrides["rtc_executor"].setdefault("state_publisher", "joint_state_broadcaster")
    camera_node = _cameras(values["cameras"].strip(), sim, overrides)
    if sim and world == "kinematic":  # camera and emulated arm show one scene: the arm starts at its start pose
        seed = _seed(values["seed"])
        overrides["sim_camera"]["seed"] = seed
        overrides["so100_driver"]["sim_task_seed"] = seed

    def spec(name: str) -> NodeSpec:
        return NodeSpec(*_EXECUTABLES[name], name=name, namespace=namespace, parameter_files=(config,),
                        overrides=overrides[name], enclave=NODE_ENCLAVES[name] if flags["enclaves"] else "",
                        waits_for=twin_link if name == "so100_driver" else "")

    # The policy converts radians to the policy's units, and the URDF takes its joint limits, with
    # the calibration the driver uses, wherever the file or an argument set it (in sim: the
    # simulated arm's, which the driver defaults to).
    driver = spec("so100_driver")
    calibration = {**node_parameters(file_params, driver.fully_qualified_name), **driver.overrides} \
        .get("calibration_file", "") or (str(default_calibration_path()) if sim else "")
    if calibration:
        overrides["rtc_policy"]["calibration_file"] = calibration
        overrides["robot_description"]["calibration_file"] = calibration

    if sim or flags["driver"]:
        _driver_keeps_up(spec("so100_driver"), spec("rtc_executor"), file_params, overrides["so100_driver"])
    if not sim:
        _real_arm_policy(spec("rtc_policy"), file_params)
    if world == "mujoco":
        _twin_policy(spec("rtc_policy"), file_params, overrides["rtc_policy"])
    if calibration and not sim:
        _guard_from_calibration(calibration, spec("rtc_executor"), file_params, overrides["rtc_executor"])
    if world == "mujoco":  # physics a control tick behind the wall clock is the twin's ERROR
        executor = spec("rtc_executor")
        overrides["twin"]["control_rate_hz"] = float(_with_node_defaults(
            executor, {**node_parameters(file_params, executor.fully_qualified_name), **executor.overrides})
            ["control_rate_hz"])

    names = ["twin", "so100_driver", "rtc_policy", "rtc_executor"] if world == "mujoco" else \
        ["so100_driver", "sim_camera", "rtc_policy", "rtc_executor"] if sim else \
        ["so100_driver", "rtc_policy", "rtc_executor"] if flags["driver"] else ["rtc_policy", "rtc_executor"]
    if camera_node:  # before the policy, so its first frames are there when the policy starts
        names.insert(names.index("rtc_policy"), "rtc_camera")
    if flags["robot_description"]:
        names.append("robot_description")
    if flags["foxglove"]:  # a viewer only: it subscribes, in its own process, and is started last
        overrides["foxglove_server"]["port"] = _port(values["foxglove_port"])
        cameras = policy_camera_topics([spec("rtc_policy")])
        if cameras:
            overrides["foxglove_server"]["camera_topics"] = cameras
        names.append("foxglove_server")
    return [spec(n) for n in names]
