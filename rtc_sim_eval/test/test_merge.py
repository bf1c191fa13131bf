"""Merging a sweep run in parts: the parts give the file the whole sweep writes, parts that do not
belong to one sweep are refused, and the merged file draws the protocol's figure."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from rtc_sim_eval.cli import evaluate, parse_args
from rtc_sim_eval.merge import main, merge_reports
from rtc_sim_eval.protocol import by_horizon

SWEEP = ["--delays", "0,4", "--horizons", "30,50", "--episodes", "1", "--max-ticks", "40", "--carry-estimate"]


def _run(tmp_path: Path, name: str, modes: str, *extra: str) -> dict:
    evaluate(parse_args(["--modes", modes, *SWEEP, *extra, "--json", str(tmp_path / name)]))
    return json.loads((tmp_path / name).read_text())


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, list[dict]]:
    """One sweep of two modes, and the same sweep run as three parts (by mode, then by delay)."""
    tmp_path = tmp_path_factory.mktemp("sweep")
    whole = _run(tmp_path, "whole.json", "sync,identity")
    parts = [_run(tmp_path, "sync.json", "sync"),
             _run(tmp_path, "identity_d4.json", "identity", "--delays", "4"),
             _run(tmp_path, "identity_d0.json", "identity", "--delays", "0")]
    return whole, parts


def test_parts_of_a_sweep_merge_into_the_whole_sweeps_file(sweep: tuple[dict, list[dict]]) -> None:
    whole, parts = sweep
    merged = merge_reports(parts)
    assert merged == whole  # settings (delays back in order) and every cell
    assert merge_reports([*parts, parts[1]]) == whole  # a cell run twice with the same figures


def test_parts_that_are_not_one_sweep_are_refused(sweep: tuple[dict, list[dict]]) -> None:
    _, parts = sweep
    other_seed = copy.deepcopy(parts[1])
    other_seed["settings"]["seed"] = 1
    with pytest.raises(ValueError, match="'seed'"):
        merge_reports([parts[0], other_seed])
    changed = copy.deepcopy(parts[1])
    changed["results"]["identity"]["30"]["fixed:4"]["success_rate"] += 0.5
    with pytest.raises(ValueError, match=r"\['identity'\]\['30'\]\['fixed:4'\]"):
        merge_reports([parts[1], changed])
    other_trigger = copy.deepcopy(parts[1])
    other_trigger["settings"]["trigger_remaining_by_horizon"]["30"] = 3
    with pytest.raises(ValueError, match="H = 30"):
        merge_reports([parts[0], other_trigger])
    with pytest.raises(ValueError, match="nothing"):
        merge_reports([])


def test_the_merged_file_is_written_and_drawn(sweep: tuple[dict, list[dict]], tmp_path: Path) -> None:
    whole, parts = sweep
    paths = []
    for index, part in enumerate(parts):
        paths.append(tmp_path / f"part{index}.json")
        paths[-1].write_text(json.dumps(part))
    out, plot = tmp_path / "merged.json", tmp_path / "protocol.png"
    assert main([str(out), *map(str, paths), "--plot", str(plot)]) == 0
    assert json.loads(out.read_text()) == whole and plot.stat().st_size > 0
    assert set(by_horizon(whole)) == {"30", "50"} and set(by_horizon(whole)["30"]) == {"sync", "identity"}
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert main([str(tmp_path / "x.json"), str(broken)]) == 2 and not (tmp_path / "x.json").exists()
