"""Write tools/rosdep_keys.txt: the rosdep keys this workspace's package.xml files name, each with where
a pinned rosdistro checkout defines it, so a test can check every key without the network.

    git clone https://github.com/ros/rosdistro /tmp/rosdistro     (any commit; it is recorded)
    python tools/rosdep_keys.py /tmp/rosdistro > tools/rosdep_keys.txt

A key resolves if a rosdep/*.yaml file of the checkout defines it (system packages: python3-numpy ...)
or the ROS distribution's distribution.yaml releases a package of that name (rclpy, xacro ...), as
`rosdep install` resolves it. Keys of this workspace's own packages are not listed. A key that does not
resolve is printed to stderr and the exit status is 1: leave it out of package.xml and say why there.
"""
from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DISTRO = "kilted"  # the ROS 2 distribution of the wheels (tools/requirements.txt)
DEPENDENCY_TAGS = ("depend", "build_depend", "buildtool_depend", "build_export_depend", "exec_depend",
                   "test_depend", "doc_depend")


def workspace_packages() -> set[str]:
    return {p.parent.name for p in ROOT.glob("*/package.xml")}


def manifest_keys() -> dict[str, set[str]]:
    """Every dependency key of every package.xml in this workspace -> the packages naming it."""
    keys: dict[str, set[str]] = {}
    for manifest in sorted(ROOT.glob("*/package.xml")):
        root = ET.parse(manifest).getroot()
        for tag in DEPENDENCY_TAGS:
            for element in root.findall(tag):
                keys.setdefault(element.text.strip(), set()).add(manifest.parent.name)
    return keys


def _show(rosdistro: Path, path: str) -> str:
    return subprocess.run(["git", "-C", str(rosdistro), "show", f"HEAD:{path}"], check=True,
                          capture_output=True, text=True).stdout


def rosdistro_sources(rosdistro: Path) -> dict[str, str]:
    """key -> the file of the checkout that defines it."""
    sources: dict[str, str] = {}
    listing = subprocess.run(["git", "-C", str(rosdistro), "ls-tree", "--name-only", "HEAD", "rosdep/"],
                             check=True, capture_output=True, text=True).stdout.split()
    for path in (p for p in listing if p.endswith(".yaml")):
        for key in yaml.safe_load(_show(rosdistro, path)) or {}:
            sources.setdefault(key, path)
    distribution = f"{DISTRO}/distribution.yaml"
    for name, repository in yaml.safe_load(_show(rosdistro, distribution))["repositories"].items():
        release = repository.get("release")
        if release:
            for package in release.get("packages", [name]):
                sources.setdefault(package, distribution)
    return sources


def main() -> int:
    rosdistro = Path(sys.argv[1])
    commit = subprocess.run(["git", "-C", str(rosdistro), "log", "-1", "--format=%H %cs"], check=True,
                            capture_output=True, text=True).stdout.strip()
    sources = rosdistro_sources(rosdistro)
    keys = {k: users for k, users in manifest_keys().items() if k not in workspace_packages()}
    unresolved = sorted(k for k in keys if k not in sources)
    print(f"# rosdep keys named by this workspace's package.xml files, as github.com/ros/rosdistro defines them\n"
          f"# at commit {commit} (ROS distribution: {DISTRO}). Written by tools/rosdep_keys.py.")
    for key in sorted(set(keys) - set(unresolved)):
        print(f"{key}\t{sources[key]}")
    for key in unresolved:
        print(f"rosdep_keys: {key} (named by {', '.join(sorted(keys[key]))}) is no rosdep key at {commit}",
              file=sys.stderr)
    return 1 if unresolved else 0


if __name__ == "__main__":
    sys.exit(main())
