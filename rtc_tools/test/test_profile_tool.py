"""rtc_profile on the built-in policy: table, verdicts, JSON, PNG; guidance timing; a bad policy path."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from rtc_tools import profile_tool
from rtc_policy_node.core.guidance import RTCGuidance
from rtc_tools.profile_tool import BREAKDOWN, ModeResult, TimedGuidance, verdict
from rtc_runtime import profiling


@pytest.fixture(autouse=True)
def profiler_left_clean():
    yield
    profiling.disable_profiling()
    profiling.clear_profiling_stats()


@pytest.mark.slow
def test_every_mode_and_lerobot_with_three_iterations(tmp_path, capsys):
    out_json, out_png = tmp_path / "profile.json", tmp_path / "profile.png"
    code = profile_tool.main(["--num_iterations", "3", "--warmup_iterations", "1", "--compare-lerobot",
                              "--enable_detailed_profiling", "--threads", "1",
                              "--json", str(out_json), "--png", str(out_png)])
    assert code == 0
    out = capsys.readouterr().out
    modes = ["off", "identity", "vjp", "prefix", "lerobot"]
    header = next(line for line in out.splitlines() if line.split() == modes)
    table = out.splitlines()[out.splitlines().index(header):]
    labels = [line[:34].strip() for line in table[1:15]]
    assert labels[:6] == ["mean (ms)", "min (ms)", "max (ms)", "p95 (ms)", "std (ms)", "iterations/s"]
    assert [f"{name} (ms)" for name in BREAKDOWN] == labels[6:10]
    assert labels[10:13] == ["warm-up iterations", "warm-up mean (ms)", "first iteration (ms)"]
    verdicts = [line for line in out.splitlines() if line.split(":")[0] in modes]
    assert [v.split(":")[0] for v in verdicts] == modes
    assert verdicts[0].startswith("off: baseline")
    assert "identity vs LeRobot's RTCProcessor" in out
    for mode in modes:  # one detailed summary per mode, with the guide's components and ours
        assert f"DETAILED PROFILE: {mode}" in out
    assert "policy.embed_prefix" in out and "rtc.denoise_step.base_denoising" in out

    data = json.loads(out_json.read_text())
    assert list(data["modes"]) == modes and data["verdicts"][:5] == verdicts
    for mode, figures in data["modes"].items():
        assert len(figures["times_ms"]) == 3 and len(figures["warmup_ms"]) == 1
        assert figures["mean_ms"] == pytest.approx(sum(figures["times_ms"]) / 3)
        parts = sum(figures[f"{name}_ms"] for name in BREAKDOWN if name != "rtc.guidance")
        assert parts <= figures["mean_ms"]  # the parts sit inside the whole
        # 10 denoising steps per chunk: the guided modes run each through the guidance
        steps = figures["detailed"].get("rtc.denoise_step", {}).get("count", 0)
        assert steps == (0 if mode == "off" else 30)
    assert data["modes"]["off"]["rtc.guidance_ms"] == 0.0
    assert data["modes"]["vjp"]["rtc.guidance_ms"] > data["modes"]["identity"]["rtc.guidance_ms"]
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_bad_policy_path_is_one_line_and_exit_2(tmp_path):
    missing = tmp_path / "no_such_checkpoint"
    proc = subprocess.run([sys.executable, "-m", "rtc_tools.profile_tool", "--policy_path", str(missing),
                           "--num_iterations", "1"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("rtc_profile: cannot load policy") and str(missing) in lines[0]


def test_an_unknown_mode_is_refused_before_loading(capsys):
    with pytest.raises(SystemExit) as exit_info:
        profile_tool.main(["--modes", "off,fast"])
    assert exit_info.value.code == 2
    assert "unknown mode(s) fast" in capsys.readouterr().err


def _result(mode: str, times: list[float], guidance: float = 0.0, inference_extra: float = 0.0) -> ModeResult:
    result = ModeResult(mode, times_ms=times, warmup_ms=[50.0])
    for t in times:
        result.breakdown_ms["get_actions.preprocessing"].append(1.0)
        result.breakdown_ms["get_actions.policy_inference"].append(t - 2.0)
        result.breakdown_ms["rtc.guidance"].append(guidance)
        result.breakdown_ms["get_actions.postprocessing"].append(1.0)
    return result


def test_verdicts_in_plain_words():
    base = _result("off", [20.0, 21.0, 19.0, 20.0])
    assert verdict(base, base) == "off: baseline, 20.0 ms per chunk"
    similar = _result("identity", [20.3, 21.4, 19.3, 20.4], guidance=0.3)
    assert verdict(similar, base).startswith("identity: +1.8 % over off, within noise")
    slow = _result("vjp", [39.0, 41.0, 38.0, 39.2], guidance=18.0)
    assert verdict(slow, base) == ("vjp: +96.5 % over off, guidance dominates (18.0 of 19.3 ms): "
                                   "try identity or --use_torch_compile")
    model = _result("prefix", [30.0, 31.0, 29.0, 30.0], guidance=0.5)
    assert "the denoiser's own calls take longer" in verdict(model, base)
    fast = _result("prefix", [15.0, 16.0, 14.0, 15.0])
    assert verdict(fast, base) == "prefix: -25.0 % vs off, faster"


@pytest.mark.parametrize("mode", ["identity", "vjp", "prefix"])
def test_timed_guidance_changes_nothing_and_splits_the_denoiser_from_guidance(mode):
    config = type("Cfg", (), {"execution_horizon": 8, "max_guidance_weight": 5.0,
                              "prefix_attention_schedule": "LINEAR"})()
    weights = torch.randn(6, 6)

    def denoiser(x):
        return torch.tanh(x @ weights)

    x_t, leftover = torch.randn(1, 16, 6), torch.randn(1, 10, 6)
    plain = RTCGuidance(config, mode=mode)
    timed = TimedGuidance(RTCGuidance(config, mode=mode))
    profiling.enable_profiling()
    with torch.no_grad():
        expected = plain.denoise_step(x_t, leftover, 3, 0.6, denoiser)
        got = timed.denoise_step(x_t, leftover, 3, 0.6, denoiser)
    assert torch.equal(expected, got)
    assert timed.mode == mode and timed.rtc_config is config  # the rest of the interface is the inner one's
    stats = profiling.get_profiling_stats()
    whole, model, rest = (stats[n]["total"] for n in ("rtc.denoise_step", "rtc.denoise_step.base_denoising",
                                                      "rtc.guidance"))
    assert whole == pytest.approx(model + rest) and timed.seconds == pytest.approx(rest)
