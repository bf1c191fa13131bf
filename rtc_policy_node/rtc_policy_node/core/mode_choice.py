"""Mode choice: guided sampling commits to the leftover's mode or follows a new one, never a blend.

Guidance pulls a new chunk toward the leftover over a soft prefix mask, while the rest of the chunk
follows wherever the denoiser's noise leads. When the task is multimodal (around an obstacle on
the left or on the right) and the two disagree, the guided chunk is a per-row blend of two modes,
and the blend of two ways around an obstacle runs through it (docs/builtin_policy.md shows the
collisions this caused). So before guiding, sample a few candidate chunks unguided, each from its
own noise, and measure how far each is from the leftover on the rows guidance would blend:

- enough of them are close to the leftover: the policy still makes the leftover's plan; guide
  with the closest candidate's noise, so the prefix and the rest of the chunk are in the same
  mode (commit to the leftover's mode);
- too few are: the leftover's plan is one the policy no longer makes; use the first candidate
  (the given noise) as it is, unguided (follow the new mode cleanly: the executor skips the
  stale rows and switches, exactly as without guidance).

When the chunk after a start follows the new plan instead (`keep_or_follow`), `smooth_switch` puts
a short transition between the rows the arm executed and that plan, so the switch is not a jump.

Everything here is numpy on the policy's own (normalised) output space, the space leftovers are
kept in, so a disagreement is measured in dataset standard deviations for any robot.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ModeChoice:
    candidate: int  # index of the chosen candidate (and of its noise)
    guided: bool  # True: guide this candidate's noise toward the leftover; False: use the candidate as it is
    disagreement: float  # the chosen candidate's disagreement with the leftover


def compared_rows(inference_delay: int, execution_horizon: int, leftover_rows: int, chunk_length: int) -> range:
    """Rows [d, H) that guidance would blend, clamped as RTCGuidance clamps d and H.

    Rows before d execute before the new chunk arrives (the executor skips them), rows from H on
    are not guided: only the rows in between can mix the leftover with the new sample.
    """
    horizon = min(execution_horizon, leftover_rows, chunk_length)
    return range(min(inference_delay, horizon), horizon)


def leftover_disagreement(
    candidates: np.ndarray, leftover: np.ndarray, inference_delay: int, execution_horizon: int
) -> np.ndarray:
    """Per candidate (K,): the largest, over the compared rows, RMS over action dims of candidate - leftover.

    candidates (K, T, A), leftover (T', A) with the same A. 0 where no row is compared.
    """
    candidates, leftover, rows = _checked(candidates, leftover, inference_delay, execution_horizon)
    return _disagreement(candidates[:, rows.start : rows.stop], leftover[None, rows.start : rows.stop])


def choose_mode(
    candidates: np.ndarray,
    leftover: np.ndarray,
    inference_delay: int,
    execution_horizon: int,
    max_disagreement: float,
    min_support: float = 0.25,
) -> ModeChoice:
    """Commit (guide the closest candidate) if the policy still makes the leftover's plan, else follow.

    The policy still makes it when at least `min_support` of the candidates are within
    `max_disagreement` of the leftover. One close candidate is not enough: a leftover that
    hesitates between two modes (a plan straight at the obstacle) can have one equally hesitant
    candidate next to it, and committing to that keeps the arm on the hesitant plan. Otherwise
    candidate 0 (the given noise) unguided: the chunk unguided sampling would have produced.
    """
    if not max_disagreement > 0:
        raise ValueError(f"max_disagreement must be > 0, got {max_disagreement!r}")
    if not 0.0 < min_support <= 1.0:
        raise ValueError(f"min_support must be in (0, 1], got {min_support!r}")
    disagreement = leftover_disagreement(candidates, leftover, inference_delay, execution_horizon)
    if np.mean(disagreement <= max_disagreement) >= min_support:
        best = int(np.argmin(disagreement))
        return ModeChoice(best, True, float(disagreement[best]))
    return ModeChoice(0, False, float(disagreement[0]))


def keep_or_follow(guided: np.ndarray, unguided: np.ndarray, inference_delay: int,
                   max_disagreement: float) -> ModeChoice:
    """Keep a chunk guided over the executed rows only, or follow the new plan unguided.

    `guided` and `unguided` (T, A) are sampled from the same observation and noise, `guided` with a
    hard prefix over the rows [0, d) the arm runs before it arrives (the chunk after a first one after
    rest, core.inference_scheduler). Their rows from d on differ only because of those rows: where the
    difference is above `max_disagreement` (its largest RMS over action dims), the prefix drags the
    chunk off the plan the policy now makes, and the guided chunk is a blend of the two, so the
    unguided one is used, a clean switch as unguided sampling makes it (candidate 0, guided False).
    A NaN difference (a broken sample) is not kept either: the unguided chunk goes out, and if it is
    the broken one, the executor's chunk check refuses it like any non-finite chunk.
    """
    if not max_disagreement > 0:
        raise ValueError(f"max_disagreement must be > 0, got {max_disagreement!r}")
    guided = np.asarray(guided, dtype=np.float64)
    unguided = np.asarray(unguided, dtype=np.float64)
    if guided.ndim != 2 or guided.shape != unguided.shape:
        raise ValueError(f"guided and unguided must both be (T, A), got {guided.shape} and {unguided.shape}")
    if int(inference_delay) != inference_delay or inference_delay < 0:
        raise ValueError(f"inference_delay must be a non-negative integer, got {inference_delay!r}")
    rows = slice(min(int(inference_delay), guided.shape[0]), None)
    disagreement = float(_disagreement(guided[None, rows], unguided[None, rows])[0])
    return ModeChoice(0, disagreement <= max_disagreement, disagreement)


# Rows of the transition onto a new plan (docs/evaluation.md measures 1, 3, 6 and 10 on the simulated task).
SWITCH_TRANSITION_ROWS = 6


def smooth_switch(executed: np.ndarray, new_plan: np.ndarray, inference_delay: int, transition_rows: int
                  ) -> np.ndarray:
    """The chunk that goes from the executed rows onto `new_plan` instead of jumping to it.

    `executed` (d', A): the rows of the first chunk the arm runs before this one arrives (the
    scheduler's leftover for the chunk after a start, d' = max(d, 1) rows), `new_plan` (T, A) the
    unguided sample. Rows [0, d) are the executed rows (the executor skips them, or plays them if
    the chunk comes early: the same motion either way); rows [d, d + L) are a cubic Hermite
    segment from the last executed row, leaving with its velocity, to row d + L of the new plan,
    arriving with the plan's velocity there; rows from d + L on are the new plan's. Position and
    velocity (per row) are continuous at both ends, and from d + L on the arm keeps the new plan's
    direction. The segment's peak acceleration falls as 1/L^2, so L trades how long the switch takes
    against how hard it is: a few rows. Velocities are one-row differences; with a single executed
    row the arm is taken to be at rest there.
    """
    executed = np.asarray(executed, dtype=np.float64)
    plan = np.asarray(new_plan, dtype=np.float64)
    if executed.ndim != 2 or plan.ndim != 2 or executed.shape[1] != plan.shape[1] or len(executed) == 0:
        raise ValueError(f"executed (d, A) with d >= 1 and new_plan (T, A) must share A, got {executed.shape} "
                         f"and {plan.shape}")
    if int(transition_rows) != transition_rows or transition_rows < 1:
        raise ValueError(f"transition_rows must be a positive integer, got {transition_rows!r}")
    d = min(max(int(inference_delay), 1), len(executed))
    end = d + int(transition_rows)
    if end >= len(plan):  # no row of the plan left to land on: keep the plan as it is
        return plan.copy()
    start = executed[d - 1]
    start_velocity = executed[d - 1] - executed[d - 2] if d >= 2 else np.zeros_like(start)
    end_velocity = plan[end] - plan[end - 1]
    rows = end - (d - 1)  # the segment spans rows d - 1 .. end
    u = (np.arange(d, end) - (d - 1))[:, None] / rows
    h00, h10 = 2 * u**3 - 3 * u**2 + 1, u**3 - 2 * u**2 + u
    h01, h11 = -2 * u**3 + 3 * u**2, u**3 - u**2
    segment = h00 * start + h10 * rows * start_velocity + h01 * plan[end] + h11 * rows * end_velocity
    return np.concatenate([executed[:d], segment, plan[end:]])


def _checked(
    candidates: np.ndarray, leftover: np.ndarray, inference_delay: int, execution_horizon: int
) -> tuple[np.ndarray, np.ndarray, range]:
    candidates = np.asarray(candidates, dtype=np.float64)
    leftover = np.asarray(leftover, dtype=np.float64)
    if candidates.ndim != 3 or leftover.ndim != 2 or candidates.shape[2] != leftover.shape[1]:
        raise ValueError(
            f"candidates (K, T, A) and leftover (T', A) must share A, got {candidates.shape} and {leftover.shape}"
        )
    for name, value in (("inference_delay", inference_delay), ("execution_horizon", execution_horizon)):
        if int(value) != value or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    rows = compared_rows(int(inference_delay), int(execution_horizon), leftover.shape[0], candidates.shape[1])
    return candidates, leftover, rows


def _disagreement(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Largest over rows (axis -2) of the RMS over action dims (axis -1); 0 with no rows."""
    if a.shape[-2] == 0:
        return np.zeros(a.shape[0])
    return np.sqrt(np.mean((a - b) ** 2, axis=-1)).max(axis=-1)


def candidate_noises(noise: np.ndarray, count: int) -> np.ndarray:
    """(count, T, A) float32: `noise` first, then standard normal draws seeded by its bytes.

    A fixed noise therefore gives fixed candidates (paired, reproducible evaluations); a fresh
    random noise gives fresh candidates.
    """
    if int(count) != count or count < 1:
        raise ValueError(f"count must be a positive integer, got {count!r}")
    noise = np.ascontiguousarray(noise, dtype=np.float32)
    rng = np.random.default_rng(zlib.crc32(noise.tobytes()))
    extra = rng.standard_normal((int(count) - 1, *noise.shape)).astype(np.float32)
    return np.concatenate([noise[None], extra], axis=0)
