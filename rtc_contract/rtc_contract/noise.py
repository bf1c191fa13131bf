"""The initial noise of a chunk's flow sampling, drawn from (seed, chunk id) alone.

The policy node and the offline replay (rtc_tools.replay) both call `chunk_noise`, so a chunk
recorded with its `noise_seed` is sampled again from the same noise: the replay is faithful, and
every chunk of a run still gets noise of its own. NumPy's PCG64 stream for a given seed sequence is
fixed across platforms and NumPy versions, unlike torch's CPU and CUDA generators.
"""
from __future__ import annotations

import numpy as np

UNSEEDED = -1


def chunk_noise(seed: int, chunk_id: int, length: int, action_dim: int) -> np.ndarray:
    """(length, action_dim) float32 standard normal noise for chunk `chunk_id` of a run seeded `seed`."""
    if seed < 0 or chunk_id < 0:
        raise ValueError(f"noise needs a seed and chunk id >= 0, got seed {seed}, chunk id {chunk_id}")
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, chunk_id])))
    return rng.standard_normal((length, action_dim), dtype=np.float32)
