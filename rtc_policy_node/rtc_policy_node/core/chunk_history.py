"""The chunks this policy node sent, kept by id, so that no action travels back for guidance.

The executor reports which chunk it is executing and at which row (ExecutorStatus); the leftover
is that chunk from that row on, in the policy's own output space (before postprocessing).
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np


class ChunkHistory:
    """The last `keep` chunks by id; older ones are dropped (the executor moved past them)."""

    def __init__(self, keep: int = 8) -> None:
        self._keep = keep
        self._chunks: OrderedDict[int, np.ndarray] = OrderedDict()
        self._next_id = 1

    def add(self, model_output: np.ndarray) -> int:
        """Record a chunk about to be sent; returns its id (increasing from 1)."""
        chunk_id = self._next_id
        self._next_id += 1
        self._chunks[chunk_id] = np.array(model_output, copy=True)
        while len(self._chunks) > self._keep:
            self._chunks.popitem(last=False)
        return chunk_id

    @property
    def last_id(self) -> int:
        """Id of the newest chunk sent; 0 before any."""
        return self._next_id - 1

    def leftover(self, chunk_id: int, index: int) -> np.ndarray | None:
        """Rows `index`.. of chunk `chunk_id`; None when unknown (not ours, or too old) or used up."""
        chunk = self._chunks.get(chunk_id)
        if chunk is None or index >= len(chunk):
            return None
        return chunk[index:]
