"""bench/control_thread_waits.py's reading of perf's events: the loop's timed sleep and a timed-out
wait against a lock wait inside a tick, and which process released it."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "control_thread_waits.py"
_spec = importlib.util.spec_from_file_location("control_thread_waits", SCRIPT)
waits_script = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)  # dataclasses look it up there
_PATH_BEFORE = list(sys.path)
_spec.loader.exec_module(waits_script)
_PATH_AFTER = list(sys.path)

# perf script -F comm,pid,tid,time,event,trace (priorities left out); control thread 4703 of process 4574
LINES = """\
rtc_executor 4574/4703 100.000000: syscalls:sys_enter_clock_nanosleep: which_clock: 0x00000001, flags: 0x00000001
rtc_executor 4574/4703 100.000010: sched:sched_switch: prev_pid=4703 prev_state=S ==> next_comm=python next_pid=900
python 900/900 100.016600: sched:sched_wakeup: comm=rtc_executor pid=4703 prio=49
python 900/900 100.016610: sched:sched_switch: prev_pid=900 prev_state=R ==> next_comm=rtc_executor next_pid=4703
rtc_executor 4574/4703 100.016620: syscalls:sys_exit_clock_nanosleep: 0x0
rtc_executor 4574/4703 100.016900: syscalls:sys_enter_futex: uaddr: 0x7f00, op: 0x00000080, val: 0x00000002
rtc_executor 4574/4703 100.017000: sched:sched_switch: prev_pid=4703 prev_state=S ==> next_comm=dds.shm.9421 next_pid=1163
dds.shm.9421 1057/1163 100.021000: sched:sched_wakeup: comm=rtc_executor pid=4703 prio=49
dds.shm.9421 1057/1163 100.021010: sched:sched_switch: prev_pid=1163 prev_state=S ==> next_comm=rtc_executor next_pid=4703
rtc_executor 4574/4703 100.021020: syscalls:sys_exit_futex: 0x0
rtc_executor 4574/4703 100.021400: syscalls:sys_enter_futex: uaddr: 0x7f08, op: 0x00000189, val: 0x00000000
rtc_executor 4574/4703 100.021500: sched:sched_switch: prev_pid=4703 prev_state=S ==> next_comm=swapper/0 next_pid=0
rtc_executor 4574/4574 100.021600: sched:sched_wakeup: comm=rtc_executor pid=4703 prio=49
rtc_executor 4574/4574 100.021610: sched:sched_switch: prev_pid=4574 prev_state=S ==> next_comm=rtc_executor next_pid=4703
rtc_executor 4574/4703 100.021620: syscalls:sys_exit_futex: 0x0
rtc_executor 4574/4703 100.022000: syscalls:sys_enter_futex: uaddr: 0x7f08, op: 0x00000189, val: 0x00000000
rtc_executor 4574/4703 100.022010: sched:sched_switch: prev_pid=4703 prev_state=S ==> next_comm=python next_pid=900
python 900/900 100.022510: sched:sched_wakeup: comm=rtc_executor pid=4703 prio=49
python 900/900 100.022520: sched:sched_switch: prev_pid=900 prev_state=R ==> next_comm=rtc_executor next_pid=4703
rtc_executor 4574/4703 100.022530: syscalls:sys_exit_futex: 0xffffffffffffff92
""".splitlines()


def test_the_loops_sleep_and_timeouts_are_told_from_lock_waits_and_their_releasers():
    waits = waits_script.sleeps(LINES, 4703)
    assert [(round(w.seconds, 6), w.waker, w.waker_pid, w.call, w.timed_out, w.released) for w in waits] == [
        (0.0166, "python", 900, "clock_nanosleep", False, False),  # the sleep to the next deadline
        (0.00401, "dds.shm.9421", 1057, "futex", False, True),  # a lock another process released
        (0.00011, "rtc_executor", 4574, "futex", False, True),  # the GIL from the main thread
        (0.00051, "python", 900, "futex", True, False),  # the GIL wait's own timeout, in a python's time slice
    ]
    text = waits_script.summary([w for w in waits if w.released], 4574)
    assert text == ("lock waits 2, total 4.1 ms, longest 4.01 ms\n"
                    "  released by another process: 1, total 4.0 ms, longest 4.01 ms (by dds.shm.N x1)")


def test_importing_the_script_leaves_sys_path_alone():
    assert _PATH_AFTER == _PATH_BEFORE  # only its main() puts the test helpers (and the checkout) on it
