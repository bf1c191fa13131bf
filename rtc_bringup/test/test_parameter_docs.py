"""Each node's parameter table in docs/ is the one its PARAMETERS declare (generated, never drifting)."""
from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

pytest.importorskip("rclpy")
from rtc_runtime.parameters import markdown_table  # noqa: E402

DOCS = Path(__file__).resolve().parents[2] / "docs"
MARKER = re.compile(r"<!-- parameters of ([\w.]+) \(generated")
NODES = {"rtc_executor.executor_node", "rtc_policy_node.policy_node", "so100_driver.driver_node",
         "so100_driver.sim_camera_node", "rtc_tools.foxglove_server", "rtc_camera.camera_node",
         "so100_driver.twin_node", "rtc_bringup.description_node"}


def documented_tables() -> dict[str, str]:
    tables = {}
    for doc in sorted(DOCS.glob("*.md")):
        lines = doc.read_text().splitlines()
        for i, line in enumerate(lines):
            match = MARKER.match(line)
            if match:
                rows = []
                for row in lines[i + 1:]:
                    if not row.startswith("|"):
                        break
                    rows.append(row)
                tables[match.group(1)] = "\n".join(rows) + "\n"
    return tables


def test_every_node_has_its_table_in_the_docs():
    assert set(documented_tables()) == NODES


@pytest.mark.parametrize("module", sorted(NODES))
def test_the_docs_table_is_the_declared_parameters(module):
    expected = markdown_table(importlib.import_module(module).PARAMETERS)
    assert documented_tables()[module] == expected, "regenerate with: python tools/parameter_tables.py"
