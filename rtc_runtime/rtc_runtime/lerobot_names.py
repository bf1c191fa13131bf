"""LeRobot's names for parameters that this project names otherwise: the one table of them.

A LeRobot user knows `prefix_attention_schedule`, `queue_threshold`, `interpolation_multiplier`...;
the nodes (through `rtc_runtime.parameters.declare`: parameter files, `-p`) and the launch
arguments (`rtc_bringup.graph`) accept them as aliases of ours. Names LeRobot and we share
(`execution_horizon`, `max_guidance_weight`, `use_torch_compile`, `torch_compile_backend`,
`torch_compile_mode`, `task`) need no entry. docs/policy_node.md shows this table.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["LEROBOT_NAMES", "lerobot_names_of", "with_our_names"]

# LeRobot's name -> ours. Sources: LeRobot's RTCConfig (prefix_attention_schedule), its RTC
# evaluation scripts (action_queue_size_to_get_new_actions, interpolation_multiplier,
# compile_warmup_inferences) and its rollout engine (queue_threshold).
LEROBOT_NAMES: dict[str, str] = {
    "prefix_attention_schedule": "schedule",
    "queue_threshold": "trigger_remaining",
    "action_queue_size_to_get_new_actions": "trigger_remaining",
    "compile_warmup_inferences": "warmup_inferences",
    "interpolation_multiplier": "interpolation",
}


def lerobot_names_of(name: str) -> tuple[str, ...]:
    """LeRobot's names of our parameter `name` (none for most)."""
    return tuple(theirs for theirs, ours in LEROBOT_NAMES.items() if ours == name)


def with_our_names(values: Mapping[str, Any], where: str = "parameter") -> dict[str, Any]:
    """`values` with LeRobot's names replaced by ours; ValueError naming both when a name is given
    twice with different values (`where`: "parameter" or "argument", for the message)."""
    out: dict[str, Any] = {}
    given_as: dict[str, str] = {}
    for name, value in values.items():
        ours = LEROBOT_NAMES.get(name, name)
        if ours in out and out[ours] != value:
            raise ValueError(f"{where} {ours} is given twice, as {given_as[ours]} = {out[ours]!r} and "
                             f"{name} = {value!r}: give one of them")
        out[ours], given_as[ours] = value, name
    return out
