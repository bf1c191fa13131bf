"""driver_node with a bug injected, for the fault campaign and the driver's tests: `SECONDS` after its
first cycle the control loop raises once (a RuntimeError, as a bug in a cycle would). The driver must
end in a controlled stop and exit 1, never keep running without a control loop.

Usage (in the project's environment): python bench/faulty_driver.py SECONDS --ros-args -p ...
"""
from __future__ import annotations

import sys
import time

from so100_driver import driver_node


def inject_bug(after_s: float) -> None:
    cycle = driver_node.DriverNode._cycle
    raise_at: list[float] = []

    def buggy_cycle(self, tick: int, missed: int) -> None:
        if not raise_at:
            raise_at.append(time.monotonic() + after_s)
        elif raise_at[0] and time.monotonic() >= raise_at[0]:
            raise_at[0] = 0.0
            raise RuntimeError("bug injected by bench/faulty_driver.py")
        cycle(self, tick, missed)

    driver_node.DriverNode._cycle = buggy_cycle


if __name__ == "__main__":
    inject_bug(float(sys.argv[1]))
    driver_node.main(sys.argv[2:])
