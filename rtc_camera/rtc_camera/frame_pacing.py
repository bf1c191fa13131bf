"""When a frame is due, how many were dropped, and what a camera reports: the capture loop's arithmetic.

`FramePacer` keeps a fixed grid of due times at the camera's fps. A video file is read as fast as
the disk allows, so the loop sleeps until the next due time (`wait_s`); a camera device paces itself
(its read blocks until the next exposure) and is never made to wait. Either way a frame that comes
one or more whole periods after its due time leaves those slots empty: dropped frames.
`CaptureStats` turns captures and publishes into what /diagnostics shows per period: measured fps,
dropped frames, capture-to-publish latency percentiles. No rclpy or OpenCV here.
"""
from __future__ import annotations

import math
import threading

import numpy as np

__all__ = ["FramePacer", "CaptureStats"]


class FramePacer:
    def __init__(self, fps: float, start: float) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.period = 1.0 / fps
        self.next_due = start

    def wait_s(self, now: float) -> float:
        """Seconds until the next frame is due (0 when it is due or late)."""
        return max(0.0, self.next_due - now)

    def captured(self, at: float) -> int:
        """A frame was captured at `at`: the number of frames dropped before it (empty grid slots)."""
        late = at - self.next_due
        if late < -self.period:  # a source faster than its fps: follow it rather than run ahead of it
            self.next_due = at + self.period
            return 0
        dropped = max(0, math.floor(late / self.period + 1e-9))
        self.next_due += (dropped + 1) * self.period
        return dropped


class CaptureStats:
    """Thread-safe: the capture thread records, the diagnostics timer reports."""

    def __init__(self, now: float) -> None:
        self._lock = threading.Lock()
        self._since = now
        self._latencies: list[float] = []
        self._dropped_in_period = 0
        self.frames = 0
        self.dropped = 0
        self.reopened = 0  # a file played to its end and opened again, or a device reconnected

    def published(self, captured_at: float, published_at: float, dropped_before: int) -> None:
        with self._lock:
            self.frames += 1
            self.dropped += dropped_before
            self._dropped_in_period += dropped_before
            self._latencies.append(published_at - captured_at)

    def reopened_source(self) -> None:
        with self._lock:
            self.reopened += 1

    def period(self, now: float) -> dict[str, float | int]:
        """Figures since the last call: measured_fps, dropped_frames_in_period and the capture-to-publish
        latency (p50, p99, max, in ms; NaN without frames), plus the running totals."""
        with self._lock:
            latencies, self._latencies = np.asarray(self._latencies) * 1e3, []
            dropped, self._dropped_in_period = self._dropped_in_period, 0
            elapsed, self._since = now - self._since, now
            totals = {"frames_published": self.frames, "dropped_frames": self.dropped, "reopened": self.reopened}
        p50, p99, worst = (np.percentile(latencies, [50, 99]).tolist() + [float(latencies.max())]) \
            if latencies.size else [float("nan")] * 3
        return {"measured_fps": latencies.size / elapsed if elapsed > 0 else 0.0,
                "dropped_frames_in_period": dropped, "capture_to_publish_p50_ms": p50,
                "capture_to_publish_p99_ms": p99, "capture_to_publish_max_ms": worst, **totals}
