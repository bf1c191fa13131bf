"""The report's profiling table: the policy node's /rtc/timing components of a recorded run, under
the component names of docs/profiling.md; bags from before the fields existed still read."""
from __future__ import annotations

import pytest
from rosbags.rosbag2 import Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from test_report import make

from rtc_tools.bag_types import installed_definition
from rtc_tools.report import main, profiling_stats, read_bag
from rtc_contract.timing_components import COMPONENTS, PARTS, WHOLE

TIMING = "rtc_msgs/msg/InferenceTiming"
STATUS = "rtc_msgs/msg/ExecutorStatus"
# The message as it was before the per-component fields (observation age, waits) were added.
OLD_TIMING = """std_msgs/Header header
uint64 chunk_id
float64 preprocessing_ms
float64 policy_inference_ms
float64 guidance_ms
float64 postprocessing_ms
float64 publish_ms
float64 end_to_end_ms
float64 extra_latency_ms
int32 inference_delay
int32 last_d_real
int32 execution_horizon
"""


def write_timings(path, definition: str, per_chunk: list[dict]) -> None:
    """A bag of these timings, and the one executor status without which the report refuses a bag."""
    store = get_typestore(Stores.ROS2_KILTED)
    store.register(get_types_from_msg(definition, TIMING))
    store.register(get_types_from_msg(installed_definition(STATUS), STATUS))
    with Writer(path, version=9) as writer:
        status = writer.add_connection("/rtc/executor_status", STATUS, typestore=store)
        writer.write(status, 1, store.serialize_cdr(make(store, STATUS), STATUS))
        topic = writer.add_connection("/rtc/timing", TIMING, typestore=store)
        for k, values in enumerate(per_chunk):
            writer.write(topic, (k + 1) * 10**8, store.serialize_cdr(make(store, TIMING, chunk_id=k + 1, **values),
                                                                       TIMING))


def chunk_timing(k: int) -> dict:
    parts = dict(observation_age_ms=3.0 + k, preprocessing_ms=1.0, policy_inference_ms=20.0 + k,
                 extra_latency_wait_ms=0.0, postprocessing_ms=0.5, publish_ms=0.5)
    return dict(parts, end_to_end_ms=sum(parts.values()), image_transport_ms=2.0, image_wait_ms=1.0 + k,
                joint_state_age_ms=4.0, trigger_wait_ms=0.3, guidance_ms=2.0)


def test_the_table_lists_every_component_with_its_share_of_obs_to_chunk(tmp_path, capsys):
    write_timings(tmp_path / "bag", installed_definition(TIMING), [chunk_timing(k) for k in range(4)])
    stats = profiling_stats(read_bag(tmp_path / "bag"))
    assert set(stats) == set(COMPONENTS.values())
    assert stats[WHOLE]["count"] == 4
    assert stats[WHOLE]["mean_ms"] == pytest.approx(sum(stats[COMPONENTS[p]]["mean_ms"] for p in PARTS))
    assert stats["get_actions.policy_inference"]["p50_ms"] == pytest.approx(21.5)
    assert main([str(tmp_path / "bag")]) == 0
    out = capsys.readouterr().out
    table = out[out.index("where obs->chunk goes"):].splitlines()
    assert table[1].split()[0] == "component" and table[3].split()[0] == WHOLE
    assert table[3].split()[-1] == "100.0%"
    assert {line.split()[0] for line in table[3:]} == set(COMPONENTS.values())


def test_a_bag_recorded_before_the_component_fields_gives_the_fields_it_has(tmp_path):
    old = [{k: v for k, v in chunk_timing(k).items() if f"float64 {k}" in OLD_TIMING} for k in range(3)]
    write_timings(tmp_path / "bag", OLD_TIMING, old)
    stats = profiling_stats(read_bag(tmp_path / "bag"))
    assert "observation_age.image" not in stats
    assert stats[WHOLE]["count"] == 3 and "get_actions.preprocessing" in stats
