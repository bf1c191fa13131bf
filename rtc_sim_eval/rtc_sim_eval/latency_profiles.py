"""Inference latency profiles in control ticks: the true delay of each chunk of a simulated episode.

Real inference latency is not fixed: it jitters, spikes (garbage collection, a busy GPU), starts
cold and drifts. A profile gives the true delay of chunk `index` of an episode; the policy side
never sees it, it only sees the d_real its chunks arrive with. Profiles are written as text, which
is also their key in the results:

| spec | true delay of a chunk (ticks, never below 0) |
|---|---|
| `fixed:D` | D |
| `jitter:MEAN,SD` | MEAN + SD * a standard normal draw, rounded |
| `spikes:BASE,P,SIZE` | BASE, or BASE + SIZE with probability P (mean BASE + P * SIZE) |
| `cold:FIRST,THEN` | FIRST for the first chunk of an episode, THEN afterwards |
| `drift:FROM,TO` | FROM at tick 0, growing linearly to TO at the episode's last tick, rounded |
| `replay:BAG` | a recorded run's end-to-end latencies (InferenceTiming on `/rtc/timing`) in ticks |

A replay takes the recorded chunks in order, cyclically, from a seeded offset per episode; a
latency becomes the tick the chunk is merged at, at the simulated rate (`latencies_to_ticks`).

Draws are seeded by (seed, episode, chunk index) alone, so every pipeline compared in one run
meets the same delays for its chunks whatever it did before: paired comparisons, reproducible.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PROFILE_KINDS = ("fixed", "jitter", "spikes", "cold", "drift", "replay")
_STREAM = 16  # keeps the latency draws apart from any other stream seeded by (seed, episode, ...)


@dataclass(frozen=True)
class ChunkStart:
    """Where a chunk's inference starts: which episode, which chunk of it, at which tick."""

    seed: int
    episode: int
    index: int  # 0 for the first chunk of the episode
    tick: int
    episode_ticks: int  # the episode's length limit (max_ticks)

    def rng(self) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.episode, self.index, _STREAM])


class LatencyProfile(ABC):
    """The true delay of each chunk; `spec` is its text form (and its key in the results)."""

    spec: str

    @abstractmethod
    def delay(self, start: ChunkStart) -> int:
        """The chunk's true delay in ticks (>= 0)."""


@dataclass(frozen=True)
class Fixed(LatencyProfile):
    ticks: int

    @property
    def spec(self) -> str:
        return f"fixed:{self.ticks}"

    def delay(self, start: ChunkStart) -> int:
        return self.ticks


@dataclass(frozen=True)
class Jitter(LatencyProfile):
    mean: float
    sd: float

    @property
    def spec(self) -> str:
        return f"jitter:{_num(self.mean)},{_num(self.sd)}"

    def delay(self, start: ChunkStart) -> int:
        return max(0, round(self.mean + self.sd * start.rng().standard_normal()))


@dataclass(frozen=True)
class Spikes(LatencyProfile):
    base: int
    probability: float
    size: int

    @property
    def spec(self) -> str:
        return f"spikes:{self.base},{_num(self.probability)},{self.size}"

    def delay(self, start: ChunkStart) -> int:
        return self.base + (self.size if start.rng().random() < self.probability else 0)


@dataclass(frozen=True)
class Cold(LatencyProfile):
    first: int
    then: int

    @property
    def spec(self) -> str:
        return f"cold:{self.first},{self.then}"

    def delay(self, start: ChunkStart) -> int:
        return self.first if start.index == 0 else self.then


@dataclass(frozen=True)
class Drift(LatencyProfile):
    start_ticks: int
    end_ticks: int

    @property
    def spec(self) -> str:
        return f"drift:{self.start_ticks},{self.end_ticks}"

    def delay(self, start: ChunkStart) -> int:
        fraction = min(1.0, start.tick / max(1, start.episode_ticks - 1))
        return round(self.start_ticks + (self.end_ticks - self.start_ticks) * fraction)


@dataclass(frozen=True)
class Replay(LatencyProfile):
    source: str  # the bag directory, as given
    ticks: tuple[int, ...]  # the recorded chunks' delays, in order

    @property
    def spec(self) -> str:
        return f"replay:{self.source}"

    def delay(self, start: ChunkStart) -> int:
        offset = int(np.random.default_rng([start.seed, start.episode, _STREAM]).integers(len(self.ticks)))
        return self.ticks[(offset + start.index) % len(self.ticks)]


def latencies_to_ticks(latencies_ms: Sequence[float], control_rate_hz: float) -> tuple[int, ...]:
    """Latencies in ms as the ticks a chunk arrives late: a chunk started at a tick and ready within
    the next period is merged at the following tick (the epsilon keeps exact multiples exact)."""
    return tuple(max(0, math.ceil(ms * control_rate_hz / 1000.0 - 1e-9)) for ms in latencies_ms)


def recorded_latencies_ms(bag: Path) -> list[float]:
    """End-to-end latencies (observation to chunk published, ms) of a recorded run's /rtc/timing."""
    from rtc_tools.bag_reader import BagError, decoded, open_bag  # only a replay needs ROS's bag types

    try:
        with open_bag(bag) as (reader, store):
            timings = decoded(reader, store, {"/rtc/timing": "rtc_msgs/msg/InferenceTiming"})
            return [float(msg.end_to_end_ms) for _, _, msg in timings]
    except BagError as err:
        raise ValueError(str(err)) from None


def parse_profile(text: str, control_rate_hz: float) -> LatencyProfile:
    """One profile from its spec (see the module docstring); ValueError with the reason otherwise."""
    kind, _, args = text.strip().partition(":")
    if kind not in PROFILE_KINDS or not args:
        raise ValueError(f"latency profile {text!r}: expected KIND:ARGS with KIND one of {', '.join(PROFILE_KINDS)}")
    if kind == "replay":
        bag = Path(args)
        if not bag.exists():
            raise ValueError(f"latency profile {text!r}: no recorded run at {bag}")
        ticks = latencies_to_ticks(recorded_latencies_ms(bag), control_rate_hz)
        if not ticks:
            raise ValueError(f"latency profile {text!r}: {bag} has no InferenceTiming messages on /rtc/timing")
        return Replay(args, ticks)
    try:
        values = [float(v) for v in args.split(",")]
    except ValueError:
        raise ValueError(f"latency profile {text!r}: arguments must be numbers") from None
    arity = {"fixed": 1, "jitter": 2, "spikes": 3, "cold": 2, "drift": 2}[kind]
    if len(values) != arity or not all(math.isfinite(v) and v >= 0 for v in values):
        raise ValueError(f"latency profile {text!r}: {kind} takes {arity} non-negative number(s)")
    ticks = [v for i, v in enumerate(values) if not (kind == "jitter" or (kind == "spikes" and i == 1))]
    if any(v != int(v) for v in ticks):
        raise ValueError(f"latency profile {text!r}: delays are whole ticks")
    if kind == "fixed":
        return Fixed(int(values[0]))
    if kind == "jitter":
        return Jitter(values[0], values[1])
    if kind == "spikes":
        if values[1] > 1:
            raise ValueError(f"latency profile {text!r}: the spike probability must be in [0, 1]")
        return Spikes(int(values[0]), values[1], int(values[2]))
    if kind == "cold":
        return Cold(int(values[0]), int(values[1]))
    return Drift(int(values[0]), int(values[1]))


def parse_profiles(text: str, control_rate_hz: float) -> list[LatencyProfile]:
    """`KIND:ARGS[,KIND:ARGS...]`: a comma followed by `KIND:` starts the next profile, any other
    comma separates the current profile's arguments (`jitter:6,2,cold:20,6` is two profiles)."""
    specs: list[str] = []
    for token in text.split(","):
        token = token.strip()
        if token.partition(":")[0] in PROFILE_KINDS and ":" in token or not specs:
            specs.append(token)
        else:
            specs[-1] += "," + token
    if not any(specs):
        raise ValueError("no latency profile given")
    return [parse_profile(spec, control_rate_hz) for spec in specs]


def _num(value: float) -> str:
    return f"{value:g}"
