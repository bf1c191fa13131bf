"""Python's cyclic garbage collector in a process with a control loop: freeze start-up, time every pause.

A collection runs in whichever thread allocated last and holds the GIL throughout, so every other
thread of the process (a SCHED_FIFO control thread included) waits for it; a full collection over a
large heap can make a tick late. `freeze_startup_objects` moves everything start-up built (imports,
the node, a loaded model) into the permanent generation, so later collections scan only what was
allocated since. `GC_PAUSES` times each collection through `gc.callbacks`; the nodes report the
longest on /diagnostics (`gc_pause_max_ms`), so a late tick can be told from a collection.
`rtc_runtime.node_main.run_node` does both for every node once it is built. No rclpy import.
"""
from __future__ import annotations

import gc
import time
from dataclasses import dataclass


def freeze_startup_objects() -> int:
    """Collect what start-up left unreachable, then exempt every object alive now from later collections;
    returns how many objects are frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


@dataclass(frozen=True)
class GcPauseStats:
    collections: int
    longest_ms: float
    longest_generation: int  # -1 before the first collection

    def diagnostic_values(self) -> dict[str, str]:
        """The keys a control-loop node reports on /diagnostics (docs/diagnostics.md)."""
        return {"gc_pauses": str(self), "gc_pause_max_ms": f"{self.longest_ms:.2f}"}

    def __str__(self) -> str:
        if not self.collections:
            return "no collection yet"
        return (f"{self.collections} collections, longest {self.longest_ms:.2f} ms "
                f"(generation {self.longest_generation})")


class GcPauses:
    """Times every collection of this process while installed (callbacks run with the GIL held)."""

    def __init__(self, clock=time.perf_counter) -> None:
        self._clock = clock
        self._started = 0.0
        self._collections = 0
        self._longest = 0.0
        self._longest_generation = -1

    def install(self) -> None:
        if self._on_gc not in gc.callbacks:
            gc.callbacks.append(self._on_gc)

    def remove(self) -> None:
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = self._clock()
            return
        pause = self._clock() - self._started
        self._collections += 1
        if pause > self._longest:
            self._longest, self._longest_generation = pause, info["generation"]

    def stats(self) -> GcPauseStats:
        return GcPauseStats(self._collections, self._longest * 1e3, self._longest_generation)


GC_PAUSES = GcPauses()  # the process's: installed by run_node, read by the nodes' diagnostics
