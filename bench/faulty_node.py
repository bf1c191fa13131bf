"""A node with a bug injected into its control loop, for the fault campaign and the nodes' tests:
`SECONDS` after its first cycle the control loop raises once (a RuntimeError, as a bug in a cycle
would). The driver must end in a controlled stop and exit 1; the executor must stop commanding
(the driver's watchdog then parks the arm), report ERROR and exit 1; neither may keep running
without its control loop.

Usage (in the project's environment): python bench/faulty_node.py NODE SECONDS --ros-args -p ...
with NODE so100_driver or rtc_executor.
"""
from __future__ import annotations

import importlib
import sys
import time

CONTROL_LOOPS = {  # node: (its module, its class, the method its control loop calls every cycle)
    "so100_driver": ("so100_driver.driver_node", "DriverNode", "_cycle"),
    "rtc_executor": ("rtc_executor.executor_node", "ExecutorNode", "_tick"),
}


def inject_bug(node: str, after_s: float):
    """Patch `node`'s control loop to raise once `after_s` after its first cycle; its module (to run main)."""
    module_name, class_name, method = CONTROL_LOOPS[node]
    module = importlib.import_module(module_name)
    cls = getattr(module, class_name)
    cycle = getattr(cls, method)
    raise_at: list[float] = []

    def buggy_cycle(self, tick: int, missed: int) -> None:
        if not raise_at:
            raise_at.append(time.monotonic() + after_s)
        elif raise_at[0] and time.monotonic() >= raise_at[0]:
            raise_at[0] = 0.0
            raise RuntimeError(f"bug injected by bench/faulty_node.py into {node}")
        cycle(self, tick, missed)

    setattr(cls, method, buggy_cycle)
    return module


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in CONTROL_LOOPS:
        sys.exit(f"usage: faulty_node.py {{{','.join(CONTROL_LOOPS)}}} SECONDS --ros-args ...")
    inject_bug(sys.argv[1], float(sys.argv[2])).main(sys.argv[3:])
