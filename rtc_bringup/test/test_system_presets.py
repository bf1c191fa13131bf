"""`inference:=sync`, the synchronous baseline, on the simulated graph started by the runner and
judged from its bag: the policy samples unguided only once the executor's queue is empty, the
executor plays each whole chunk from its first row (replace), the arm holds in between (under 200 ms of
added latency, as a large model's, so that each inference outlasts a control tick)."""
from __future__ import annotations

import pytest
from test_system_bags import record_after_load

from rtc_tools.report import read_bag, summarize

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_inference_sync_runs_the_stop_infer_run_loop(tmp_path):
    rec = read_bag(record_after_load(tmp_path, "sync", 12.0, "inference:=sync", "extra_latency_ms:=200"))
    summary = summarize(rec)
    assert summary.merged >= 3 and summary.rejected == 0
    assert rec.guidance_modes == {"off"} and set(rec.prev_chunk_ids.values()) == {0}
    assert rec.last_status.mode == "replace"
    assert summary.underruns > 0  # the arm held while the policy inferred: nothing was left to play
