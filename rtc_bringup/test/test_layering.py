"""The packages are cut by where their code runs, and import in one direction only.

    rank 0  rtc_msgs, lerobot_calibration, rtc_contract                (both hosts; no torch)
    rank 1  rtc_runtime                                                (both hosts' node runtime; no torch)
    rank 2  rtc_executor, so100_driver, rtc_camera (arm host; no torch)  rtc_policy_node (policy host; torch)
    rank 3  rtc_tools                                                  (recording, analysis, live view)
    rank 4  rtc_bringup, rtc_sim_eval                                  (what starts and evaluates it all)

A package's code imports first-party packages of a lower rank only (never one beside or above it),
and every ROS or first-party package it imports is declared in its package.xml (test_manifests.py
checks the third-party keys too). The arm side must not pull torch in, also not through an import
of an import: that is checked on the real import in a fresh interpreter.
"""
from __future__ import annotations

import ast
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RANKS = {
    "rtc_msgs": 0, "lerobot_calibration": 0, "rtc_contract": 0,
    "rtc_runtime": 1,
    "rtc_executor": 2, "so100_driver": 2, "rtc_camera": 2, "rtc_policy_node": 2,
    "rtc_tools": 3,
    "rtc_bringup": 4, "rtc_sim_eval": 4,
}
# ROS packages our code imports (first-party ones are RANKS); the import name is the package name.
ROS_PACKAGES = {"rclpy", "ament_index_python", "launch", "launch_ros", "xacro", "builtin_interfaces",
                "std_msgs", "std_srvs", "sensor_msgs", "diagnostic_msgs", "trajectory_msgs", "rcl_interfaces",
                "rosgraph_msgs"}
# What each arm-side package must never import, directly (here) or indirectly (the subprocess test).
FORBIDDEN = {"rtc_contract": {"rclpy", "torch", "lerobot"}, "rtc_executor": {"torch", "lerobot"},
             "so100_driver": {"torch"}, "rtc_runtime": {"torch"}, "rtc_camera": {"torch", "lerobot"}}


def python_packages() -> list[str]:
    return sorted(p.parent.name for p in ROOT.glob("*/package.xml")
                  if "<build_type>ament_python</build_type>" in p.read_text())


def imported_modules(package: str, tests: bool) -> dict[str, set[str]]:
    """{dotted module imported: files importing it} for the package's code (or its tests)."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        in_tests = path.relative_to(ROOT / package).parts[0] == "test"
        if path.name == "setup.py" or in_tests != tests:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def declared(package: str, *tags: str) -> set[str]:
    root = ET.parse(ROOT / package / "package.xml").getroot()
    return {e.text.strip() for tag in tags for e in root.findall(tag)}


def test_every_python_package_has_a_rank():
    assert sorted(set(python_packages()) - set(RANKS)) == []


@pytest.mark.parametrize("package", python_packages())
def test_code_imports_only_packages_of_a_lower_rank(package):
    wrong = {module: sorted(files) for module, files in imported_modules(package, tests=False).items()
             if module.split(".")[0] in RANKS and module.split(".")[0] != package
             and RANKS[module.split(".")[0]] >= RANKS[package]}
    assert wrong == {}, f"{package} (rank {RANKS[package]}) imports packages beside or above it"


def test_sim_eval_uses_only_the_executors_pure_core():
    from_executor = {m for m in imported_modules("rtc_sim_eval", tests=False) if m.split(".")[0] == "rtc_executor"}
    assert sorted(m for m in from_executor if not m.startswith("rtc_executor.core.")) == []


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_arm_side_code_does_not_import_the_policy_sides_libraries(package):
    imported = imported_modules(package, tests=False)
    assert sorted(m for m in imported if m.split(".")[0] in FORBIDDEN[package]) == []


@pytest.mark.parametrize("package", python_packages())
@pytest.mark.parametrize("tests", [False, True], ids=["code", "tests"])
def test_ros_and_first_party_imports_are_declared(package, tests):
    tops = {m.split(".")[0] for m in imported_modules(package, tests)} & (set(RANKS) | ROS_PACKAGES)
    have = declared(package, "exec_depend", "depend") | (declared(package, "test_depend") if tests else set())
    assert sorted(tops - have - {package}) == [], f"{package}/package.xml does not declare these"


def contract_modules() -> list[str]:
    return sorted(f"rtc_contract.{p.stem}" for p in (ROOT / "rtc_contract" / "rtc_contract").glob("*.py")
                  if p.stem != "__init__")


@pytest.mark.ros
@pytest.mark.parametrize("modules", [
    ["rtc_executor.executor_node"],
    ["so100_driver.driver_node"],
    ["rtc_camera.camera_node"],
    contract_modules(),
], ids=["executor_node", "driver_node", "camera_node", "rtc_contract"])
def test_arm_side_imports_leave_no_torch_in_sys_modules(modules):
    """The installed modules, imported in a fresh interpreter as the node's process imports them."""
    code = ("import importlib, sys\n"
            f"for name in {modules!r}:\n"
            "    importlib.import_module(name)\n"
            "    assert 'torch' not in sys.modules, name + ' imported torch'\n")
    result = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
