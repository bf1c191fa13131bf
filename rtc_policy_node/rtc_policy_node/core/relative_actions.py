"""Actions relative to the state (action = state + offset) and the re-anchoring of a leftover.

A relative-action policy (LeRobot's `use_relative_actions`) samples offsets from the state it
observed. The leftover guidance follows was sampled against an earlier state, so it is kept in
absolute terms and, before guidance, expressed relative to the NEW observation's state; the
sampled chunk goes back to absolute with that same state. Dimensions the mask leaves out (LeRobot
keeps the gripper absolute) pass through unchanged.

This is LeRobot's rule: `reanchor_relative_rtc_prefix` in src/lerobot/policies/rtc/relative.py
(the absolute leftover through `to_relative_actions` with the current state, then normalised), and
`to_relative_actions` / `to_absolute_actions` / `RelativeActionsProcessorStep._build_mask` in
src/lerobot/processor/relative_action_processor.py, huggingface/lerobot main at commit
7427f31801f944f5ec9ce53cda02862ce7d1638b. Normalisation is the policy's own (lerobot_policy).
All arrays here are in the policy's feature units; state and action share them on relative dims.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def relative_mask(action_names: Sequence[str] | None, exclude_joints: Sequence[str], action_dim: int) -> np.ndarray:
    """Which action dims are relative: all but those whose name contains an excluded name
    (case-insensitive, LeRobot's `relative_exclude_joints` match); all when the actions are unnamed."""
    tokens = [str(name).lower() for name in exclude_joints if name]
    if action_names is not None and len(action_names) != action_dim:
        raise ValueError(f"{len(action_names)} action names for an action of {action_dim} dims")
    if not tokens or action_names is None:
        return np.ones(action_dim, dtype=bool)
    return np.array([not any(token in str(name).lower() for token in tokens) for name in action_names])


def _offset(actions: np.ndarray, state: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The state on the relative dims, zero elsewhere, shaped to broadcast over the rows."""
    mask = np.asarray(mask, dtype=bool)
    if actions.shape[-1] != mask.shape[0] or state.shape != mask.shape:
        raise ValueError(f"actions {actions.shape}, state {state.shape} and mask {mask.shape} disagree in dims")
    if not np.isfinite(state).all():
        raise ValueError(f"the state anchoring relative actions is not finite: {state}")
    return np.where(mask, state, 0.0)


def to_relative(actions: np.ndarray, state: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(rows, dims) absolute actions -> offsets from `state` on the masked dims: re-anchoring a
    leftover to the new observation's state."""
    return actions - _offset(actions, state, mask)


def to_absolute(actions: np.ndarray, state: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(rows, dims) offsets from `state` on the masked dims -> absolute actions: a sampled chunk
    back in the terms the arm is commanded in."""
    return actions + _offset(actions, state, mask)
