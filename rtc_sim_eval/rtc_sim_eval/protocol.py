"""The asynchronous-chunking protocol's sweep: delays in whole ticks, chunk lengths, and what carries
from one episode to the next.

The protocol (the 2026 controlled comparison of asynchronous chunking) sweeps the inference delay d
over 0..20 control ticks and the chunk length H over 30 and 50, success per delay. Here H is the
policy's own chunk sliced to its first H rows (`SlicedPolicy`): the built-in policy predicts 50, so
H = 30 is the same sample cut short, not a policy trained for 30. The trigger (`trigger_remaining`,
rows left when the next inference starts) is scaled with H (`trigger_for_horizon`): the node's 25
of 50 rows executes half a chunk per inference, and so does 15 of 30; an unscaled 25 of 30 would
switch chunks every 5 rows. A delay estimate (ours, LeRobot's)
lives as long as the process that makes it, so within one (mode, delay, H) cell it is carried from
episode to episode (`Carried`), as in a node that runs them all one after the other.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

_RANGE = re.compile(r"^(\d+)\.\.(\d+)(?::(\d+))?$")


def parse_ticks(text: str) -> list[int]:
    """Whole ticks from `A..B` (both included), `A..B:STEP` and comma lists of either (`0..4,10`),
    in the order given, repeats dropped; ValueError with the reason otherwise."""
    values: list[int] = []
    for token in (t.strip() for t in text.split(",")):
        if not token:
            continue
        match = _RANGE.match(token)
        if match:
            first, last, step = int(match[1]), int(match[2]), int(match[3] or 1)
            if step < 1 or last < first:
                raise ValueError(f"{token!r}: expected A..B[:STEP] with A <= B and STEP >= 1")
            values.extend(range(first, last + 1, step))
        elif token.isdigit():
            values.append(int(token))
        else:
            raise ValueError(f"{token!r}: expected a whole number >= 0, A..B or A..B:STEP")
    if not values:
        raise ValueError(f"{text!r}: no value given")
    return list(dict.fromkeys(values))


class SlicedPolicy:
    """A SimPolicy whose chunks are cut to their first `horizon` rows (actions and model output);
    everything else (noise shape, units, loaded policies) is the wrapped policy's."""

    def __init__(self, policy, horizon: int) -> None:
        if not 1 <= horizon <= policy.chunk_size:
            raise ValueError(f"chunk length {horizon} is not in 1..{policy.chunk_size}, the policy's own chunk")
        self.wrapped = policy
        self.horizon = horizon

    def __getattr__(self, name: str):
        return getattr(self.wrapped, name)

    def infer(self, *args, **kwargs):
        actions, sampled = self.wrapped.infer(*args, **kwargs)
        cut = self.horizon
        return actions[:cut], dataclasses.replace(sampled, actions=sampled.actions[:cut],
                                                  model_output=np.asarray(sampled.model_output)[:cut])


def trigger_for_horizon(trigger_remaining: int, horizon: int, chunk_size: int) -> int:
    """The node's `trigger_remaining` for a chunk of `chunk_size` rows, scaled to `horizon` rows."""
    return round(trigger_remaining * horizon / chunk_size)


def settings_for_horizon(settings, horizon: int | None, chunk_size: int):
    """A LoopSettings with its trigger scaled to `horizon` rows (None: the policy's own chunk, unchanged)."""
    if horizon is None:
        return settings
    trigger = trigger_for_horizon(settings.scheduler.trigger_remaining, horizon, chunk_size)
    return dataclasses.replace(settings, scheduler=dataclasses.replace(settings.scheduler, trigger_remaining=trigger))


@dataclasses.dataclass
class Carried:
    """What one cell's episodes hand on: our scheduler's delay estimator, LeRobot's latency tracker."""

    estimator: object | None = None  # rtc_policy_node.core.delay.DelayEstimator, made by the first episode
    tracker: object | None = None  # lerobot_pipeline.new_latency_estimate(variant)


def by_horizon(report: dict) -> dict[str, dict[str, dict]]:
    """`results[mode][H][profile]` turned to `[H][mode][profile]` (plots.plot_protocol's input); a report
    without a horizon level is one column, the policy's own chunk."""
    settings, results = report["settings"], report["results"]
    if settings["levels"] == ["latency_profile"]:
        return {str(settings["chunk_size"]): results}
    return {str(h): {mode: results[mode][str(h)] for mode in results if str(h) in results[mode]}
            for h in settings["horizons"]}
