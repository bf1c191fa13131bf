"""`rollforward`: the policy conditioned on where the arm will be when its chunk starts (VLASH, 2025).

An asynchronous chunk is observed at tick s and starts executing d ticks later, while the leftover of
the active chunk runs. VLASH rolls the observed joint state forward through those queued actions: the
policy is given, instead of the measured joint positions, the leftover's row at the assumed delay d,
the command the arm will have reached when the new chunk's first executed row plays. The image stays
the one observed (only the state is rolled forward). Without a leftover (the first chunk of an
episode) the measured state is kept.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def rolled_forward_state(merged: Sequence, plan) -> np.ndarray | None:
    """The joint positions (radians) the arm will have at `plan`'s first executed row: row
    `plan.prev_chunk_row + plan.delay` of the active chunk (`plan.prev_chunk_id` among the `merged`
    chunks, each with `chunk_id` and `actions` in radians), its last row if the leftover is shorter.
    None without a leftover (keep the measured state)."""
    if plan.leftover is None or not plan.prev_chunk_id:
        return None
    active = next((chunk for chunk in reversed(merged) if chunk.chunk_id == plan.prev_chunk_id), None)
    if active is None:
        raise ValueError(f"the plan continues chunk {plan.prev_chunk_id}, which was never merged")
    row = min(plan.prev_chunk_row + plan.delay, len(active.actions) - 1)
    return np.asarray(active.actions[row], dtype=float)
