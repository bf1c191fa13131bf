"""Profiling on the live simulated graph: each chunk's /rtc/timing parts add up to its measured
observation -> chunk time, and every node prints its profiling summary, every component listed, when
the runner stops the graph."""
from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = [pytest.mark.ros, pytest.mark.slow]

SUMMARIES = {  # node -> the components its summary must list
    "rtc_policy": ("obs_to_chunk", "observation_age.image", "observation_age.image_transport",
                   "observation_age.image_wait", "observation_age.joint_states", "trigger_wait",
                   "get_actions.preprocessing", "get_actions.policy_inference", "rtc.guidance",
                   "extra_latency", "get_actions.postprocessing", "chunk.publish"),
    "rtc_executor": ("executor.tick", "executor.tick.lateness", "get_actions.action_queue_merge",
                     "chunk.transport"),
    "so100_driver": ("robot.cycle", "robot.get_observation", "robot.send_action", "robot.cycle.lateness"),
}


def summary_rows(log: str, node: str) -> set[str]:
    lines = log.splitlines()
    start = lines.index(f"{node}: profiling summary")
    rows = set()
    for line in lines[start + 3:]:
        fields = line.split()
        if len(fields) != 7 or not fields[-1].endswith("%"):
            break
        rows.add(fields[0])
    return rows


def test_the_parts_of_each_chunk_add_up_and_every_node_summarizes_its_components(processes, tmp_path):
    from rtc_tools.report import read_bag
    from rtc_contract.timing_components import PARTS

    bag = tmp_path / "bag"
    runner = processes.start([sys.executable, "-m", "rtc_bringup.run", "--sim", "--duration", "45",
                              "--record", str(bag)], name="runner")
    try:
        code = runner.wait(timeout=150)
    except subprocess.TimeoutExpired:
        pytest.fail(f"runner did not stop; log:\n{processes.log(runner)[-4000:]}")
    log = processes.log(runner)
    assert code == 0, log[-4000:]

    components = read_bag(bag).components
    chunks = len(components.get("end_to_end_ms", []))
    assert chunks >= 3, log[-4000:]
    for k in range(chunks):
        parts = sum(components[name][k] for name in PARTS)
        assert abs(parts - components["end_to_end_ms"][k]) <= 2.0, (k, parts, components["end_to_end_ms"][k])
        image = components["image_transport_ms"][k] + components["image_wait_ms"][k]
        assert abs(image - components["observation_age_ms"][k]) <= 2.0

    for node, names in SUMMARIES.items():
        assert set(names) <= summary_rows(log, node), (node, log[-6000:])
