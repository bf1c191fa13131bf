"""The graph description, and the launch file checked against it with stand-ins for `launch`.

`launch`/`launch_ros` are not installable here; the stand-ins below record what the launch file
asks for, so the test proves the launch file starts exactly the nodes `build_graph` describes.
"""
from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import pytest

from rtc_bringup.graph import ARGUMENTS, build_graph, load_parameter_file

PKG = Path(__file__).resolve().parents[1]


def test_sim_graph_has_the_five_roles_with_config_defaults():
    specs = build_graph({}, PKG)
    assert [s.name for s in specs] == ["so100_driver", "sim_camera", "rtc_policy", "rtc_executor"]
    by_name = {s.name: s for s in specs}
    assert by_name["so100_driver"].parameters["sim"] is True
    assert by_name["rtc_executor"].parameters["control_rate_hz"] == 30.0
    assert by_name["rtc_policy"].parameters["camera_topics"] == ["front=/camera/front/image_raw"]
    assert (by_name["rtc_policy"].package, by_name["rtc_policy"].executable) == ("rtc_policy_node", "policy_node")


def test_arguments_override_the_parameter_file_with_types():
    specs = {s.name: s for s in build_graph(
        {"sim": "false", "port": "/dev/ttyUSB0", "control_rate_hz": "100", "execution_horizon": "20",
         "guidance_mode": "identity", "executor_mode": "replace", "extra_latency_ms": "200",
         "calibration_file": "/tmp/arm.json", "cameras": "front=/a/image,wrist=/b/image"}, PKG)}
    assert "sim_camera" not in specs
    assert specs["so100_driver"].parameters["port"] == "/dev/ttyUSB0"
    assert specs["so100_driver"].parameters["sim"] is False
    assert specs["rtc_executor"].parameters["control_rate_hz"] == 100.0
    assert specs["rtc_executor"].parameters["mode"] == "replace"
    assert specs["rtc_policy"].parameters["execution_horizon"] == 20
    assert specs["rtc_policy"].parameters["extra_latency_ms"] == 200.0
    assert specs["rtc_policy"].parameters["calibration_file"] == "/tmp/arm.json"
    assert specs["rtc_policy"].parameters["camera_topics"] == ["front=/a/image", "wrist=/b/image"]


@pytest.mark.parametrize("arguments, message", [
    ({"bogus": "1"}, "unknown argument"),
    ({"sim": "maybe"}, "sim"),
    ({"control_rate_hz": "fast"}, "control_rate_hz"),
    ({"cameras": "front"}, "name=/topic"),
    ({"config_file": "/nonexistent.yaml"}, "/nonexistent.yaml"),
])
def test_bad_arguments_are_named(arguments, message):
    with pytest.raises(ValueError, match=message):
        build_graph(arguments, PKG)


def test_seed_reaches_camera_and_emulated_arm_in_sim_only():
    specs = {s.name: s for s in build_graph({"seed": "7"}, PKG)}
    assert specs["sim_camera"].parameters["seed"] == 7
    assert specs["so100_driver"].parameters["sim_task_seed"] == 7
    real = {s.name: s for s in build_graph({"sim": "false", "seed": "7"}, PKG)}
    assert "sim_task_seed" not in real["so100_driver"].parameters
    with pytest.raises(ValueError, match="seed"):
        build_graph({"seed": "-1"}, PKG)


_NODE_MODULES = {
    "so100_driver": "so100_driver.driver_node",
    "sim_camera": "so100_driver.sim_camera_node",
    "rtc_policy": "rtc_policy_node.policy_node",
    "rtc_executor": "rtc_policy_node.executor_node",
}


@pytest.mark.parametrize("arguments", [{}, {"sim": "false"}])
def test_every_parameter_the_graph_sets_is_one_its_node_declares(arguments):
    """rclpy silently ignores undeclared parameters from a file: a typo would go unnoticed."""
    for spec in build_graph(arguments, PKG):
        source = Path(importlib.util.find_spec(_NODE_MODULES[spec.name]).origin).read_text()
        undeclared = [p for p in spec.parameters if f'"{p}"' not in source]
        assert not undeclared, f"{spec.name} does not declare {undeclared}"


def test_every_launch_argument_is_documented():
    table = (PKG.parent / "docs" / "bringup.md").read_text()
    assert [a.name for a in ARGUMENTS if f"| `{a.name}` |" not in table] == []


def test_both_config_files_are_valid_parameter_files():
    for name in ("so100_sim.yaml", "so100_rtc.yaml"):
        nodes = load_parameter_file(PKG / "config" / name)
        assert {"so100_driver", "rtc_executor", "rtc_policy"} <= set(nodes)


class _Recorder:
    """Stands in for a launch class: keeps its constructor arguments."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


def _stub_launch_modules(monkeypatch, arguments: dict[str, str]) -> None:
    class LaunchConfiguration(_Recorder):
        def perform(self, context):
            return context[self.args[0]]

    modules = {
        "launch": {"LaunchDescription": _Recorder},
        "launch.actions": {"DeclareLaunchArgument": _Recorder, "OpaqueFunction": _Recorder},
        "launch.substitutions": {"LaunchConfiguration": LaunchConfiguration},
        "launch_ros": {},
        "launch_ros.actions": {"Node": _Recorder},
        "ament_index_python.packages": {"get_package_share_directory": lambda _pkg: str(PKG)},
    }
    for name, attrs in modules.items():
        module = types.ModuleType(name)
        module.__dict__.update(attrs)
        monkeypatch.setitem(sys.modules, name, module)


@pytest.mark.parametrize("arguments", [{}, {"sim": "false", "port": "/dev/ttyUSB1", "guidance_mode": "prefix"}])
def test_launch_file_starts_exactly_the_described_graph(monkeypatch, arguments):
    _stub_launch_modules(monkeypatch, arguments)
    spec = importlib.util.spec_from_file_location("so100_rtc_launch", PKG / "launch" / "so100_rtc.launch.py")
    launch_file = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(launch_file)

    description = launch_file.generate_launch_description()
    entities = description.args[0]
    declared = {e.args[0]: e.kwargs["default_value"] for e in entities if "default_value" in e.kwargs}
    assert declared == {a.name: a.default for a in ARGUMENTS}
    opaque = [e for e in entities if "function" in e.kwargs]
    assert len(opaque) == 1
    context = {**declared, **arguments}
    nodes = opaque[0].kwargs["function"](context)

    expected = build_graph(context, PKG)
    assert [(n.kwargs["package"], n.kwargs["executable"], n.kwargs["name"]) for n in nodes] == \
        [(s.package, s.executable, s.name) for s in expected]
    assert [n.kwargs["parameters"] for n in nodes] == [[s.parameters] for s in expected]
    assert [n.kwargs["remappings"] for n in nodes] == [list(s.remappings) for s in expected]
