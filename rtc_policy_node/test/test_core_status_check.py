"""status_check: every ExecutorStatus field the scheduler decides with is refused when a status no
executor sends carries it (NaN, infinite, negative, absurdly large), and a real status passes."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from rtc_policy_node.core.status_check import MAX_QUEUE_TICKS, MAX_STEP, status_problem


def status(**fields) -> SimpleNamespace:
    base = dict(step=120, control_rate_hz=30.0, active_chunk_id=3, index_in_chunk=10, remaining=40,
                merged_count=3, rejected_count=0, last_d_real=4, on_hold=False, epoch=0)
    return SimpleNamespace(**{**base, **fields})


def test_a_real_status_passes():
    assert status_problem(status()) is None
    assert status_problem(status(step=0, active_chunk_id=0, remaining=0, index_in_chunk=0, last_d_real=-1)) is None


@pytest.mark.parametrize("fields, named", [
    (dict(control_rate_hz=float("nan")), "control_rate_hz nan"),
    (dict(control_rate_hz=float("inf")), "control_rate_hz inf"),
    (dict(control_rate_hz=-float("inf")), "control_rate_hz -inf"),
    (dict(control_rate_hz=0.0), "control_rate_hz 0.0"),
    (dict(control_rate_hz=-30.0), "control_rate_hz -30.0"),
    (dict(control_rate_hz=1e9), "control_rate_hz"),
    (dict(control_rate_hz="30"), "control_rate_hz"),
    (dict(step=-1), "step -1"),
    (dict(step=MAX_STEP + 1), "step"),
    (dict(step=2**64 - 1), "step"),
    (dict(step=float("nan")), "step nan"),
    (dict(remaining=2**32 - 1), "remaining"),
    (dict(remaining=-5), "remaining -5"),
    (dict(index_in_chunk=MAX_QUEUE_TICKS + 1), "index_in_chunk"),
    (dict(last_d_real=-2), "last_d_real -2"),
    (dict(last_d_real=2**31 - 1), "last_d_real"),
    (dict(merged_count=-1), "merged_count -1"),
    (dict(rejected_count=2.5), "rejected_count 2.5"),
    (dict(active_chunk_id=True), "active_chunk_id True"),
    (dict(epoch=-1), "epoch -1"),
    (dict(epoch=2**32), "epoch"),
    (dict(on_hold=1), "on_hold 1"),
])
def test_a_spoofed_field_is_named(fields, named):
    problem = status_problem(status(**fields))
    assert problem is not None and problem.startswith(named), problem
