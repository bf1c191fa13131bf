"""sensor_msgs/JointState fields to a vector in a fixed joint order, matched by name."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def joint_vector(names: Sequence[str], positions: Sequence[float], order: Sequence[str]) -> np.ndarray:
    """Positions of `order`'s joints, by name; a missing joint or a NaN is a ValueError naming it."""
    if len(names) != len(positions):
        raise ValueError(f"joint state has {len(names)} names but {len(positions)} positions")
    index = {name: i for i, name in enumerate(names)}
    missing = [joint for joint in order if joint not in index]
    if missing:
        raise ValueError(f"joint state lacks {missing} (has {list(names)})")
    vector = np.array([positions[index[joint]] for joint in order], dtype=np.float64)
    bad = [joint for joint, value in zip(order, vector) if not np.isfinite(value)]
    if bad:
        raise ValueError(f"joint state position of {bad} is not finite")
    return vector
