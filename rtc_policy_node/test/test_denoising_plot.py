"""LeRobotPolicy.record_denoising: LeRobot's debug tracking through our guidance, one plot and npz per chunk."""
from __future__ import annotations

import numpy as np
import pytest

from rtc_policy_node.builtin_policy import CAMERA_KEY, default_checkpoint_path
from rtc_policy_node.lerobot_policy import GuidanceSettings, LeRobotPolicy

DELAY = 3


@pytest.mark.parametrize("mode", ["vjp", "prefix"])
def test_each_chunk_gets_a_plot_and_its_tracked_steps(tmp_path, mode):
    policy = LeRobotPolicy(default_checkpoint_path(), "cpu", GuidanceSettings(mode))
    policy.record_denoising(tmp_path / "denoising")
    assert policy.guidance.is_debug_enabled()
    rng = np.random.default_rng(0)
    state, images = rng.normal(size=6), {CAMERA_KEY: rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)}
    first = policy.sample(state, images, None, 0)
    leftover = first.model_output[10:]
    second = policy.sample(state, images, leftover, DELAY)
    policy.denoising_writer.flush()  # written on the writer's thread, off the inference path
    names = sorted(p.name for p in (tmp_path / "denoising").iterdir())
    assert names == ["chunk_0001.npz", "chunk_0001.png", "chunk_0002.npz", "chunk_0002.png"]
    record = np.load(tmp_path / "denoising" / "chunk_0002.npz")
    steps = len(record["time"])
    assert steps == policy.config.num_inference_steps
    assert record["x1_t"].shape == (steps, len(second.model_output), policy.action_dim)
    np.testing.assert_array_equal(record["leftover"], leftover.astype(np.float32))
    assert ("correction" in record) == (mode == "vjp")  # prefix overwrites rows: no correction term
    if mode == "prefix":  # the last prediction starts on the leftover
        np.testing.assert_allclose(record["x1_t"][-1, :DELAY], leftover[:DELAY], atol=1e-4)


def test_empty_directory_records_nothing(tmp_path):
    policy = LeRobotPolicy(default_checkpoint_path(), "cpu", GuidanceSettings("identity"))
    policy.record_denoising("")
    assert not policy.guidance.is_debug_enabled()


def test_the_writer_never_blocks_the_caller_and_counts_what_it_drops(tmp_path, monkeypatch):
    import threading

    from rtc_policy_node import denoising_plot

    release = threading.Event()
    written = []
    monkeypatch.setattr(denoising_plot, "write_denoising_record",
                        lambda data, delay, stem, dim: (release.wait(10.0), written.append(stem.name)))
    writer = denoising_plot.DenoisingWriter(backlog=2)
    results = [writer.submit({"time": np.zeros(1)}, 0, tmp_path / f"chunk_{k}", 3) for k in range(6)]
    # one being written (blocked), two waiting, the rest dropped: submit returned at once each time
    assert results.count(False) == writer.dropped >= 3
    release.set()
    writer.flush()
    assert len(written) == results.count(True)


def test_a_failing_write_is_counted_and_the_writer_goes_on(tmp_path):
    from rtc_policy_node.denoising_plot import DenoisingWriter

    writer = DenoisingWriter()
    record = {"time": np.zeros(2), "x1_t": np.zeros((2, 5, 3), dtype=np.float32)}
    writer.submit(record, 1, tmp_path / "missing_dir" / "chunk_0001", 3)  # no such directory
    writer.submit(record, 1, tmp_path / "chunk_0002", 3)
    writer.flush()
    assert writer.failed == 1 and "chunk_0001" in writer.last_failure
    assert (tmp_path / "chunk_0002.png").exists() and (tmp_path / "chunk_0002.npz").exists()
