"""docs/diagnostics.md's threshold table is the one the nodes' THRESHOLDS make (generated, never drifting)."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("rclpy")
from rtc_contract.topics import EXECUTOR_CONTROL_LOOP_STATUS  # noqa: E402
from rtc_runtime.diagnostics import threshold_table  # noqa: E402
from so100_driver.topics import DRIVER_BUS_STATUS  # noqa: E402

DOC = Path(__file__).resolve().parents[2] / "docs" / "diagnostics.md"
MARKER = "<!-- thresholds (generated"


def documented_table() -> str:
    lines = DOC.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(MARKER)) + 1
    rows = []
    for row in lines[start:]:
        if not row.startswith("|"):
            break
        rows.append(row)
    return "\n".join(rows) + "\n"


def nodes_table() -> str:
    from rtc_executor import executor_node
    from rtc_policy_node import policy_node
    from so100_driver import driver_node

    return threshold_table([("rtc_policy: inference", policy_node.THRESHOLDS),
                            (EXECUTOR_CONTROL_LOOP_STATUS, executor_node.THRESHOLDS),
                            (DRIVER_BUS_STATUS, driver_node.THRESHOLDS)])


def test_the_threshold_table_in_the_docs_is_the_nodes_thresholds():
    expected = nodes_table()
    assert documented_table() == expected, "docs/diagnostics.md is out of date; its table is now:\n" + expected
