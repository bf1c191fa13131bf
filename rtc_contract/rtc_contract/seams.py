"""Seam discontinuity: how much a chunk switch moves the arm beyond what playing one chunk does.

One set of definitions for the simulated evaluation (`rtc_sim_eval`) and for recorded ROS runs (the
report), on two signals:

- Commanded steps. A step is the largest joint change between two consecutive executed actions; it
  is a seam step when the two come from different chunks, else an inner step. Ticks that held
  (underrun, or waiting for a chunk) are left out by the caller: a hold keeps the last action, so the
  step after it is measured from that action.
- Measured motion. Velocity, acceleration and jerk of the joint positions the arm reported (not the
  commands), estimated by `measured_motion`; the seam jerk is the largest joint jerk in the
  `SEAM_WINDOW_S` around a seam's execution time, the inner jerk every sample outside all of them.

The ratio (`seam_ratio`) is the largest seam value over the p99 of the inner values the arm moved by,
floored at what the servo can resolve: values at or below the floor (one STS3215 tick for steps, what
one tick of position flicker produces through the filter for jerk) are rest, not motion, so an arm
that holds still reads at most 1 instead of dividing by its own noise. About 1: switching chunks moves
the arm no more than playing one does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SERVO_RESOLUTION_RAD = 2 * np.pi / 4096  # one STS3215 position tick (12-bit encoder over a turn)
FILTER_WINDOW_S = 0.1  # the local polynomial fit's span: several 30 Hz command periods
MIN_FILTER_SAMPLES = 5  # a cubic fit needs more points than coefficients; at 30 Hz: the central differences
GAP_FACTOR = 3.0  # a sampling gap longer than this many typical intervals splits the signal
# (before, after) a seam's execution time: before, half the filter's span plus the command's way to the
# servo; after, the servo's response to a step (the naive switch's jerk lasts about this long)
SEAM_WINDOW_S = (0.1, 0.3)


def seam_and_inner_steps(actions: np.ndarray, chunk_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(seam steps, inner steps) of executed `actions` (n, dim) from chunks `chunk_ids` (n,)."""
    actions = np.asarray(actions, dtype=float)
    chunk_ids = np.asarray(chunk_ids)
    if len(actions) != len(chunk_ids):
        raise ValueError(f"{len(actions)} actions but {len(chunk_ids)} chunk ids")
    if len(actions) < 2:
        return np.empty(0), np.empty(0)
    steps = np.abs(np.diff(actions, axis=0)).max(axis=1)
    switch = np.diff(chunk_ids) != 0
    return steps[switch], steps[~switch]


def seam_ratio(largest_seam: float, inner: np.ndarray, floor: float = SERVO_RESOLUTION_RAD) -> float:
    """`largest_seam` over `moving_p99(inner, floor)`; NaN without inner values. Steps by default;
    pass the jerk floor (`MeasuredMotion.jerk_floor`) for jerk."""
    return float(largest_seam / moving_p99(inner, floor))


def moving_p99(inner: np.ndarray, floor: float = SERVO_RESOLUTION_RAD) -> float:
    """The p99 of the `inner` values above `floor` (the motion; the others are rest), at least
    `floor`: what a seam is compared with. NaN without inner values."""
    inner = np.asarray(inner, dtype=float)
    if inner.size == 0:
        return float("nan")
    moving = inner[inner > floor]
    return max(float(np.percentile(moving, 99)) if moving.size else 0.0, floor)


@dataclass
class MeasuredMotion:
    """Derivatives of measured joint positions on a uniform grid (joints as the columns given)."""

    times: np.ndarray  # (n,) s, the grid's samples that had a full filter window
    velocity: np.ndarray  # (n, dim) rad/s
    acceleration: np.ndarray  # (n, dim) rad/s^2
    jerk: np.ndarray  # (n, dim) rad/s^3
    interval_s: float  # the grid's spacing: the median interval between measured samples
    velocity_floor: float  # the most one tick of position flicker can produce through the filter
    acceleration_floor: float
    jerk_floor: float


def _derivative_filters(samples: int) -> np.ndarray:
    """(3, samples): a cubic least-squares fit's 1st, 2nd and 3rd derivative at the window's centre,
    per grid interval (Savitzky-Golay coefficients)."""
    offsets = np.arange(samples) - samples // 2
    fit = np.linalg.pinv(np.vander(offsets, 4, increasing=True))  # rows: coefficients of k^0..k^3
    return fit[1:] * np.array([1.0, 2.0, 6.0])[:, None]


def measured_motion(times: np.ndarray, positions: np.ndarray, *, window_s: float = FILTER_WINDOW_S,
                    resolution: float = SERVO_RESOLUTION_RAD) -> MeasuredMotion:
    """Velocity, acceleration and jerk of measured `positions` (n, dim) sampled at `times` (n,) s,
    the stamps of the messages: samples are sorted by stamp, a repeated stamp keeps its last sample,
    non-finite samples are dropped; the signal is split at gaps longer than GAP_FACTOR typical
    intervals, each piece resampled linearly onto a uniform grid at the median interval, and
    differentiated by a cubic least-squares fit over `window_s` (at least MIN_FILTER_SAMPLES samples:
    exact on cubics, the plain central differences at 5 samples). Quantisation noise of one tick of
    `resolution` stays below the returned floors."""
    times = np.asarray(times, dtype=float)
    positions = np.asarray(positions, dtype=float)
    if positions.ndim != 2 or len(times) != len(positions):
        raise ValueError(f"positions of shape {positions.shape} for {len(times)} times: expected (n, joints)")
    times, positions = ordered_samples(times, positions)
    intervals = np.diff(times)
    interval = float(np.median(intervals)) if len(intervals) else float("nan")
    samples = max(MIN_FILTER_SAMPLES, int(round(window_s / interval)) // 2 * 2 + 1) if len(intervals) else 0
    filters = _derivative_filters(samples) if samples else np.zeros((3, 1))
    floors = resolution * np.abs(filters).sum(axis=1) / 2 / interval ** np.arange(1, 4) if samples else [np.nan] * 3
    pieces = []
    for start, stop in _pieces(intervals, GAP_FACTOR * interval) if samples else []:
        grid = np.arange(times[start], times[stop] + interval / 2, interval)
        if len(grid) < samples:
            continue
        resampled = np.column_stack([np.interp(grid, times[start:stop + 1], column)
                                     for column in positions[start:stop + 1].T])
        windows = np.lib.stride_tricks.sliding_window_view(resampled, samples, axis=0)  # (m, dim, samples)
        derivatives = [windows @ f / interval**order for order, f in enumerate(filters, start=1)]
        pieces.append((grid[samples // 2:len(grid) - samples // 2], *derivatives))
    dim = positions.shape[1]
    columns = [np.concatenate(parts) for parts in zip(*pieces)] if pieces else \
        [np.empty(0), np.empty((0, dim)), np.empty((0, dim)), np.empty((0, dim))]
    return MeasuredMotion(*columns, interval, *(float(f) for f in floors))


def ordered_samples(times: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Samples (times (n,), positions (n, dim)) sorted by time, the last of each repeated stamp kept,
    those with a non-finite value dropped: what interpolation and differentiation can use."""
    finite = np.isfinite(times) & np.isfinite(positions).all(axis=1)
    times, positions = times[finite], positions[finite]
    order = np.argsort(times, kind="stable")
    times, positions = times[order], positions[order]
    last = np.diff(times, append=np.inf) > 0
    return times[last], positions[last]


def _pieces(intervals: np.ndarray, longest: float) -> list[tuple[int, int]]:
    """(first, last) sample indices of the runs without an interval longer than `longest`."""
    breaks = np.flatnonzero(intervals > longest)
    starts = np.concatenate([[0], breaks + 1])
    stops = np.concatenate([breaks, [len(intervals)]])
    return list(zip(starts.tolist(), stops.tolist()))


@dataclass
class SeamJerk:
    """The measured jerk at seams against the measured jerk within chunks (largest joint, rad/s^3)."""

    seam_max: float  # the largest jerk in the SEAM_WINDOW_S of a counted seam
    inner_p99: float  # moving_p99 of the jerk outside every seam's window (and the start's)
    ratio: float  # seam_max / inner_p99, as seam_ratio does for steps
    floor: float  # the motion's jerk floor: jerk at or below it is rest
    inner: np.ndarray  # per-sample jerk outside every window (to pool over episodes)


def seam_jerk(motion: MeasuredMotion, seam_times: np.ndarray, counted: np.ndarray | None = None, *,
              started: float | None = None, window: tuple[float, float] = SEAM_WINDOW_S) -> SeamJerk:
    """Measured jerk in the `window` (s before, s after) of the seams executed at `seam_times` (s, the
    base of `motion.times`) against the jerk outside all of them. `counted` (bool per seam) chooses
    the seams whose jerk is judged (default all); the others' windows are left out of both sides, as
    is the window of `started`, when the first chunk's first row was executed: a start from rest is a
    switch from no chunk, neither a seam nor the motion within one."""
    seam_times = np.asarray(seam_times, dtype=float)
    counted = np.ones(len(seam_times), bool) if counted is None else np.asarray(counted, bool)
    if started is not None:
        seam_times, counted = np.append(seam_times, started), np.append(counted, False)
    jerk = np.abs(motion.jerk).max(axis=1) if motion.jerk.size else np.zeros(len(motion.times))
    near_counted = near_seams(motion.times, seam_times[counted], window)
    inner = jerk[~near_seams(motion.times, seam_times, window)]
    seam_max = float(jerk[near_counted].max()) if near_counted.any() else float("nan")
    inner_p99 = moving_p99(inner, motion.jerk_floor)
    ratio = seam_max / inner_p99 if near_counted.any() else float("nan")
    return SeamJerk(seam_max, inner_p99, ratio, motion.jerk_floor, inner)


def near_seams(times: np.ndarray, seam_times: np.ndarray,
               window: tuple[float, float] = SEAM_WINDOW_S) -> np.ndarray:
    """Whether each of `times` lies in the `window` (s before, s after) of one of `seam_times`."""
    if len(seam_times) == 0:
        return np.zeros(len(times), bool)
    seam_times = np.sort(seam_times)
    before, after = window
    first = np.searchsorted(seam_times, times - after)  # the earliest seam whose window has not ended
    return (first < len(seam_times)) & (seam_times[np.clip(first, 0, len(seam_times) - 1)] <= times + before)
