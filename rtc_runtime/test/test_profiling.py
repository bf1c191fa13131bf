"""The profiling API: LeRobot's names and semantics, nesting, exceptions, threads, CUDA sync, the summary."""
from __future__ import annotations

import sys
import threading
import math
import time
import types

import numpy as np
import pytest

from rtc_runtime import profiling
from rtc_runtime.profiling import (
    clear_profiling_stats,
    disable_profiling,
    enable_profiling,
    format_profiling_summary,
    get_profiling_stats,
    is_profiling_enabled,
    print_profiling_summary,
    profile_method,
    profile_section,
    record_timing,
)


@pytest.fixture(autouse=True)
def fresh_profiler(profiler):
    """Every test starts enabled with no timings (the `profiler` fixture of the root conftest)."""
    yield


def test_record_timing_gives_count_mean_percentiles_max_total():
    samples = [0.001 * k for k in range(1, 101)]
    for s in samples:
        record_timing("robot.get_observation", s)
    stats = get_profiling_stats()["robot.get_observation"]
    assert stats["count"] == 100
    assert stats["mean"] == pytest.approx(np.mean(samples))
    error = profiling.PERCENTILE_RELATIVE_ERROR  # the streaming estimate's (LogHistogram)
    assert stats["p50"] == pytest.approx(np.percentile(samples, 50), rel=error)
    assert stats["p95"] == pytest.approx(np.percentile(samples, 95), rel=error)
    assert stats["max"] == pytest.approx(0.1)
    assert stats["min"] == pytest.approx(0.001)
    assert stats["total"] == pytest.approx(sum(samples))
    # LeRobot's millisecond keys are there too
    assert stats["mean_ms"] == pytest.approx(stats["mean"] * 1000)
    assert stats["max_ms"] == pytest.approx(100.0)


def test_disabled_records_nothing_and_keeps_earlier_records():
    record_timing("a", 1.0)
    disable_profiling()
    assert not is_profiling_enabled()
    record_timing("a", 5.0)
    with profile_section("b"):
        pass

    @profile_method
    def f():
        return 3

    assert f() == 3
    stats = get_profiling_stats()
    assert set(stats) == {"a"} and stats["a"]["count"] == 1


def test_sections_nest_and_each_records_its_own_time():
    with profile_section("outer"):
        time.sleep(0.02)
        with profile_section("inner"):
            time.sleep(0.01)
    stats = get_profiling_stats()
    assert stats["inner"]["count"] == stats["outer"]["count"] == 1
    assert stats["inner"]["total"] >= 0.01
    assert stats["outer"]["total"] >= stats["inner"]["total"] + 0.02


def test_a_section_that_raises_records_its_time_and_the_exception_propagates():
    with pytest.raises(ZeroDivisionError):
        with profile_section("fails"):
            1 / 0
    assert get_profiling_stats()["fails"]["count"] == 1


def test_profile_method_names_module_and_qualname_as_lerobot_and_keeps_the_signature():
    class Policy:
        @profile_method
        def predict_action_chunk(self, x, scale=2):
            """Docstring kept."""
            return x * scale

        @profile_method(name="rtc.guidance")
        def guide(self):
            raise RuntimeError("guidance failed")

    policy = Policy()
    assert policy.predict_action_chunk(3, scale=3) == 9
    assert Policy.predict_action_chunk.__doc__ == "Docstring kept."
    with pytest.raises(RuntimeError):
        policy.guide()
    stats = get_profiling_stats()
    name = f"{__name__}.test_profile_method_names_module_and_qualname_as_lerobot_and_keeps_the_signature." \
           "<locals>.Policy.predict_action_chunk"
    assert stats[name]["count"] == 1
    assert stats["rtc.guidance"]["count"] == 1


def test_two_threads_record_concurrently_without_losing_samples():
    """The policy node times from its inference thread and its ROS callback thread at once."""
    per_thread, names = 5000, ("get_actions.policy_inference", "observation_age.joint_states")
    barrier = threading.Barrier(len(names) * 2)

    def work(name: str) -> None:
        barrier.wait()
        for _ in range(per_thread):
            with profile_section(name):
                pass
            record_timing(name, 0.001)

    threads = [threading.Thread(target=work, args=(n,)) for n in names for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = get_profiling_stats()
    for name in names:
        assert stats[name]["count"] == 2 * 2 * per_thread


class FakeCudaDevice:
    """What torch.device("cuda:0") looks like to the profiler, on a machine without a GPU."""

    type = "cuda"
    index = 0


@pytest.fixture
def cuda_syncs(monkeypatch):
    """torch.cuda.synchronize replaced by a recorder (no GPU here); the profiler's own path runs."""
    calls: list[object] = []
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append(device))
    return calls


def test_a_cuda_section_synchronizes_before_each_clock_read(cuda_syncs):
    device = FakeCudaDevice()
    with profile_section("get_actions.policy_inference", device=device):
        assert len(cuda_syncs) == 1  # queued work of earlier code is not billed to this section
    assert cuda_syncs == [device, device]
    tensor = types.SimpleNamespace(device=device)
    with profile_section("on_a_tensor", device=tensor):
        pass
    with profile_section("by_name", device="cuda:1"):
        pass
    assert cuda_syncs[2:] == [device, device, "cuda:1", "cuda:1"]


def test_the_default_device_of_enable_profiling_applies_to_sections_and_methods(cuda_syncs):
    enable_profiling(device="cuda")

    @profile_method
    def step():
        return 1

    step()
    with profile_section("x"):
        pass
    assert cuda_syncs == ["cuda"] * 4
    with profile_section("on_cpu", device="cpu"):
        pass
    assert len(cuda_syncs) == 4


def test_disabled_never_synchronizes(cuda_syncs):
    disable_profiling()
    with profile_section("x", device=FakeCudaDevice()):
        pass
    assert cuda_syncs == []


def test_cpu_sections_never_import_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # importing torch would raise
    with profile_section("x", device="cpu"):
        pass
    with profile_section("y"):
        pass
    assert get_profiling_stats()["x"]["count"] == 1


def test_percentiles_are_streamed_within_their_error_of_numpys_and_memory_is_bounded():
    import numpy as np

    rng = np.random.default_rng(0)
    shapes = {"lognormal": rng.lognormal(-6.0, 1.0, 20_000), "bimodal": np.concatenate(
        [rng.normal(0.010, 0.0005, 15_000), rng.normal(0.030, 0.002, 5_000)]),
              "lateness": rng.normal(0.0, 0.0002, 20_000)}  # around 0, negative values too
    clear_profiling_stats()
    for name, values in shapes.items():
        for value in values:
            record_timing(name, float(value))
    stats = get_profiling_stats()
    for name, values in shapes.items():
        for q in (50, 95):
            exact = float(np.percentile(values, q))
            assert stats[name][f"p{q}"] == pytest.approx(exact, rel=profiling.PERCENTILE_RELATIVE_ERROR, abs=1e-12), \
                (name, q)
        assert stats[name]["count"] == len(values) and stats[name]["max"] == values.max()
    assert profiling.PERCENTILE_RELATIVE_ERROR < 0.005
    series = profiling._series["lognormal"]
    assert len(series.recent) == profiling.RECENT_KEPT  # raw samples: the most recent only
    for value in rng.lognormal(-6.0, 1.0, 100_000):  # five times more samples
        record_timing("lognormal", float(value))
    # memory: one counter per bucket between the smallest and the largest value, whatever the count
    span = math.log(series.max / series.min) / math.log(1.01) + 2
    assert len(series.histogram.counts) <= span and len(series.recent) == profiling.RECENT_KEPT


def test_totals_cover_all_samples_and_percentiles_stay_within_min_and_max():
    clear_profiling_stats()
    for _ in range(90):
        record_timing("tick", 1.0)
    for _ in range(10):
        record_timing("tick", 2.0)
    stats = get_profiling_stats()["tick"]
    assert stats["count"] == 100 and stats["total"] == pytest.approx(110.0)
    assert stats["p50"] == 1.0 and stats["p95"] == pytest.approx(2.0, rel=0.005) and stats["min"] == 1.0


def test_summary_table_lists_every_component_with_its_share_of_the_whole(capsys):
    for _ in range(4):
        record_timing("obs_to_chunk", 0.100)
        record_timing("get_actions.policy_inference", 0.025)
    record_timing("robot.send_action", 0.001)
    text = format_profiling_summary()
    lines = text.splitlines()
    assert lines[0] == "PROFILING SUMMARY"
    assert lines[1].split() == ["component", "count", "mean", "ms", "p50", "ms", "p95", "ms", "max", "ms", "share"]
    rows = {line.split()[0]: line.split() for line in lines[3:]}
    assert set(rows) == {"obs_to_chunk", "get_actions.policy_inference", "robot.send_action"}
    assert rows["obs_to_chunk"][1:3] == ["4", "100.00"] and rows["obs_to_chunk"][-1] == "100.0%"
    assert rows["get_actions.policy_inference"][-1] == "25.0%"
    assert lines[3].startswith("obs_to_chunk")  # sorted by total
    by_inference = format_profiling_summary(whole="get_actions.policy_inference").splitlines()
    assert by_inference[3].endswith("400.0%") and by_inference[4].endswith("100.0%")
    print_profiling_summary()
    assert capsys.readouterr().out.strip() == text


def test_summary_without_timings_says_so():
    clear_profiling_stats()
    assert format_profiling_summary() == "PROFILING SUMMARY: no timings recorded"


def test_synchronized_clock_waits_for_cuda_only_while_enabled(cuda_syncs):
    before = time.perf_counter()
    assert profiling.synchronized_clock("cuda:0") >= before
    assert cuda_syncs == ["cuda:0"]
    disable_profiling()
    profiling.synchronized_clock("cuda:0")
    assert cuda_syncs == ["cuda:0"]


def test_samples_can_be_taken_and_summarized_by_group():
    record_timing("rtc.guidance", 0.002)
    record_timing("rtc.guidance", 0.004)
    samples = profiling.get_profiling_samples()
    assert samples == {"rtc.guidance": [0.002, 0.004]}
    assert profiling.stats_of(samples["rtc.guidance"]) == pytest.approx(get_profiling_stats()["rtc.guidance"],
                                                                         rel=profiling.PERCENTILE_RELATIVE_ERROR)
