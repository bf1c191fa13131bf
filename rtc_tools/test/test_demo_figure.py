"""The demo's comparison figure (rtc_tools.demo_figure) on bags written as rosbag2 writes them: the
figures it prints are the report's, the task's counts come from sim_camera's diagnostics, and a bag
without chunks is one clear line. (A real recorded run: test_system_bags.py.)"""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from test_bags import one_line_error, write_run

from rtc_tools.demo_figure import load_run, main
from rtc_tools.report import read_bag, summarize

TASK = {"seed": "0", "targets_shown": "4", "targets_reached": "3", "obstacle_contacts": "1"}


def test_the_figure_shows_each_run_with_the_reports_figures(tmp_path, capsys):
    write_run(tmp_path / "rtc", task=TASK)
    write_run(tmp_path / "naive")
    out = tmp_path / "figure" / "comparison.png"
    assert main([str(out), f"RTC={tmp_path / 'rtc'}", f"naive={tmp_path / 'naive'}", "--json",
                 str(tmp_path / "figures.json")]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size < 200_000
    rtc, naive = json.loads((tmp_path / "figures.json").read_text())
    summary = summarize(read_bag(tmp_path / "rtc"))
    assert rtc["name"] == "RTC" and naive["name"] == "naive"
    assert rtc["seam_ratio"] == pytest.approx(summary.seam_ratio) and np.isfinite(rtc["seam_ratio"])
    assert rtc["measured_seam_jerk_ratio"] == pytest.approx(summary.measured_seam_jerk_ratio, nan_ok=True)
    assert (rtc["targets_shown"], rtc["targets_reached"], rtc["obstacle_contacts"]) == (4, 3, 1)
    assert naive["targets_shown"] is None  # a bag without the task's diagnostics
    assert rtc["guidance"] == "identity" and rtc["chunks_merged"] == 2 and rtc["chunks_rejected"] == 0
    # The largest step at a seam: chunk 2 row 2 (0.52) after chunk 1 row 4 (0.04).
    assert rtc["largest_seam_step_rad"] == pytest.approx(0.48, abs=1e-6)
    printed = capsys.readouterr().out.splitlines()
    assert printed[1].split()[:2] == ["RTC", "identity"]
    assert "3/4" in printed[1] and printed[2].startswith("naive") and f"{summary.seam_ratio:.2f}" in printed[1]


def test_the_report_prints_the_tasks_counts(tmp_path):
    write_run(tmp_path / "bag", task=TASK)
    summary = summarize(read_bag(tmp_path / "bag"))
    assert summary.task == {"targets_shown": 4, "targets_reached": 3, "obstacle_contacts": 1}
    assert "targets             3 reached of 4 shown, 1 obstacle contacts" in summary.lines()


def test_a_bag_without_chunks_is_one_line(tmp_path):
    write_run(tmp_path / "bag", topics=("/rtc/executor_status", "/joint_states"))
    line = one_line_error(["-m", "rtc_tools.demo_figure", str(tmp_path / "out.png"), f"RTC={tmp_path / 'bag'}"])
    assert line.startswith("demo_figure: ") and "no action chunks" in line
    assert not (tmp_path / "out.png").exists()


def test_not_a_bag_is_one_line(tmp_path):
    line = one_line_error(["-m", "rtc_tools.demo_figure", str(tmp_path / "out.png"), f"RTC={tmp_path}"])
    assert line == f"demo_figure: {tmp_path} is not a rosbag2 directory (no metadata.yaml)"


def test_a_run_argument_must_be_named(tmp_path):
    result = subprocess.run([sys.executable, "-m", "rtc_tools.demo_figure", str(tmp_path / "out.png"), str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "is not NAME=BAG_DIR" in result.stderr


def test_load_run_keeps_the_executed_trajectory(tmp_path):
    write_run(tmp_path / "bag")
    run = load_run("RTC", tmp_path / "bag")
    assert list(run.trajectory.steps) == list(range(9)) and run.figures.merge == ""
