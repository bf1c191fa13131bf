"""One chunk's denoising, as tracked by LeRobot's RTC debug tracker, written as a plot and an npz.

The plot is the per-chunk equivalent of LeRobot's RTC debug example (drawn with its
`RTCDebugVisualizer`): one row per action dim, columns x_t over the denoising steps, the predicted
final chunk x1_t, and the guidance correction, with the leftover the chunk was guided toward in
red and the inference delay marked. The npz holds the same tensors, stacked over steps, for
offline analysis. Works for every guidance mode (fields a mode does not have are left out).
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from pathlib import Path

import numpy as np

FIELDS = ("x_t", "v_t", "x1_t", "err", "correction")
COLUMNS = (("x_t", "x_t over the denoising steps"), ("x1_t", "predicted final chunk x1_t"),
           ("correction", "guidance correction"))


def stacked(steps: list, field: str, action_dim: int) -> np.ndarray | None:
    """(steps, T, action_dim) of one tracked field (batch 0, the policy's own dims), or None."""
    arrays = [getattr(step, field) for step in steps]
    if not arrays or any(a is None for a in arrays):
        return None
    rows = [a.detach().float().cpu().numpy() for a in arrays]
    return np.stack([r[0] if r.ndim == 3 else r for r in rows])[..., :action_dim]


def denoising_record(steps: list, leftover: np.ndarray | None, action_dim: int) -> dict[str, np.ndarray]:
    """The tracked `steps` of one chunk as arrays (taken in the inference path, before the tracker
    is reset for the next chunk; the rest happens on the writer's thread)."""
    data = {f: a for f in FIELDS if (a := stacked(steps, f, action_dim)) is not None}
    data["time"] = np.array([float(s.time) for s in steps])
    if leftover is not None:
        data["leftover"] = np.asarray(leftover, dtype=np.float32)
    return data


def write_denoising_record(data: dict[str, np.ndarray], inference_delay: int, stem: Path, action_dim: int) -> None:
    """Write `stem`.npz and `stem`.png for one chunk's record (`denoising_record`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from lerobot.policies.rtc.debug_visualizer import RTCDebugVisualizer

    np.savez_compressed(stem.with_suffix(".npz"), **data)
    steps = len(data["time"])
    leftover = data.get("leftover")

    fig, axes = plt.subplots(action_dim, len(COLUMNS), figsize=(15, 1.6 * action_dim), squeeze=False, sharex=True)
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 1.0, max(steps, 1)))
    for column, (field, title) in enumerate(COLUMNS):
        axes[0, column].set_title(title, fontsize=10)
        values = data.get(field)
        if values is None:
            axes[0, column].text(0.5, 0.5, "not tracked in this mode", ha="center", transform=axes[0, column].transAxes)
            continue
        for k, value in enumerate(values):
            RTCDebugVisualizer.plot_waypoints(axes[:, column], value, color=colors[k], alpha=0.6, linewidth=1)
        if leftover is not None and field != "correction":
            RTCDebugVisualizer.plot_waypoints(axes[:, column], leftover, color="red", label="leftover", linewidth=2)
        for ax in axes[:, column]:
            if inference_delay > 0:
                ax.axvline(inference_delay - 0.5, color="orange", linestyle="--", alpha=0.6)
    fig.suptitle(f"{stem.name}: {steps} denoising steps (dark: noise, light: final), "
                 f"inference delay {inference_delay}", fontsize=11)
    fig.tight_layout()
    fig.savefig(stem.with_suffix(".png"), dpi=70)
    plt.close(fig)


def _write_records(tasks, results) -> None:
    """The writer process: lowest CPU priority, one record at a time until None. A Ctrl-C reaches the
    whole process group: the node, not the writer, decides when the writer stops (`close`; SIGTERM,
    as multiprocessing sends it at the node's exit, still ends it)."""
    os.nice(19)  # it only gets the CPU the graph leaves
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for data, inference_delay, stem, action_dim in iter(tasks.get, None):
        try:
            write_denoising_record(data, inference_delay, stem, action_dim)
            results.put((stem.name, ""))
        except Exception as exc:  # a full disk must not end the writer: reported, counted by the node
            results.put((stem.name, f"{type(exc).__name__}: {exc}"))


class DenoisingWriter:
    """Writes records in a process of its own at the lowest CPU priority, so that drawing a plot
    (hundreds of milliseconds of Python) neither delays a chunk nor holds the node's GIL. At most
    `backlog` records are pending; a record beyond that is dropped and counted."""

    def __init__(self, backlog: int = 4) -> None:
        if backlog < 1:
            raise ValueError(f"backlog must be >= 1, got {backlog}")
        self.backlog = backlog
        self.dropped = 0
        self.failed, self.last_failure = 0, ""
        self._pending = 0
        self._changed = threading.Condition()
        context = multiprocessing.get_context("spawn")  # forking a process that runs DDS threads is unsafe
        self._tasks, self._results = context.Queue(), context.Queue()
        self._process = context.Process(target=_write_records, args=(self._tasks, self._results),
                                        name="denoising_writer", daemon=True)
        self._process.start()
        self._reader = threading.Thread(target=self._read_results, name="denoising_results", daemon=True)
        self._reader.start()

    def submit(self, data: dict[str, np.ndarray], inference_delay: int, stem: Path, action_dim: int) -> bool:
        """Hand one record to the writer; False (and counted in `dropped`) when the backlog is full."""
        with self._changed:
            if self._pending >= self.backlog:
                self.dropped += 1
                return False
            self._pending += 1
        self._tasks.put((data, inference_delay, stem, action_dim))
        return True

    def _read_results(self) -> None:
        for name, error in iter(self._results.get, None):
            with self._changed:
                self._pending -= 1
                if error:
                    self.failed, self.last_failure = self.failed + 1, f"{name}: {error}"
                self._changed.notify_all()

    def flush(self, timeout_s: float | None = None) -> int:
        """Wait until the pending records are written, at most `timeout_s`; returns how many are not."""
        with self._changed:
            self._changed.wait_for(lambda: self._pending == 0, timeout_s)
            return self._pending

    def close(self, timeout_s: float) -> int:
        """Flush for at most `timeout_s`, then stop the writer (what is left is not written);
        returns the number of records left."""
        left = self.flush(timeout_s)
        if left:
            self._process.terminate()
        else:
            self._tasks.put(None)
        self._process.join(timeout=1.0)
        self._results.put(None)
        self._reader.join(timeout=1.0)
        return left
