"""Named wall-clock timings of components, with the names and semantics of LeRobot's profiling utility.

Code written against `lerobot.utils.profiling` ports by changing one import: `enable_profiling()`,
`disable_profiling()`, `is_profiling_enabled()`, `@profile_method`, `with profile_section(name)`,
`record_timing(name, seconds)`, `get_profiling_stats()`, `clear_profiling_stats()` and
`print_profiling_summary()` behave as there. Additions:

- `get_profiling_stats()` also gives p50 and p95 (seconds, and `*_ms` in milliseconds);
- `print_profiling_summary()` prints one table (component, count, mean, p50, p95, max, share of the
  whole) to stdout; `format_profiling_summary()` returns it as text;
- a section on a CUDA device synchronizes the device before reading the clock, at entry and at exit,
  so the time is the kernels' and not their launch's. Only while profiling is enabled: disabled,
  nothing waits for the GPU. The device is `profile_section(name, device=...)`'s, or the default
  given to `enable_profiling(device=...)`;
- `synchronized_clock(device)` is that clock read, for code that reports its own figures;
- `@profile_method(name="...")` records under a name of your choosing (the plain decorator records
  under `module.qualname`, as LeRobot);
- `record_span(name, start_ns, end_ns, chunk_id, step)` records a component that belongs to a chunk
  and an executor step: its duration, and the span to the sinks (`add_span_sink`: the LTTng tracer
  of rtc_runtime.tracing registers itself), so a timed component is one call.

Disabled, a decorated call costs one flag test and a section one shared no-op object; enabled, one
`perf_counter` pair and a lock. Threads may record concurrently. Memory per name is bounded, so a
node's memory stays flat over days: count, mean, min, max and total are exact over every sample;
percentiles come from a `LogHistogram` of every sample (within `PERCENTILE_RELATIVE_ERROR` of the
exact value); `get_profiling_samples()` keeps the most recent `RECENT_KEPT` raw samples. No rclpy,
torch or numpy import: the executor and the driver use this too.
"""
from __future__ import annotations

import functools
import math
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TextIO

RECENT_KEPT = 1000  # raw samples per name, for get_profiling_samples()
_BUCKET_RATIO = 1.01  # histogram buckets: [r^j, r^(j+1)) seconds
PERCENTILE_RELATIVE_ERROR = math.sqrt(_BUCKET_RATIO) - 1.0  # a bucket's geometric middle vs any value in it
_TINY_S = 1e-12  # |value| below this counts as 0

_enabled = False
_default_device: Any = None
_lock = threading.Lock()


class LogHistogram:
    """Counts of values in logarithmic buckets (ratio 1.01, mirrored for negative values, one bucket
    for zero): a streaming percentile estimate in bounded memory. Each value is represented by its
    bucket's geometric middle, within PERCENTILE_RELATIVE_ERROR (0.5 %) of it; a percentile
    interpolates between the represented order statistics as numpy's default does between the exact
    ones, so it is within 0.5 % of numpy's percentile of the same values. Memory: one counter per
    bucket in use; 1 ns .. 1 h spans about 2,900 buckets."""

    __slots__ = ("counts", "count")
    _LOG_RATIO = math.log(_BUCKET_RATIO)

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.count = 0

    @classmethod
    def _key(cls, value: float) -> int:
        if abs(value) < _TINY_S:
            return 0
        j = math.floor(math.log(abs(value) / _TINY_S) / cls._LOG_RATIO) + 1  # >= 1
        return j if value > 0 else -j

    @classmethod
    def _value(cls, key: int) -> float:
        if key == 0:
            return 0.0
        middle = _TINY_S * math.exp((abs(key) - 0.5) * cls._LOG_RATIO)
        return middle if key > 0 else -middle

    def add(self, value: float) -> None:
        key = self._key(value)
        self.counts[key] = self.counts.get(key, 0) + 1
        self.count += 1

    def percentiles(self, qs: list[float]) -> list[float]:
        """The q-th percentiles (0..100), NaN when empty."""
        if not self.count:
            return [math.nan] * len(qs)
        keys = sorted(self.counts)
        ends, total = [], 0  # rank (0-based) of the last value in each bucket
        for key in keys:
            total += self.counts[key]
            ends.append(total - 1)

        def at(rank: int) -> float:
            low, high = 0, len(ends) - 1
            while low < high:  # the first bucket whose last rank reaches `rank`
                middle = (low + high) // 2
                if ends[middle] >= rank:
                    high = middle
                else:
                    low = middle + 1
            return self._value(keys[low])

        result = []
        for q in qs:
            rank = (self.count - 1) * q / 100.0
            low = math.floor(rank)
            high = min(low + 1, self.count - 1)
            result.append(at(low) + (at(high) - at(low)) * (rank - low))
        return result


class _Series:
    __slots__ = ("count", "total", "min", "max", "histogram", "recent")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.histogram = LogHistogram()
        self.recent: deque = deque(maxlen=RECENT_KEPT)

    def add(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        if seconds < self.min:
            self.min = seconds
        if seconds > self.max:
            self.max = seconds
        self.histogram.add(seconds)
        self.recent.append(seconds)

    def figures(self) -> dict[str, float]:
        p50, p95 = (min(self.max, max(self.min, p)) for p in self.histogram.percentiles([50.0, 95.0]))
        return _figures(self.count, self.total, self.min, self.max, p50, p95)


_series: dict[str, _Series] = {}


def enable_profiling(device: Any = None) -> None:
    """Start recording. `device` (a torch device, a device string such as "cuda:0", or a tensor):
    the device sections synchronize on when they name none; None: no synchronization."""
    global _enabled, _default_device
    _default_device = device
    _enabled = True


def disable_profiling() -> None:
    """Stop recording; what was recorded stays until `clear_profiling_stats()`."""
    global _enabled
    _enabled = False


def is_profiling_enabled() -> bool:
    return _enabled


def record_timing(name: str, seconds: float) -> None:
    """Add one duration in seconds under `name` (nothing while profiling is disabled)."""
    if not _enabled:
        return
    with _lock:
        series = _series.get(name)
        if series is None:
            series = _series[name] = _Series()
        series.add(float(seconds))


SpanSink = Callable[[str, int, int, int, int], None]  # (name, start_ns, end_ns, chunk_id, step)
_span_sinks: list[SpanSink] = []


def add_span_sink(sink: SpanSink) -> None:
    """Hand every `record_span` to `sink` too (the tracer: rtc_runtime.tracing), enabled or not."""
    _span_sinks.append(sink)


def remove_span_sink(sink: SpanSink) -> None:
    if sink in _span_sinks:
        _span_sinks.remove(sink)


def record_span(name: str, start_ns: int, end_ns: int, chunk_id: int = 0, step: int = -1) -> None:
    """One timed component, one call: its duration is recorded under `name` (while profiling is
    enabled) and the span, on CLOCK_MONOTONIC (time.monotonic_ns()) with the chunk it belongs to
    (0: none) and the executor step it concerns (-1: none), goes to every span sink."""
    record_timing(name, (end_ns - start_ns) * 1e-9)
    for sink in _span_sinks:
        sink(name, start_ns, end_ns, chunk_id, step)


def clear_profiling_stats() -> None:
    with _lock:
        _series.clear()


def _is_cuda(device: Any) -> bool:
    device = getattr(device, "device", device)  # a tensor names its device
    kind = getattr(device, "type", device)
    return isinstance(kind, str) and kind.split(":")[0] == "cuda"


def _synchronize(device: Any) -> None:
    """Wait for the device's queued kernels (CUDA only; CPU work is done when the call returns)."""
    if _is_cuda(device):
        torch = sys.modules["torch"]  # only reached on a CUDA device, which torch made: no import here

        torch.cuda.synchronize(getattr(device, "device", device))


def synchronized_clock(device: Any = None) -> float:
    """`time.perf_counter()`, after waiting for `device`'s queued kernels if it is a CUDA device and
    profiling is enabled: for code that reads the clock itself and reports the figures elsewhere."""
    if _enabled:
        device = device if device is not None else _default_device
        if device is not None:
            _synchronize(device)
    return time.perf_counter()


class ProfileContext:
    """`with ProfileContext(name, device=None):` records the block's wall time under `name`, also
    when the block raises. Sections nest: each records its own time."""

    __slots__ = ("name", "device", "start")

    def __init__(self, name: str, device: Any = None) -> None:
        self.name = name
        self.device = device
        self.start: float | None = None

    def __enter__(self) -> ProfileContext:
        if _enabled:
            self.start = synchronized_clock(self.device)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.start is not None:
            record_timing(self.name, synchronized_clock(self.device) - self.start)
            self.start = None


class _Disabled:
    """The section handed out while profiling is disabled: enters and exits, records nothing."""

    __slots__ = ()

    def __enter__(self) -> _Disabled:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


_DISABLED = _Disabled()


def profile_section(name: str, device: Any = None) -> ProfileContext | _Disabled:
    """A context manager timing its block under `name` (see ProfileContext)."""
    return ProfileContext(name, device) if _enabled else _DISABLED


def profile_method(func: Callable | None = None, *, name: str | None = None) -> Callable:
    """Decorator timing every call under `name`, by default `module.qualname` (LeRobot's naming).
    Use as `@profile_method` or `@profile_method(name="rtc.guidance")`."""

    def decorate(fn: Callable) -> Callable:
        label = name or f"{fn.__module__}.{fn.__qualname__}"

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not _enabled:
                return fn(*args, **kwargs)
            started = synchronized_clock()
            try:
                return fn(*args, **kwargs)
            finally:
                record_timing(label, synchronized_clock() - started)

        return wrapper

    return decorate(func) if func is not None else decorate


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between order statistics (numpy's
    default method)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _figures(count: int, total: float, low: float, high: float, p50: float, p95: float) -> dict[str, float]:
    row = {"count": count, "mean": total / count, "p50": p50, "p95": p95, "min": low, "max": high, "total": total}
    for key in ("mean", "p50", "p95", "min", "max"):
        row[f"{key}_ms"] = row[key] * 1000.0
    return row


def stats_of(samples: list[float]) -> dict[str, float]:
    """The figures of `get_profiling_stats()` for one list of durations in seconds (not empty), with
    exact percentiles."""
    return _figures(len(samples), sum(samples), min(samples), max(samples), percentile(samples, 50),
                    percentile(samples, 95))


def get_profiling_stats() -> dict[str, dict[str, float]]:
    """Per name: count, mean, p50, p95, min, max, total in seconds, and mean/p50/p95/min/max in ms.
    Percentiles within PERCENTILE_RELATIVE_ERROR (and within min..max); the rest exact."""
    with _lock:
        return {name: s.figures() for name, s in _series.items()}


def get_profiling_samples() -> dict[str, list[float]]:
    """The durations kept per name (the most recent RECENT_KEPT), in seconds, oldest first: for
    tools that sort samples into groups of their own (take them, then `clear_profiling_stats()`)."""
    with _lock:
        return {name: list(s.recent) for name, s in _series.items()}


def format_profiling_summary(stats: dict[str, dict[str, float]] | None = None, sort_by: str = "total",
                             whole: str | None = None, title: str = "PROFILING SUMMARY") -> str:
    """The summary table as text. Share = a component's total time over the whole's: the component
    named `whole`, by default the one with the largest total (the enclosing section when sections
    nest). Shares of nested components therefore need not add up to 100 %."""
    stats = get_profiling_stats() if stats is None else stats
    if not stats:
        return f"{title}: no timings recorded"
    whole_total = stats[whole]["total"] if whole in stats else max(s["total"] for s in stats.values())
    width = max(30, *(len(name) for name in stats))
    header = f"{'component':<{width}} {'count':>8} {'mean ms':>10} {'p50 ms':>10} {'p95 ms':>10} " \
             f"{'max ms':>10} {'share':>7}"
    lines = [title, header, "-" * len(header)]
    for name, s in sorted(stats.items(), key=lambda item: item[1].get(sort_by, 0), reverse=True):
        share = 100.0 * s["total"] / whole_total if whole_total > 0 else math.nan
        lines.append(f"{name:<{width}} {s['count']:>8d} {s['mean'] * 1e3:>10.2f} {s['p50'] * 1e3:>10.2f} "
                     f"{s['p95'] * 1e3:>10.2f} {s['max'] * 1e3:>10.2f} {share:>6.1f}%")
    return "\n".join(lines)


def print_profiling_summary(sort_by: str = "total", whole: str | None = None, file: TextIO | None = None,
                            title: str = "PROFILING SUMMARY") -> None:
    """Print `format_profiling_summary()` (stdout by default)."""
    print(format_profiling_summary(sort_by=sort_by, whole=whole, title=title), file=file or sys.stdout, flush=True)
