"""Behaviour kept: a short rtc_sim_eval run (ours under four modes and LeRobot's pipeline, a fixed and a
jittering latency, mode choice on) gives the stored figures for its fixed seed.

The figures were written by the code before the ChunkSampler and the mode enums (same command), so
a refactoring of the sampling path that changes any chunk shows here. A deliberate change of the
built-in policy or of the loop changes them too: regenerate the file with
`rtc_sim_eval --modes sync,naive,identity,vjp,lerobot --delays 4 --latency jitter:6,2 --episodes 1
--max-ticks 60 --seed 3 --mode-candidates 4 --json rtc_sim_eval/test/data/figures_seed3.json`.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from rtc_sim_eval.cli import evaluate, parse_args

STORED = Path(__file__).resolve().parent / "data" / "figures_seed3.json"
ARGS = ["--modes", "sync,naive,identity,vjp,lerobot", "--delays", "4", "--latency", "jitter:6,2", "--episodes", "1",
        "--max-ticks", "60", "--seed", "3", "--mode-candidates", "4"]


def _approx(value):
    """Figures are rounded to 4 decimals; a float summed in another order on another CPU may differ in the last."""
    if isinstance(value, dict):
        return {key: _approx(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_approx(item) for item in value]
    if isinstance(value, float):
        return pytest.approx(value, rel=1e-3, abs=1e-3)
    return value


@pytest.mark.slow
def test_a_fixed_seed_gives_the_stored_figures(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    evaluate(parse_args([*ARGS, "--json", str(out)]))
    got, stored = json.loads(out.read_text()), json.loads(STORED.read_text())
    assert {key: got["settings"][key] for key in stored["settings"]} == stored["settings"]  # later keys: new settings
    kept = {mode: {profile: {key: got["results"][mode][profile][key] for key in figures}  # later keys: new metrics
                   for profile, figures in by_profile.items()} for mode, by_profile in stored["results"].items()}
    assert kept == _approx(stored["results"])
