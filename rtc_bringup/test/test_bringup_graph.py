"""The graph description: nodes, parameter files and overrides, namespaces, rcl's key matching.

The launch file itself runs under the real launch/launch_ros in test_launch_ros.py; this file
checks the plain-data description both it and the runner start.
"""
from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest
import yaml

from so100_driver.arm import default_calibration_path

from rtc_bringup.graph import (ARGUMENTS, build_graph, load_parameter_file, node_key_matches, policy_camera_topics,
                               node_parameters, overrides_file_text)

PKG = Path(__file__).resolve().parents[1]
CALIBRATION = str(default_calibration_path())


def effective(spec) -> dict:
    """What the node ends up with: its parameter files in order, then its overrides."""
    params: dict = {}
    for path in spec.parameter_files:
        params.update(node_parameters(load_parameter_file(path), spec.fully_qualified_name))
    return {**params, **spec.overrides}


def test_sim_graph_has_the_roles_with_config_defaults():
    specs = build_graph({}, PKG)
    assert [s.name for s in specs] == ["so100_driver", "sim_camera", "rtc_policy", "rtc_executor",
                                       "robot_description"]
    by_name = {s.name: s for s in specs}
    assert all(s.parameter_files == ((PKG / "config" / "so100_sim.yaml").resolve(),) for s in specs)
    assert effective(by_name["so100_driver"])["sim"] is True
    assert effective(by_name["rtc_executor"])["control_rate_hz"] == 30.0
    assert effective(by_name["rtc_policy"])["device"] == "cpu"
    assert (by_name["rtc_policy"].package, by_name["rtc_policy"].executable) == ("rtc_policy_node", "rtc_policy_node")


def test_arguments_override_the_parameter_file_with_types():
    specs = {s.name: s for s in build_graph(
        {"sim": "false", "port": "/dev/ttyUSB0", "control_rate_hz": "100", "execution_horizon": "20",
         "guidance_mode": "identity", "executor_mode": "replace", "extra_latency_ms": "200",
         "extra_latency_sequence_ms": "0,166.7,33", "calibration_file": CALIBRATION, "cameras": "front=/a/image,wrist=b/image",
         "command_type": "trajectory", "robot_description": "false", "policy_path": "/ckpt"}, PKG)}
    assert set(specs) == {"so100_driver", "rtc_policy", "rtc_executor"}
    assert specs["so100_driver"].overrides["port"] == "/dev/ttyUSB0"
    assert specs["so100_driver"].overrides["sim"] is False
    assert effective(specs["rtc_policy"])["device"] == "cuda"  # so100_rtc.yaml
    assert specs["rtc_executor"].overrides.items() >= {"control_rate_hz": 100.0, "mode": "replace",
                                                       "command_type": "trajectory"}.items()
    assert specs["rtc_policy"].overrides["execution_horizon"] == 20
    assert specs["rtc_policy"].overrides["extra_latency_ms"] == 200.0
    assert specs["rtc_policy"].overrides["extra_latency_sequence_ms"] == [0.0, 166.7, 33.0]
    assert specs["rtc_policy"].overrides["calibration_file"] == CALIBRATION
    assert specs["rtc_policy"].overrides["camera_topics"] == ["front=/a/image", "wrist=b/image"]


@pytest.mark.parametrize("arguments, message", [
    ({"bogus": "1"}, "unknown argument"),
    ({"sim": "maybe"}, "sim"),
    ({"robot_description": "maybe"}, "robot_description"),
    ({"control_rate_hz": "fast"}, "control_rate_hz"),
    ({"interpolation": "1.5"}, "interpolation"),
    ({"speed_scale": "0"}, "speed_scale"),
    ({"speed_scale": "1.5"}, "speed_scale"),
    ({"speed_scale": "half"}, "speed_scale"),
    ({"cameras": "front"}, "name=topic"),
    ({"config_file": "/nonexistent.yaml"}, "/nonexistent.yaml"),
    ({"namespace": "arm-1"}, "namespace"),
    ({"namespace": "1arm"}, "namespace"),
    ({"foxglove": "maybe"}, "foxglove"),
    ({"foxglove": "true", "foxglove_port": "80000"}, "foxglove_port"),
    ({"foxglove": "true", "foxglove_port": "http"}, "foxglove_port"),
    ({"sim_bus": "usb"}, "sim_bus:='usb': expected one of pty, socket"),
    ({"sim_bus": "socket", "world": "mujoco"}, "sim_bus needs sim:=true and world:=kinematic"),
    ({"sim_bus": "socket", "sim": "false", "policy_path": "ckpt"}, "sim_bus needs sim:=true"),
])
def test_bad_arguments_are_named(arguments, message):
    with pytest.raises(ValueError, match=message):
        build_graph(arguments, PKG)


def test_speed_scale_reaches_the_executor_only():
    specs = {s.name: s for s in build_graph({"speed_scale": "0.25"}, PKG)}
    assert specs["rtc_executor"].overrides["speed_scale"] == 0.25
    assert [name for name, spec in specs.items() if "speed_scale" in spec.overrides] == ["rtc_executor"]


def test_seed_reaches_camera_and_emulated_arm_in_sim_only():
    specs = {s.name: s for s in build_graph({"seed": "7"}, PKG)}
    assert specs["sim_camera"].overrides["seed"] == 7
    assert specs["so100_driver"].overrides["sim_task_seed"] == 7
    real = {s.name: s for s in build_graph({"sim": "false", "seed": "7", "policy_path": "ckpt"}, PKG)}
    assert "sim_task_seed" not in real["so100_driver"].overrides
    with pytest.raises(ValueError, match="seed"):
        build_graph({"seed": "-1"}, PKG)


@pytest.mark.parametrize("arguments, driver_rate_hz", [
    ({"interpolation": "3"}, 100.0),  # 90 Hz of commands: the file's 100 Hz keeps up
    ({"interpolation": "4"}, 120.0),
    ({"interpolation": "3", "control_rate_hz": "50"}, 150.0),
    ({"sim": "false", "interpolation": "5", "policy_path": "ckpt"}, 150.0),
])
def test_interpolation_reaches_the_executor_and_the_driver_keeps_up_with_it(arguments, driver_rate_hz):
    specs = {s.name: s for s in build_graph({**arguments, "interpolation_mode": "linear"}, PKG)}
    executor = effective(specs["rtc_executor"])
    assert executor["interpolation"] == int(arguments["interpolation"]) and executor["interpolation_mode"] == "linear"
    assert effective(specs["so100_driver"])["rate_hz"] == driver_rate_hz
    assert driver_rate_hz >= executor["control_rate_hz"] * executor["interpolation"]


def test_the_driver_rule_takes_the_nodes_own_defaults_from_their_specs(tmp_path, monkeypatch):
    # A file that sets neither rate: the rule compares the executor's and the driver's PARAMETERS defaults.
    from rtc_executor import executor_node
    from so100_driver import driver_node

    from rtc_runtime.parameters import ParameterSpec

    config = tmp_path / "empty.yaml"
    config.write_text("/**:\n  ros__parameters:\n    use_sim_time: false\n")
    specs = {s.name: s for s in build_graph({"config_file": str(config)}, PKG)}
    assert "rate_hz" not in specs["so100_driver"].overrides  # 30 Hz x 1 <= 100 Hz: untouched
    slower = tuple(ParameterSpec("rate_hz", 20.0, "test") if s.name == "rate_hz" else s for s in driver_node.PARAMETERS)
    monkeypatch.setattr(driver_node, "PARAMETERS", slower)
    specs = {s.name: s for s in build_graph({"config_file": str(config)}, PKG)}
    rate = next(s.default for s in executor_node.PARAMETERS if s.name == "control_rate_hz")
    assert specs["so100_driver"].overrides["rate_hz"] == rate


def test_lerobot_names_are_arguments_and_parameter_file_keys_too(tmp_path):
    specs = {s.name: s for s in build_graph({"prefix_attention_schedule": "EXP", "queue_threshold": "30",
                                             "interpolation_multiplier": "4", "compile_warmup_inferences": "2"}, PKG)}
    assert {k: specs["rtc_policy"].overrides[k] for k in ("schedule", "trigger_remaining", "warmup_inferences")} == \
        {"schedule": "EXP", "trigger_remaining": 30, "warmup_inferences": 2}
    assert specs["rtc_executor"].overrides["interpolation"] == 4
    assert effective(specs["so100_driver"])["rate_hz"] == 120.0  # 30 Hz x 4
    # in a parameter file (the node maps the name itself; the graph's driver rule reads it too)
    config = tmp_path / "lerobot.yaml"
    config.write_text(yaml.safe_dump({"/**/rtc_executor": {"ros__parameters": {
        "joint_names": ["a"], "interpolation_multiplier": 5}}}))
    specs = {s.name: s for s in build_graph({"config_file": str(config)}, PKG)}
    assert effective(specs["so100_driver"])["rate_hz"] == 150.0


def test_one_setting_under_both_names_with_different_values_is_one_clear_error():
    with pytest.raises(ValueError, match="argument schedule is given twice, as schedule = 'LINEAR' and "
                                         "prefix_attention_schedule = 'EXP': give one of them"):
        build_graph({"schedule": "LINEAR", "prefix_attention_schedule": "EXP"}, PKG)
    specs = {s.name: s for s in build_graph({"schedule": "EXP", "prefix_attention_schedule": "EXP"}, PKG)}
    assert specs["rtc_policy"].overrides["schedule"] == "EXP"


def test_inference_sync_is_the_synchronous_baseline_and_arguments_beat_it():
    specs = {s.name: s for s in build_graph({"inference": "sync"}, PKG)}
    assert {k: specs["rtc_policy"].overrides[k] for k in ("guidance_mode", "trigger_remaining")} == \
        {"guidance_mode": "off", "trigger_remaining": 0}
    assert specs["rtc_executor"].overrides["mode"] == "replace"
    specs = {s.name: s for s in build_graph({"inference": "sync", "trigger_remaining": "5"}, PKG)}
    assert specs["rtc_policy"].overrides["trigger_remaining"] == 5
    rtc = {s.name: s for s in build_graph({"inference": "rtc"}, PKG)}
    assert "guidance_mode" not in rtc["rtc_policy"].overrides and "mode" not in rtc["rtc_executor"].overrides
    with pytest.raises(ValueError, match="argument inference:='async': expected one of rtc, sync"):
        build_graph({"inference": "async"}, PKG)


def test_without_the_driver_the_arm_is_another_stacks():
    specs = {s.name: s for s in build_graph({"sim": "false", "driver": "false", "command_type": "trajectory",
                                             "calibration_file": CALIBRATION, "policy_path": "ckpt"}, PKG)}
    assert list(specs) == ["rtc_policy", "rtc_executor", "robot_description"]
    assert specs["rtc_policy"].overrides["calibration_file"] == CALIBRATION
    with pytest.raises(ValueError, match="driver:=false needs sim:=false"):
        build_graph({"driver": "false"}, PKG)


def test_foxglove_adds_the_live_view_server_last_with_its_port_and_the_cameras():
    assert "foxglove_server" not in {s.name for s in build_graph({}, PKG)}
    specs = build_graph({"foxglove": "true", "namespace": "arm1"}, PKG)
    assert (specs[-1].name, specs[-1].package, specs[-1].executable) == ("foxglove_server", "rtc_tools",
                                                                         "rtc_foxglove")
    assert specs[-1].fully_qualified_name == "/arm1/foxglove_server"
    assert specs[-1].overrides == {"port": 8765}  # its default topics: ours and the policy's default camera
    cameras = build_graph({"foxglove": "true", "foxglove_port": "9000", "cameras": "front=/a/image,wrist=b/image"},
                          PKG)[-1].overrides
    assert cameras == {"port": 9000, "camera_topics": ["/a/image", "b/image"]}


@pytest.mark.parametrize("arguments, topics", [
    ({}, []),  # the policy's default camera (the recorder and the viewer take it anyway)
    ({"world": "mujoco"}, ["camera/wrist/image_raw"]),  # what the twin checkpoint was trained on
    ({"cameras": "front=/a/image,wrist=b/image"}, ["/a/image", "b/image"]),
])
def test_the_policys_camera_topics_for_the_recorder_and_the_viewer(arguments, topics):
    assert policy_camera_topics(build_graph(arguments, PKG)) == topics
    assert policy_camera_topics([s for s in build_graph(arguments, PKG) if s.name != "rtc_policy"]) == []


@pytest.mark.parametrize("argument, namespace, fqn", [
    ("", "", "/rtc_policy"), ("/", "", "/rtc_policy"), ("arm1", "arm1", "/arm1/rtc_policy"),
    ("/lab/arm2/", "lab/arm2", "/lab/arm2/rtc_policy"),
])
def test_namespace_puts_every_node_under_it(argument, namespace, fqn):
    specs = build_graph({"namespace": argument}, PKG)
    assert {s.namespace for s in specs} == {namespace}
    policy = next(s for s in specs if s.name == "rtc_policy")
    assert policy.fully_qualified_name == fqn
    assert yaml.safe_load(overrides_file_text(policy)) == {fqn: {"ros__parameters": policy.overrides}}


@pytest.mark.parametrize("key, fqn, matches", [
    ("/**", "/rtc_policy", True), ("/**", "/a/b/rtc_policy", True),
    ("rtc_policy", "/rtc_policy", True), ("rtc_policy", "/arm1/rtc_policy", False),
    ("/rtc_policy", "/rtc_policy", True), ("/arm1/rtc_policy", "/arm1/rtc_policy", True),
    ("/arm1/rtc_policy", "/arm2/rtc_policy", False),
    ("/*/rtc_policy", "/arm1/rtc_policy", True), ("/*/rtc_policy", "/rtc_policy", False),
    ("/*/rtc_policy", "/a/b/rtc_policy", False),
    ("/**/rtc_policy", "/rtc_policy", True), ("/**/rtc_policy", "/a/b/rtc_policy", True),
    ("/**/rtc_policy", "/a/rtc_executor", False), ("/arm1/*", "/arm1/rtc_executor", True),
])
def test_node_keys_match_like_rcl(key, fqn, matches):
    """The same table is checked against real rclpy in test_launch_ros.py."""
    assert node_key_matches(key, fqn) is matches


def test_later_keys_win_and_nested_namespaces_flatten(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("/**/rtc_policy:\n  ros__parameters: {device: cuda, task: a}\n"
                    "/**:\n  ros__parameters: {device: cpu}\n"
                    "arm1:\n  rtc_policy:\n    ros__parameters: {task: b}\n")
    nodes = load_parameter_file(path)
    assert set(nodes) == {"/**/rtc_policy", "/**", "arm1/rtc_policy"}
    assert node_parameters(nodes, "/arm1/rtc_policy") == {"device": "cpu", "task": "b"}
    assert node_parameters(nodes, "/rtc_policy") == {"device": "cpu", "task": "a"}


def test_calibration_from_the_config_file_reaches_policy_and_description(tmp_path):
    config = tmp_path / "params.yaml"
    config.write_text((PKG / "config" / "so100_rtc.yaml").read_text() +
                      f"/**/so100_driver:\n  ros__parameters: {{calibration_file: {CALIBRATION}}}\n"
                      "/**/rtc_policy:\n  ros__parameters: {policy_path: /ckpt}\n")
    specs = {s.name: s for s in build_graph({"sim": "false", "config_file": str(config)}, PKG)}
    assert specs["rtc_policy"].overrides["calibration_file"] == CALIBRATION
    assert specs["robot_description"].overrides["calibration_file"] == CALIBRATION
    # A key for another namespace does not apply to this graph's driver.
    config.write_text((PKG / "config" / "so100_rtc.yaml").read_text() +
                      "/arm2/so100_driver:\n  ros__parameters: {calibration_file: /cal/arm2.json}\n")
    specs = {s.name: s for s in build_graph({"sim": "false", "config_file": str(config),
                                             "namespace": "arm1", "policy_path": "ckpt"}, PKG)}
    assert "calibration_file" not in specs["rtc_policy"].overrides


_NODE_MODULES = {
    "so100_driver": "so100_driver.driver_node",
    "sim_camera": "so100_driver.sim_camera_node",
    "twin": "so100_driver.twin_node",
    "rtc_camera": "rtc_camera.camera_node",
    "rtc_policy": "rtc_policy_node.policy_node",
    "rtc_executor": "rtc_executor.executor_node",
    "robot_description": "rtc_bringup.description_node",
    "foxglove_server": "rtc_tools.foxglove_server",
}
# Where each node's topic names are written: the live view's in its channel table.
_TOPIC_MODULES = {**_NODE_MODULES, "foxglove_server": "rtc_tools.foxglove_channels"}


def test_key_arguments_reach_the_policy_and_the_executor():
    specs = {s.name: s for s in build_graph({"signing_key": "/keys/policy.key",
                                             "trusted_keys": "/keys/policy.pub, /keys/trusted/"}, PKG)}
    assert specs["rtc_policy"].overrides["signing_key_file"] == "/keys/policy.key"
    assert specs["rtc_executor"].overrides["trusted_keys"] == ["/keys/policy.pub", "/keys/trusted/"]


@pytest.mark.parametrize("arguments", [{}, {"sim": "false", "policy_path": "ckpt"},
                                       {"sim": "false", "policy_path": "ckpt", "dry_run": "true",
                                        "calibration_file": str(default_calibration_path()),
                                        "cameras": "{front: {index_or_path: 0}}"},
                                       {"foxglove": "true", "cameras": "front=a/b"},
                                       {"signing_key": "a.key", "trusted_keys": "a.pub"}, {"world": "mujoco"},
                                       {"sim_bus": "socket"}])
def test_every_parameter_the_graph_sets_is_one_its_node_declares(arguments):
    """rclpy silently ignores undeclared parameters from a file: a typo would go unnoticed."""
    for spec in build_graph(arguments, PKG):
        source = Path(importlib.util.find_spec(_NODE_MODULES[spec.name]).origin).read_text()
        undeclared = [p for p in effective(spec) if f'"{p}"' not in source]
        assert not undeclared, f"{spec.name} does not declare {undeclared}"


def test_every_launch_argument_is_documented():
    table = (PKG.parent / "docs" / "bringup.md").read_text()
    assert [a.name for a in ARGUMENTS if f"| `{a.name}` |" not in table] == []


def test_both_config_files_apply_to_their_nodes_in_any_namespace():
    for name in ("so100_sim.yaml", "so100_rtc.yaml"):
        nodes = load_parameter_file(PKG / "config" / name)
        for node in ("so100_driver", "rtc_executor", "rtc_policy"):
            for fqn in (f"/{node}", f"/arm1/{node}", f"/lab/arm1/{node}"):
                assert node_parameters(nodes, fqn), (name, fqn)


def _module_tree(module: str) -> ast.Module:
    return ast.parse(Path(importlib.util.find_spec(module).origin).read_text())


def _imported_topics(tree: ast.Module, package: str) -> list[str]:
    """The topic names a node imports: *_TOPIC constants and the values of *_TOPICS tables of the
    project modules it imports them from (e.g. so100_driver.topics)."""
    names = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        source = f"{package}.{node.module}" if node.level else node.module
        wanted = {a.name for a in node.names if a.name.endswith(("_TOPIC", "_TOPICS"))}
        if not wanted or source.split(".")[0] not in ("so100_driver", "rtc_contract", "rtc_executor",
                                                        "rtc_policy_node", "rtc_tools", "rtc_bringup", "rtc_camera"):
            continue
        for assign in ast.walk(_module_tree(source)):
            if isinstance(assign, ast.Assign) and any(getattr(t, "id", "") in wanted for t in assign.targets):
                values = assign.value.values if isinstance(assign.value, ast.Dict) else [assign.value]
                names += [v.value for v in values if isinstance(v, ast.Constant)]
    return names


def _topic_names(module: str) -> list[str]:
    """String literals a node passes as topic names, directly, through a *_TOPIC constant, or
    imported from its package's topic constants."""
    tree = _module_tree(module)
    constants = {t.id: n.value.value for n in ast.walk(tree) if isinstance(n, ast.Assign)
                 for t in n.targets if isinstance(t, ast.Name) and isinstance(n.value, ast.Constant)}
    names = [v for k, v in constants.items() if k.endswith("_TOPIC")]
    names += [e.value for n in ast.walk(tree) if isinstance(n, ast.Assign)  # tables: *_TOPICS, TOPIC_TYPES keys
              for t in n.targets if isinstance(t, ast.Name) and t.id.endswith(("_TOPICS", "TOPIC_TYPES"))
              for e in getattr(n.value, "elts", None) or getattr(n.value, "keys", [])
              if isinstance(e, ast.Constant)]
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and getattr(call.func, "attr", "") in ("create_publisher", "create_subscription"):
            topic = call.args[1] if len(call.args) > 1 else None
            if isinstance(topic, ast.Constant):
                names.append(topic.value)
            elif isinstance(topic, ast.Name) and topic.id in constants:
                names.append(constants[topic.id])
    return names + _imported_topics(tree, module.rpartition(".")[0])


@pytest.mark.parametrize("module", sorted(set(_TOPIC_MODULES.values())))
def test_every_topic_is_relative_so_a_namespace_moves_it(module):
    names = _topic_names(module)
    assert names, f"no topic found in {module}"
    assert [n for n in names if n.startswith("/") and n != "/diagnostics"] == []


def test_discovery_stays_on_this_host_unless_widened():
    from rtc_bringup.graph import discovery_environment

    key = "ROS_AUTOMATIC_DISCOVERY_RANGE"
    assert discovery_environment({}, {}) == {key: "LOCALHOST"}
    assert discovery_environment({}, {key: "SUBNET"}) == {key: "SUBNET"}  # the user's environment
    assert discovery_environment({"discovery_range": "subnet"}, {key: "LOCALHOST"}) == {key: "SUBNET"}
    with pytest.raises(ValueError, match="discovery_range:='WAN'"):
        discovery_environment({"discovery_range": "WAN"}, {})


def test_a_real_arm_requires_trusted_keys_unless_unsigned_is_allowed_and_sim_does_not():
    def executor(arguments: dict) -> dict:
        return effective(next(s for s in build_graph(arguments, PKG) if s.name == "rtc_executor"))
    real = executor({"sim": "false", "policy_path": "ckpt"})
    assert real["require_trusted_keys"] is True and not real.get("allow_unsigned", False)
    assert real["state_publisher"] == "so100_driver"
    assert executor({"sim": "false", "policy_path": "ckpt", "allow_unsigned": "true"})["allow_unsigned"] is True
    assert executor({"sim": "false", "policy_path": "ckpt", "driver": "false"})["state_publisher"] == \
        "joint_state_broadcaster"
    assert "require_trusted_keys" not in executor({"sim": "true"})
