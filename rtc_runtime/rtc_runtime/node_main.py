"""One `main()` for every node: signals, spinning, clean shutdown and exit codes.

    def main(args=None):
        run_node("rtc_executor", ExecutorNode, args=args, executor=EventsExecutor)

Before `start()` it freezes the objects start-up built and times every later garbage collection
(rtc_runtime.gc_pauses; the nodes report the longest pause on /diagnostics).

Exit codes: 0 after SIGINT/SIGTERM or a normal end; 2 with one line on stderr for a bad parameter
(`ParameterError`, raised before any heavy import or hardware access); 1 with one line for an
expected start-up failure (`StartupError`: a missing port, an unreadable checkpoint) or a fatal
runtime error the node reports through `fatal_error`; 1 with a traceback only for a bug.

rclpy's own signal handler is not installed: it would shut the context down while the node's
threads still publish (an RCLError at exit). Here a signal only sets an event; the loop then stops
the node's threads (`stop()`), destroys the node, shuts the executor down and then rclpy, in that
order. A signal while the node is still being built (importing torch, loading a checkpoint) also
interrupts the build at once; when that interrupt lands in a finaliser, which cannot pass it on,
the build runs to its end and the node stops right after: either way exit code 0 and no traceback.
"""
from __future__ import annotations

import signal
import sys
import threading
import traceback
from typing import Protocol
from collections.abc import Callable

from rtc_runtime.gc_pauses import GC_PAUSES, freeze_startup_objects
from rtc_runtime.parameters import ParameterError

__all__ = ["ManagedNode", "StartupError", "run_node", "stop_on_signals"]

SPIN_TIMEOUT_S = 0.1


class StartupError(RuntimeError):
    """An expected reason a node cannot start (hardware, files); its text is the whole message."""


class ManagedNode(Protocol):
    """What `run_node` needs from a node beyond rclpy's Node."""

    fatal_error: str  # non-empty once the node cannot go on; the process then exits 1

    def start(self) -> None:
        """Start the node's own threads (called once the executor holds the node)."""

    def stop(self) -> None:
        """Stop the node's own threads and release hardware; must not raise."""


def stop_on_signals(then: Callable[[], None] | None = None) -> threading.Event:
    """An event set by SIGINT or SIGTERM (then `then()` runs in the handler): a loop polls it and stops in order."""
    stop = threading.Event()

    def on_signal(*_) -> None:
        stop.set()
        if then is not None:
            then()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    return stop


def _quiet_build_interrupt(stop: threading.Event, report: Callable) -> Callable:
    """An unraisable hook for while a node is built: the KeyboardInterrupt a signal raised there may land
    in a finaliser (`__del__`, a weakref callback), where Python only reports it and goes on; that
    report is dropped (the build then ends normally, and the stop the signal set ends the node),
    anything else is reported as usual."""
    def hook(unraisable) -> None:
        if not (stop.is_set() and isinstance(unraisable.exc_value, KeyboardInterrupt)):
            report(unraisable)
    return hook


def run_node(name: str, make_node: Callable[[], ManagedNode], args: list[str] | None = None,
             executor: Callable[[], object] | None = None, switch_interval_s: float | None = None) -> None:
    """Build the node, spin it until a signal or a fatal error, shut down in order, exit."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions

    if switch_interval_s is not None:
        sys.setswitchinterval(switch_interval_s)
    building = [True]  # a signal while the node is being built (imports, loading) ends it at once

    def end_a_build() -> None:
        if building[0]:
            raise KeyboardInterrupt

    stop = stop_on_signals(then=end_a_build)
    report_unraisable = sys.unraisablehook
    sys.unraisablehook = _quiet_build_interrupt(stop, report_unraisable)
    node = spinner = None
    exit_code = 0
    try:
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
        node = make_node()
        building[0] = False
        sys.unraisablehook = report_unraisable
        spinner = (executor or SingleThreadedExecutor)()
        spinner.add_node(node)
        freeze_startup_objects()  # later collections skip start-up's objects: shorter pauses of every thread
        GC_PAUSES.install()
        node.start()
        while not stop.is_set() and not node.fatal_error:
            spinner.spin_once(timeout_sec=SPIN_TIMEOUT_S)
        if node.fatal_error:
            print(f"{name}: {node.fatal_error}", file=sys.stderr)
            exit_code = 1
    except ParameterError as err:
        print(f"{name}: {err}", file=sys.stderr)
        exit_code = 2
    except StartupError as err:
        print(f"{name}: {err}", file=sys.stderr)
        exit_code = 1
    except KeyboardInterrupt:  # a signal while starting rclpy or building the node: nothing to report
        pass
    except Exception:  # a bug: the traceback is the useful part
        traceback.print_exc()
        exit_code = 1
    finally:
        building[0] = False
        sys.unraisablehook = report_unraisable
        try:
            if node is not None:
                try:
                    node.stop()
                finally:
                    node.destroy_node()
        finally:
            if spinner is not None:  # before rclpy: left to the garbage collector after it, it raises
                spinner.shutdown()
            rclpy.try_shutdown()
    sys.exit(exit_code)
