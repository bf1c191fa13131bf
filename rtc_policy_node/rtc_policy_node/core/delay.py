"""Inference delay in control ticks, estimated from measured latencies.

The estimate errs high on purpose. If d is too small, the executor skips rows the guidance
left free (d_real > d) and the arm jumps at the switch; if d is too large, the guidance only
freezes a few more rows of the leftover, which the executor skips anyway. Hence the default
statistic is the windowed maximum (a high percentile is the option when rare outliers would
freeze too much), the first inferences (compilation, cache warm-up) are excluded, and a margin
in ticks is added. The best input is the executor's own d_real (`add_ticks`): it already counts
transport and the tick phase; `add` takes a latency in seconds when d_real is not known yet.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np


class DelayEstimator:
    """ceil(statistic of the last `window` latencies / control period) + margin_ticks.

    percentile: None for the windowed maximum, else in (0, 100] (numpy's "higher" method, so the
    statistic is always a measured sample). warmup: how many first samples to exclude; they are
    used only while nothing else has been measured, because an over-estimate is the safe error.
    """

    def __init__(
        self,
        control_period_s: float,
        window: int = 10,
        percentile: float | None = None,
        warmup: int = 1,
        margin_ticks: int = 0,
    ) -> None:
        if not (math.isfinite(control_period_s) and control_period_s > 0):
            raise ValueError(f"control_period_s must be positive, got {control_period_s!r}")
        if int(window) != window or window < 1:
            raise ValueError(f"window must be a positive integer, got {window!r}")
        if percentile is not None and not 0 < percentile <= 100:
            raise ValueError(f"percentile must be in (0, 100] or None for the maximum, got {percentile!r}")
        if int(warmup) != warmup or warmup < 0:
            raise ValueError(f"warmup must be a non-negative integer, got {warmup!r}")
        if int(margin_ticks) != margin_ticks or margin_ticks < 0:
            raise ValueError(f"margin_ticks must be a non-negative integer, got {margin_ticks!r}")
        self.control_period_s = float(control_period_s)
        self.percentile = percentile
        self.warmup = int(warmup)
        self.margin_ticks = int(margin_ticks)
        self._warmup_samples: list[float] = []
        self._samples: deque[float] = deque(maxlen=int(window))

    def add(self, latency_s: float) -> None:
        """Record one inference latency, seconds."""
        if not (math.isfinite(latency_s) and latency_s >= 0):
            raise ValueError(f"latency_s must be a finite non-negative number, got {latency_s!r}")
        if len(self._warmup_samples) < self.warmup:
            self._warmup_samples.append(float(latency_s))
        else:
            self._samples.append(float(latency_s))

    def add_ticks(self, ticks: int) -> None:
        """Record one measured delay in ticks (the executor's d_real)."""
        if int(ticks) != ticks or ticks < 0:
            raise ValueError(f"ticks must be a non-negative integer, got {ticks!r}")
        self.add(ticks * self.control_period_s)

    def estimate(self) -> int:
        """Delay in ticks; margin_ticks alone before any sample."""
        samples = self._samples or self._warmup_samples
        if not samples:
            return self.margin_ticks
        if self.percentile is None:
            latency = max(samples)
        else:
            latency = float(np.percentile(np.fromiter(samples, dtype=float), self.percentile, method="higher"))
        # The epsilon keeps an exact multiple of the period (e.g. from add_ticks) from rounding up.
        return math.ceil(latency / self.control_period_s - 1e-9) + self.margin_ticks
