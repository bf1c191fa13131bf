"""Latency profiles: parsing, what each kind draws, determinism, and a replay of a recorded run's timings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rosbags.rosbag2 import Writer

from rtc_sim_eval.latency_profiles import (
    ChunkStart,
    Cold,
    Drift,
    Fixed,
    Jitter,
    Replay,
    Spikes,
    latencies_to_ticks,
    parse_profile,
    parse_profiles,
)

RATE = 30.0


def _delays(profile, episode: int = 0, chunks: int = 2000, seed: int = 0) -> np.ndarray:
    return np.array([profile.delay(ChunkStart(seed, episode, i, 10 * i, 240)) for i in range(chunks)])


@pytest.mark.parametrize("text, profile", [
    ("fixed:6", Fixed(6)),
    ("jitter:6,2", Jitter(6.0, 2.0)),
    ("spikes:5,0.1,10", Spikes(5, 0.1, 10)),
    ("cold:30,6", Cold(30, 6)),
    ("drift:2,10", Drift(2, 10)),
])
def test_specs_parse_and_name_themselves(text: str, profile) -> None:
    assert parse_profile(text, RATE) == profile
    assert profile.spec == text


def test_a_comma_list_splits_where_a_kind_starts() -> None:
    profiles = parse_profiles("jitter:6,2,spikes:5,0.1,10,fixed:4", RATE)
    assert [p.spec for p in profiles] == ["jitter:6,2", "spikes:5,0.1,10", "fixed:4"]


@pytest.mark.parametrize("text, message", [
    ("gauss:6", "KIND:ARGS"),
    ("fixed", "KIND:ARGS"),
    ("jitter:6", "jitter takes 2"),
    ("fixed:-1", "non-negative"),
    ("fixed:2.5", "whole ticks"),
    ("spikes:5,1.5,10", "probability"),
    ("jitter:a,b", "must be numbers"),
    ("replay:/no/such/bag", "no recorded run"),
])
def test_bad_specs_say_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_profile(text, RATE)


def test_draws_have_the_stated_statistics() -> None:
    jitter = _delays(Jitter(6, 2))
    assert abs(jitter.mean() - 6) < 0.15 and abs(jitter.std() - 2) < 0.15 and jitter.min() >= 0
    spikes = _delays(Spikes(5, 0.1, 10))
    assert set(spikes) == {5, 15} and abs(spikes.mean() - 6) < 0.2
    assert list(_delays(Cold(30, 6), chunks=3)) == [30, 6, 6]
    drift = Drift(2, 10)
    assert drift.delay(ChunkStart(0, 0, 0, 0, 240)) == 2 and drift.delay(ChunkStart(0, 0, 9, 239, 240)) == 10
    assert drift.delay(ChunkStart(0, 0, 4, 120, 240)) == 6


def test_draws_depend_on_seed_episode_and_chunk_only() -> None:
    profile = Jitter(6, 2)
    np.testing.assert_array_equal(_delays(profile, chunks=50), _delays(profile, chunks=50))
    assert profile.delay(ChunkStart(0, 3, 7, 10, 240)) == profile.delay(ChunkStart(0, 3, 7, 99, 240))
    assert not np.array_equal(_delays(profile, episode=1, chunks=50), _delays(profile, chunks=50))


def test_latencies_become_the_tick_a_chunk_is_merged_at() -> None:
    assert latencies_to_ticks([0.0, 10.0, 33.3, 1000 / 30, 34.0, 200.0], RATE) == (0, 1, 1, 1, 2, 6)


def _timing_bag(path: Path, end_to_end_ms: list[float]) -> None:
    from rtc_tools.bag_types import typestore

    store = typestore()
    msgtype = "rtc_msgs/msg/InferenceTiming"
    with Writer(path, version=9) as writer:
        topic = writer.add_connection("/rtc/timing", msgtype, typestore=store)
        for i, ms in enumerate(end_to_end_ms):
            header = store.types["std_msgs/msg/Header"](
                stamp=store.types["builtin_interfaces/msg/Time"](sec=i, nanosec=0), frame_id="")
            msg = store.types[msgtype](header=header, chunk_id=i + 1, preprocessing_ms=1.0, policy_inference_ms=ms - 5,
                                       guidance_ms=1.0, postprocessing_ms=1.0, publish_ms=1.0, end_to_end_ms=ms,
                                       extra_latency_ms=0.0, inference_delay=6, last_d_real=-1, execution_horizon=25,
                                       observation_age_ms=0.0, image_transport_ms=0.0, image_wait_ms=0.0,
                                       joint_state_age_ms=0.0, trigger_wait_ms=0.0, extra_latency_wait_ms=0.0)
            writer.write(topic, (i + 1) * 10**9, store.serialize_cdr(msg, msgtype))


def test_a_recorded_run_replays_in_order_from_a_seeded_offset(tmp_path: Path) -> None:
    _timing_bag(tmp_path / "run", [150.0, 210.0, 400.0, 90.0])
    profile = parse_profile(f"replay:{tmp_path / 'run'}", RATE)
    assert isinstance(profile, Replay) and profile.ticks == (5, 7, 12, 3)
    assert profile.spec == f"replay:{tmp_path / 'run'}"
    for episode in range(3):
        delays = list(_delays(profile, episode=episode, chunks=8))
        start = profile.ticks.index(delays[0])
        assert delays == [profile.ticks[(start + i) % 4] for i in range(8)]
    (tmp_path / "empty").mkdir()
    _timing_bag(tmp_path / "empty" / "bag", [])
    with pytest.raises(ValueError, match="no InferenceTiming"):
        parse_profile(f"replay:{tmp_path / 'empty' / 'bag'}", RATE)
