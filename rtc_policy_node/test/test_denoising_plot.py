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
    assert policy.denoising_writer.close(timeout_s=60.0) == 0  # written by the writer's process
    names = sorted(p.name for p in (tmp_path / "denoising").iterdir())
    assert names == ["chunk_0001.npz", "chunk_0001.png", "chunk_0002.npz", "chunk_0002.png"]
    record = np.load(tmp_path / "denoising" / "chunk_0002.npz")
    steps = len(record["time"])
    assert steps == policy.num_inference_steps
    assert record["x1_t"].shape == (steps, len(second.model_output), policy.action_dim)
    np.testing.assert_array_equal(record["leftover"], leftover.astype(np.float32))
    assert ("correction" in record) == (mode == "vjp")  # prefix overwrites rows: no correction term
    if mode == "prefix":  # the last prediction starts on the leftover
        np.testing.assert_allclose(record["x1_t"][-1, :DELAY], leftover[:DELAY], atol=1e-4)


def test_empty_directory_records_nothing(tmp_path):
    policy = LeRobotPolicy(default_checkpoint_path(), "cpu", GuidanceSettings("identity"))
    policy.record_denoising("")
    assert not policy.guidance.is_debug_enabled()


def test_the_writer_never_blocks_drops_beyond_its_backlog_and_counts_failures(tmp_path):
    from rtc_policy_node.denoising_plot import DenoisingWriter

    writer = DenoisingWriter(backlog=2)
    record = {"time": np.zeros(2), "x1_t": np.zeros((2, 5, 3), dtype=np.float32)}
    # the writer's process takes a while to start: the first two wait, the rest are dropped at once
    results = [writer.submit(record, 1, tmp_path / "missing_dir" / "chunk_0000", 3)]  # no such directory
    results += [writer.submit(record, 1, tmp_path / f"chunk_{k:04d}", 3) for k in range(1, 6)]
    assert results == [True, True, False, False, False, False] and writer.dropped == 4
    assert writer.close(timeout_s=120.0) == 0
    assert writer.failed == 1 and "chunk_0000" in writer.last_failure  # counted; the writer went on
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chunk_0001.npz", "chunk_0001.png"]


def test_closing_with_records_pending_stops_the_writer_and_says_how_many(tmp_path):
    """At shutdown the node waits a bounded time: what is left is not written, and the writer goes."""
    from rtc_policy_node.denoising_plot import DenoisingWriter

    writer = DenoisingWriter()
    writer.submit({"time": np.zeros(1)}, 0, tmp_path / "chunk_0001", 3)
    assert writer.close(timeout_s=0.0) == 1
    assert not writer._process.is_alive()


def test_a_writer_left_open_does_not_keep_its_process_from_exiting(tmp_path):
    """multiprocessing ends a daemon child with SIGTERM at exit and waits for it: the writer must not
    ignore that signal (it ignores only the Ctrl-C sent to the whole process group)."""
    import subprocess
    import sys

    script = ("import numpy as np, pathlib, sys\n"
              "from rtc_policy_node.denoising_plot import DenoisingWriter\n"
              "w = DenoisingWriter()\n"
              "w.submit({'time': np.zeros(1)}, 0, pathlib.Path(sys.argv[1]) / 'chunk_0001', 3)\n")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
