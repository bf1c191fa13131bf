"""Our guidance inside LeRobot 0.4.4's real pi0, pi0.5 and SmolVLA, built offline (vla_checks.py).

Each policy runs in its own interpreter: pi0/pi0.5 with LeRobot's patched transformers first on
PYTHONPATH (built by tools/setup.sh from ../shared/vendor; skipped with the reason where that
folder is absent), SmolVLA with the venv's stock transformers.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import vla_fixtures as fixtures

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
KINDS = ("smolvla", "pi0", "pi05")


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    """Run each kind once per test session; the tests below judge its figures."""
    cache: dict[str, dict] = {}

    def run(kind: str) -> dict:
        if kind not in cache:
            work = tmp_path_factory.mktemp(kind)
            out = work / "figures.json"
            try:
                env = fixtures.policy_process_env(kind, work / "hf_home")
            except fixtures.VendorAbsent as absent:
                pytest.skip(str(absent))
            done = subprocess.run([sys.executable, str(HERE / "vla_checks.py"), kind, str(work), str(out)],
                                  cwd=HERE, env=env, capture_output=True, text=True, timeout=900)
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
            cache[kind] = json.loads(out.read_text())
            print(f"{kind}: {json.dumps(cache[kind])}")
        return cache[kind]

    return run


@pytest.mark.parametrize("kind", KINDS)
def test_identity_matches_lerobot_processor_inside_the_real_model(figures, kind):
    result = figures(kind)
    # A leftover in the policy's 6 action dims, zero-padded to the model's 32 by both processors.
    assert result["leftover_shape"] == [40, fixtures.ACTION_DIM] and result["model_action_dims"] == 32
    assert result["identity_vs_lerobot_max_abs"] <= 1e-5


@pytest.mark.parametrize("kind", KINDS)
def test_every_mode_runs_through_the_real_model_and_follows_the_leftover(figures, kind):
    result = figures(kind)
    gaps = result["gap_first_d_rows"]
    assert gaps["prefix"] <= 1e-5  # training-time RTC lands exactly on the leftover
    assert gaps["identity"] < 0.1 * gaps["off"]
    assert gaps["vjp"] < 0.1 * gaps["off"]
    for mode in ("identity", "vjp", "prefix"):
        assert result[f"{mode}_changes_chunk_max_abs"] > 1e-3, mode


@pytest.mark.parametrize("kind", KINDS)
def test_debug_tracking_through_the_models_sampling_loop_matches_lerobot(figures, kind):
    result = figures(kind)
    assert result["debug_steps"] == 10  # one per denoising step, x_t/v_t added by the model itself
    assert result["debug_fields_max_abs"] <= 1e-4


@pytest.mark.parametrize("kind", KINDS)
def test_node_loading_path_loads_the_saved_directory(figures, kind):
    loaded = figures(kind)["loaded"]
    assert loaded["type"] == kind
    cameras = ["front", "wrist"] if kind == "smolvla" else ["front"]
    assert loaded["image_keys"] == [f"observation.images.{c}" for c in cameras]
