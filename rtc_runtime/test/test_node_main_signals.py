"""`stop_on_signals`: SIGINT and SIGTERM set the event a loop polls, and run the caller's hook."""
from __future__ import annotations

import os
import signal

import pytest

from rtc_runtime.node_main import stop_on_signals


@pytest.fixture(autouse=True)
def restore_handlers():
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_sets_the_event_and_runs_the_hook(signum):
    hooked = []
    stop = stop_on_signals(then=lambda: hooked.append(True))
    assert not stop.is_set()
    os.kill(os.getpid(), signum)
    assert stop.is_set() and hooked == [True]


def test_a_hook_that_raises_ends_the_interrupted_code():
    def end() -> None:
        raise KeyboardInterrupt

    stop = stop_on_signals(then=end)
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGTERM)
    assert stop.is_set()
