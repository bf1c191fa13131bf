"""What the executor accepts as an ActionChunk's content, checked before it reaches the action queue.

A chunk that breaks the contract must cause no motion, so every check runs before the merge and a
failure raises `ChunkRejected` with a short machine-readable code (counted and reported by the
executor) and a text naming what was wrong. Columns are matched to the executor's joints by name,
never by position. Timing (source_step in the future, stale, out of order) is the action queue's
to judge, atomically with the merge. No rclpy import: the chunk is any object with the ActionChunk
field names.
"""
from __future__ import annotations

from typing import Protocol
from collections.abc import Sequence

import numpy as np

from rtc_contract.rejections import RejectionCode


class ChunkRejected(Exception):
    """A chunk the executor refuses, with its code (rtc_contract.rejections)."""

    def __init__(self, code: RejectionCode, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail

    @property
    def reason(self) -> str:
        return f"{self.code}: {self.detail}"


class ChunkFields(Protocol):
    joint_names: Sequence[str]
    length: int
    action_dim: int
    actions: Sequence[float]


def chunk_actions(chunk: ChunkFields, joint_order: Sequence[str]) -> np.ndarray:
    """Validate `chunk` and return its actions as a (length, len(joint_order)) float64 array whose
    columns follow `joint_order`; raise ChunkRejected on the first broken rule."""
    length, dim = int(chunk.length), int(chunk.action_dim)
    names = list(chunk.joint_names)
    flat = np.asarray(chunk.actions, dtype=np.float64).ravel()
    if length == 0:
        raise ChunkRejected(RejectionCode.EMPTY, "length is 0")
    if length * dim != flat.size:
        raise ChunkRejected(RejectionCode.SIZE_MISMATCH, f"length {length} x action_dim {dim} = {length * dim} "
                                           f"but actions has {flat.size} values")
    if dim != len(names):
        raise ChunkRejected(RejectionCode.DIM_MISMATCH, f"action_dim {dim} but {len(names)} joint_names")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ChunkRejected(RejectionCode.DUPLICATE_JOINT, f"joint_names repeat {duplicates}")
    unknown = [n for n in names if n not in joint_order]
    if unknown:
        raise ChunkRejected(RejectionCode.UNKNOWN_JOINT, f"{unknown} not in the executor's joints {list(joint_order)}")
    missing = [n for n in joint_order if n not in names]
    if missing:
        raise ChunkRejected(RejectionCode.MISSING_JOINT, f"chunk lacks joints {missing}")
    rows = flat.reshape(length, dim)
    bad = np.argwhere(~np.isfinite(rows))
    if bad.size:
        row, col = bad[0]
        raise ChunkRejected(RejectionCode.NON_FINITE, f"{bad.shape[0]} non-finite values, first at row {row} "
                                        f"joint {names[col]!r}: {rows[row, col]}")
    return rows[:, [names.index(n) for n in joint_order]]
