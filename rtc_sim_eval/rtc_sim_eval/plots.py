"""PNG figures: one episode's joint trajectories with chunk seams, a guided denoising trace, and the
delay each pipeline assumed chunk by chunk under each latency profile."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from so100_driver.arm import JOINT_NAMES  # noqa: E402

from rtc_policy_node.denoise_trace import DenoiseStep  # noqa: E402
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
    fig.suptitle(f"mode {record.mode}, latency {record.latency}: {outcome}; red = chunk seams, grey = holding")
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


def plot_assumed_delays(results: dict[str, dict[str, dict]], path: Path) -> None:
    """Per latency profile: the delay each mode assumed for its n-th chunk (mean over episodes),
    against the profile's mean true delay (dashed)."""
    profiles = sorted({profile for by_profile in results.values() for profile in by_profile})
    fig, axes = plt.subplots(1, len(profiles), figsize=(4.2 * len(profiles), 3.4), squeeze=False)
    for ax, profile in zip(axes[0], profiles):
        for mode, by_profile in results.items():
            summary = by_profile.get(profile)
            if summary is None or not summary["assumed_delay_by_chunk"]:
                continue
            ax.plot(summary["assumed_delay_by_chunk"], marker="o", ms=3, label=f"{mode} assumed")
        true_mean = next((by[profile]["true_delay_mean"] for by in results.values() if profile in by), None)
        if true_mean is not None:
            ax.axhline(true_mean, color="0.4", ls="--", lw=1, label="true (mean)")
        ax.set_title(profile, fontsize=9)
        ax.set_xlabel("chunk of the episode")
        ax.set_ylabel("delay (ticks)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_protocol(by_horizon: dict[str, dict[str, dict[str, dict]]], path: Path) -> None:
    """The protocol's figure: success rate (top) and measured seam jerk ratio (bottom, log scale)
    against the fixed delay d, one line per mode, one column per chunk length H.
    `by_horizon[H][mode][profile]` is a summary; only `fixed:D` profiles are drawn."""
    fig, axes = plt.subplots(2, len(by_horizon), figsize=(5.2 * len(by_horizon), 6.4), squeeze=False, sharex=True)
    for column, (horizon, results) in enumerate(by_horizon.items()):
        top, bottom = axes[0, column], axes[1, column]
        for mode, by_profile in results.items():
            points = sorted((int(spec.split(":")[1]), summary) for spec, summary in by_profile.items()
                            if spec.startswith("fixed:"))
            if not points:
                continue
            delays = [d for d, _ in points]
            top.plot(delays, [s["success_rate"] for _, s in points], marker="o", ms=3, label=mode)
            jerk = [np.nan if s["measured_seam_jerk_ratio"] is None else s["measured_seam_jerk_ratio"] for _, s in points]
            bottom.plot(delays, jerk, marker="o", ms=3, label=mode)
        top.set_title(f"H = {horizon}", fontsize=10)
        top.set_ylabel("success rate")
        top.set_ylim(-0.05, 1.05)
        bottom.set_ylabel("measured seam jerk / within-chunk jerk")
        bottom.set_yscale("log")
        bottom.axhline(1.5, color="0.5", ls=":", lw=1)
        bottom.set_xlabel("inference delay d (ticks at 30 Hz)")
    axes[0, -1].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
