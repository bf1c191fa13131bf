"""The chunks this policy node sent, kept by id, so that no action travels back for guidance.

The executor reports which chunk it is executing and at which row (ExecutorStatus); the leftover
is that chunk from that row on, in the policy's own output space (before postprocessing). Each chunk
also remembers whether it was sampled while an earlier chunk of ours was running (`in_motion`):
the first chunk after start or rest was not, and had no motion to continue.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np


class ChunkHistory:
    """The last `keep` chunks by id; older ones are dropped (the executor moved past them)."""

    def __init__(self, keep: int = 8) -> None:
        self._keep = keep
        self._chunks: OrderedDict[int, tuple[np.ndarray, bool]] = OrderedDict()
        self._next_id = 1

    def add(self, model_output: np.ndarray, *, in_motion: bool) -> int:
        """Record a chunk about to be sent (`in_motion`: an earlier chunk of ours had rows left when
        it was planned, whether or not guidance followed them); returns its id (increasing from 1)."""
        chunk_id = self._next_id
        self._next_id += 1
        self._chunks[chunk_id] = (np.array(model_output, copy=True), bool(in_motion))
        while len(self._chunks) > self._keep:
            self._chunks.popitem(last=False)
        return chunk_id

    def in_motion(self, chunk_id: int) -> bool:
        """Whether chunk `chunk_id` was planned while one of ours ran; False when unknown."""
        entry = self._chunks.get(chunk_id)
        return entry is not None and entry[1]

    @property
    def last_id(self) -> int:
        """Id of the newest chunk sent; 0 before any."""
        return self._next_id - 1

    def leftover(self, chunk_id: int, index: int) -> np.ndarray | None:
        """Rows `index`.. of chunk `chunk_id`; None when unknown (not ours, or too old) or used up."""
        entry = self._chunks.get(chunk_id)
        if entry is None or index >= len(entry[0]):
            return None
        return entry[0][index:]
