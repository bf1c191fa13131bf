"""The MuJoCo twin's pick-and-place outcome in the report and the demo figure, read from the twin node's
`twin: task` status as the node writes it (so100_driver.twin_node); a value that does not read as its
key says is one line, not a guess. (A real run on the twin: test_system_twin_report.py.)"""
from __future__ import annotations

import json

import pytest
from test_bags import one_line_error, write_run

from rtc_tools.demo_figure import load_run
from rtc_tools.report import main as report_main
from rtc_tools.report import read_bag, summarize

PLACED = {"seed": "3", "success": "True", "success_after_s": "8.41", "lifted": "True",
          "dropped_outside_zone": "False", "peak_contact_force_n": "3.21", "cube_to_zone_m": "0.0123"}
DROPPED = {**PLACED, "success": "False", "success_after_s": "", "dropped_outside_zone": "True",
           "cube_to_zone_m": "0.2100"}


def test_the_report_prints_and_writes_the_twins_task_outcome(tmp_path, capsys):
    write_run(tmp_path / "bag", task=PLACED, diagnostic="twin: task")
    assert report_main([str(tmp_path / "bag"), "--json", str(tmp_path / "summary.json")]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert "task outcome        cube placed in the zone 8.4 s into the twin's simulation (layout seed 3)" in printed
    assert any("dropped outside the zone: no; peak contact force 3.21 N" in line for line in printed)
    outcome = json.loads((tmp_path / "summary.json").read_text())["task_outcome"]
    assert outcome == {"success": True, "success_after_s": 8.41, "lifted": True, "dropped_outside_zone": False,
                       "peak_contact_force_n": 3.21, "cube_to_zone_m": 0.0123, "seed": 3}
    assert not any(line.startswith("targets ") for line in printed)  # the kinematic world's counts: not there


def test_a_dropped_cube_is_reported_with_its_distance(tmp_path):
    write_run(tmp_path / "bag", task=DROPPED, diagnostic="twin: task")
    summary = summarize(read_bag(tmp_path / "bag"))
    assert summary.task_outcome.success is False and summary.task_outcome.success_after_s is None
    text = "\n".join(summary.lines())
    assert "cube not placed (layout seed 3): lifted, 0.210 m from the zone" in text
    assert "dropped outside the zone: yes" in text


def test_the_figure_says_what_happened_to_the_cube(tmp_path):
    write_run(tmp_path / "placed", task=PLACED, diagnostic="twin: task")
    write_run(tmp_path / "dropped", task=DROPPED, diagnostic="twin: task")
    placed, dropped = load_run("RTC", tmp_path / "placed").figures, load_run("naive", tmp_path / "dropped").figures
    # placed when the twin's status first said so (stamped 0.9 s into the bag), on the plots' clock:
    # seconds since the first executed action (0.1 s into the bag)
    assert placed.placed_at_s == pytest.approx(0.8) and dropped.placed_at_s is None
    assert placed.task_text() == "cube placed at 0.8 s, peak contact 3.2 N"
    assert dropped.task_text() == "cube dropped outside the zone, peak contact 3.2 N"
    assert placed.targets_shown is None and "cube placed" in placed.title()


def test_a_kinematic_run_has_no_task_outcome(tmp_path):
    write_run(tmp_path / "bag", task={"seed": "0", "targets_shown": "2", "targets_reached": "1",
                                      "obstacle_contacts": "0"})
    summary = summarize(read_bag(tmp_path / "bag"))
    assert summary.task_outcome is None and summary.task["targets_reached"] == 1


@pytest.mark.parametrize("key, value", [("success", "maybe"), ("peak_contact_force_n", "lots")])
def test_a_garbled_outcome_is_one_line(tmp_path, key, value):
    write_run(tmp_path / "bag", task={**PLACED, key: value}, diagnostic="twin: task")
    line = one_line_error(["-m", "rtc_tools.report", str(tmp_path / "bag")])
    assert line == f"report: /diagnostics status 'twin: task': {key}={value!r} is not " + (
        "True or False" if key == "success" else "a number")
