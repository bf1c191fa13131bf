"""Each package.xml declares what its code imports, through rosdep keys, and nothing it does not.

Imports are read from the sources (ast); every third-party top-level module maps to a rosdep key,
or to a pip distribution where rosdep has none (then the package.xml names it in a comment and the
README's install lines install it).
"""
from __future__ import annotations

import ast
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKSPACE_PACKAGES = tuple(sorted(p.parent.name for p in ROOT.glob("*/package.xml")))
PYTHON_PACKAGES = tuple(p for p in WORKSPACE_PACKAGES
                        if "<build_type>ament_python</build_type>" in (ROOT / p / "package.xml").read_text())

# top-level module -> rosdep key (ROS packages are their own key).
ROSDEP_KEYS = {
    "numpy": "python3-numpy", "yaml": "python3-yaml", "PIL": "python3-pil", "serial": "python3-serial",
    "matplotlib": "python3-matplotlib", "torch": "python3-torch", "pytest": "python3-pytest",
    "hypothesis": "python3-hypothesis", "cryptography": "python3-cryptography", "cv2": "python3-opencv", "tqdm": "python3-tqdm",
    **{ros: ros for ros in ("rclpy", "ament_index_python", "launch", "launch_ros", "xacro",
                            "builtin_interfaces", "std_msgs", "std_srvs", "sensor_msgs", "diagnostic_msgs",
                            "trajectory_msgs", "rcl_interfaces", "rosgraph_msgs", *WORKSPACE_PACKAGES)},
}
# top-level module -> pip distribution, for what has no rosdep key.
PIP_ONLY = {"lerobot": "lerobot", "rosbags": "rosbags", "scservo_sdk": "feetech-servo-sdk", "mcap": "mcap",
            "mcap_ros2": "mcap-ros2-support", "transformers": "transformers", "tokenizers": "tokenizers",
            "safetensors": "safetensors", "foxglove": "foxglove-sdk", "websockets": "websockets",
            "mujoco": "mujoco", "lz4": "lz4", "imageio_ffmpeg": "imageio-ffmpeg"}
# top-level module -> apt package, for what has neither a rosdep key nor a pip distribution we use.
APT_ONLY = {"lttngust": "python3-lttngust", "bt2": "python3-bt2"}
# Test modules and their helpers (test/*.py of any package) and the bench scripts a test imports
# (bench/*.py): tests import them by name, not as packages.
TEST_HELPERS = {path.stem for path in [*ROOT.glob("*/test/*.py"), *ROOT.glob("bench/*.py")]}
# Dependencies no import shows, with the reason.
NOT_IMPORTED = {
    "rtc_bringup": {"ros2launch": "`ros2 launch` runs the launch file",
                    "rtc_executor": "the graph starts its node", "rtc_policy_node": "the graph starts its node"},
    "rtc_tools": {"rtc_msgs": "bag_types reads the .msg files from rtc_msgs' share directory"},
}


def imports(files: list[Path]) -> set[str]:
    found: set[str] = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"setuptools"} - TEST_HELPERS


def sources(package: str, tests: bool) -> list[Path]:
    files = [p for p in (ROOT / package).rglob("*.py") if p.name != "setup.py"]
    return [p for p in files if (p.relative_to(ROOT / package).parts[0] == "test") == tests]


def declared(package: str, *tags: str) -> set[str]:
    root = ET.parse(ROOT / package / "package.xml").getroot()
    return {e.text.strip() for tag in tags for e in root.findall(tag)}


def keys(modules: set[str], package: str) -> tuple[set[str], set[str]]:
    """(rosdep keys, pip distributions) for these modules; an unknown module fails the test."""
    unknown = modules - set(ROSDEP_KEYS) - set(PIP_ONLY) - set(APT_ONLY)
    assert not unknown, \
        f"{package} imports {sorted(unknown)}: add to ROSDEP_KEYS, PIP_ONLY or APT_ONLY here and to package.xml"
    return ({ROSDEP_KEYS[m] for m in modules if m in ROSDEP_KEYS} - {package},
            {PIP_ONLY[m] for m in modules if m in PIP_ONLY})


@pytest.mark.parametrize("package", PYTHON_PACKAGES)
def test_exec_depends_are_exactly_the_imports(package):
    needed, _ = keys(imports(sources(package, tests=False)), package)
    needed |= set(NOT_IMPORTED.get(package, {}))
    have = declared(package, "exec_depend", "depend")
    assert sorted(needed - have) == [], f"{package}/package.xml lacks these exec_depends"
    assert sorted(have - needed) == [], f"{package}/package.xml declares these, but nothing imports them"


@pytest.mark.parametrize("package", PYTHON_PACKAGES)
def test_test_depends_cover_what_only_tests_import(package):
    needed, _ = keys(imports(sources(package, tests=True)), package)
    have = declared(package, "test_depend")
    runtime = declared(package, "exec_depend", "depend")
    assert sorted(needed - runtime - have) == [], f"{package}/package.xml lacks these test_depends"
    assert sorted(have - needed) == [], f"{package}/package.xml has test_depends no test imports"


def _comments(package: str) -> str:
    return " ".join(re.findall(r"<!--(.*?)-->", (ROOT / package / "package.xml").read_text(), re.S))


@pytest.mark.parametrize("package", PYTHON_PACKAGES)
def test_apt_only_imports_are_named_in_the_manifest_and_installed_by_the_readme(package):
    apt = {APT_ONLY[m] for m in imports(sources(package, tests=False)) if m in APT_ONLY}
    assert [a for a in sorted(apt) if a not in _comments(package)] == [], \
        f"{package}/package.xml must say in a comment which apt packages without a rosdep key it needs"
    apt_lines = [line for line in _apt_install_section().splitlines() if "apt-get install" in line]
    assert [a for a in sorted(apt) if not any(a in line.split() for line in apt_lines)] == []


def _pinned_rosdep_keys() -> tuple[str, dict[str, str]]:
    """(the header naming the rosdistro commit, key -> the rosdistro file defining it)."""
    lines = (ROOT / "tools" / "rosdep_keys.txt").read_text().splitlines()
    header = " ".join(line for line in lines if line.startswith("#"))
    return header, dict(line.split("\t") for line in lines if line and not line.startswith("#"))


def test_every_manifest_key_is_a_workspace_package_or_a_pinned_rosdep_key():
    """What `rosdep install --from-paths` resolves, checked offline: a key it does not know stops it."""
    header, pinned = _pinned_rosdep_keys()
    assert re.search(r"commit [0-9a-f]{40}", header), "tools/rosdep_keys.txt must name its rosdistro commit"
    bad = {}
    for package in WORKSPACE_PACKAGES:
        for key in declared(package, *(f"{kind}depend" for kind in
                                       ("", "build_", "buildtool_", "build_export_", "exec_", "test_", "doc_"))):
            if key not in WORKSPACE_PACKAGES and key not in pinned:
                bad.setdefault(package, []).append(key)
    assert bad == {}, "no rosdep key at the pinned rosdistro commit: leave out with the reason in a comment, " \
                      "or regenerate tools/rosdep_keys.txt with tools/rosdep_keys.py"
    assert set(pinned.values()) <= {"rosdep/base.yaml", "rosdep/python.yaml", "kilted/distribution.yaml"}


def _apt_install_section() -> str:
    return (ROOT / "README.md").read_text().split("## With ROS 2 from apt", 1)[1].split("\n## ", 1)[0]


def _requirement_names(lines) -> set[str]:
    return {re.split(r"[=<>;\[ ]", line.strip().strip("'\""))[0].lower()
            for line in lines if line.strip() and not line.strip().startswith("#")}


def _readme_pip_distributions() -> set[str]:
    """Distributions the README's 'With ROS 2 from apt' lines install with pip (files given with -r
    are read from this checkout)."""
    names: set[str] = set()
    for line in _apt_install_section().splitlines():
        if not re.match(r"\s*pip install ", line):
            continue
        words = line.split("#")[0].split()[2:]
        for flag, value in zip(words, words[1:] + [""]):
            if flag == "-r":
                names |= _requirement_names((ROOT / value.split("rtc-ros2/", 1)[1]).read_text().splitlines())
        names |= _requirement_names(w for w, before in zip(words, [""] + words)
                                    if not w.startswith("-") and before not in ("-r", "-c"))
    return names


@pytest.mark.parametrize("package", PYTHON_PACKAGES)
def test_pip_only_imports_are_named_in_the_manifest_and_installed_by_the_readme(package):
    _, runtime = keys(imports(sources(package, tests=False)), package)
    _, testing = keys(imports(sources(package, tests=True)), package)
    comments = _comments(package)
    assert [d for d in sorted(runtime | testing) if d not in comments] == [], \
        f"{package}/package.xml must say in a comment which pip distributions it needs"
    assert sorted((runtime | testing) - _readme_pip_distributions()) == []


def test_readme_install_keeps_ros_numpy_and_pep_668_in_mind():
    """A venv that sees the apt ROS packages, and numpy held at the version ROS was built against."""
    section = _apt_install_section()
    assert "python3 -m venv --system-site-packages" in section
    assert 'numpy==$(python3 -c' in section, "numpy must be pinned to the system's version"
    pip_lines = [line for line in section.splitlines() if re.match(r"\s*pip install ", line)]
    assert pip_lines and all(" -c " in line for line in pip_lines), "every pip line under the numpy constraint"
    assert "sudo pip" not in section and "--break-system-packages" not in section
    assert any("--no-deps 'lerobot==0.4.4'" in line for line in pip_lines)
    assert "lerobot==0.4.4" in (ROOT / "tools" / "requirements.txt").read_text()  # what the tests run


def test_apt_requirements_are_lerobots_but_its_numpy_2_visualiser():
    """lerobot goes in with --no-deps; the file must bring everything else lerobot 0.4.4 requires."""
    from importlib.metadata import requires, version

    assert version("lerobot") == "0.4.4"
    wanted = {r.replace(" ", "") for r in requires("lerobot") if "extra ==" not in r
              and not r.startswith("rerun-sdk")}
    lines = (ROOT / "tools" / "requirements-ros-apt.txt").read_text().splitlines()
    listed = {line.replace(" ", "") for line in lines if line.strip() and not line.startswith("#")}
    assert sorted(wanted - listed) == []
    assert sorted(_requirement_names(listed) - _requirement_names(wanted)) == [
        "feetech-servo-sdk", "foxglove-sdk", "imageio-ffmpeg", "lz4", "mcap", "mcap-ros2-support", "mujoco", "rosbags",
        "safetensors", "tokenizers", "transformers", "websockets"]
