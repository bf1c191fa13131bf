"""PNG figures: one episode's joint trajectories with chunk seams, and a guided denoising trace."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from so100_driver.arm import JOINT_NAMES  # noqa: E402

from rtc_sim_eval.denoise_trace import DenoiseStep  # noqa: E402
from rtc_sim_eval.rollout import EpisodeRecord  # noqa: E402


def plot_episode(record: EpisodeRecord, path: Path) -> None:
    """Six joint trajectories (radians) over ticks; seams as red lines, holds shaded grey."""
    positions = np.asarray(record.positions)
    ticks = np.arange(len(positions))
    ids = np.array(record.chunk_ids)
    executed = np.flatnonzero(ids >= 0)
    seams = [t + 1 for prev, t in zip(executed, executed[1:]) if ids[t] != ids[prev]]
    fig, axes = plt.subplots(3, 2, figsize=(11, 7), sharex=True)
    for joint, ax in enumerate(axes.T.ravel()):
        ax.plot(ticks, positions[:, joint], color="tab:blue", lw=1.4)
        for seam in seams:
            ax.axvline(seam, color="tab:red", lw=0.8, alpha=0.7)
        for tick in np.flatnonzero(ids < 0):
            ax.axvspan(tick, tick + 1, color="0.85", lw=0)
        ax.set_ylabel(f"{JOINT_NAMES[joint]} (rad)", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("tick (30 Hz)")
    outcome = "success" if record.success else ("collision" if record.collided else "timeout")
    fig.suptitle(f"mode {record.mode}, delay {record.delay} ticks: {outcome}; red = chunk seams, grey = holding")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_denoising(
    guided: list[DenoiseStep], unguided: list[DenoiseStep], leftover: np.ndarray, joint: int, title: str, path: Path
) -> None:
    """x_t, v_t, correction and x1_t per denoising step for one joint, with and without guidance."""
    names = ("x_t", "v_t", "correction", "x1_t")
    fig, axes = plt.subplots(len(names), 2, figsize=(11, 9), sharex=True)
    colours = plt.cm.viridis(np.linspace(0, 1, len(guided)))
    for column, (trace, label) in enumerate(((guided, "with guidance"), (unguided, "without guidance"))):
        for row, name in enumerate(names):
            ax = axes[row, column]
            for colour, step in zip(colours, trace):
                ax.plot(getattr(step, name)[:, joint].numpy(), color=colour, lw=1.0, label=f"t={step.time:.1f}")
            if name == "x1_t":
                ax.plot(np.arange(len(leftover)), leftover[:, joint], "k--", lw=1.6, label="leftover")
            ax.set_ylabel(name)
            ax.tick_params(labelsize=7)
        axes[0, column].set_title(label)
        axes[-1, column].set_xlabel("row of the chunk")
    axes[-1, 1].legend(fontsize=6, ncol=2)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
