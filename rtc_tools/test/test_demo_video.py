"""The demo's side-by-side video (rtc_tools.demo_video) on bags written as rosbag2 writes them: an MP4
with a frame per 1/fps of the longest run and a GIF; each frame shows each run's image of that moment
and its trajectory solid up to it; a bag without images is one clear line. (`make demo`'s real runs:
test_system_demo.py.)"""
from __future__ import annotations

import subprocess
import sys

import imageio_ffmpeg
import numpy as np
import pytest
from test_bags import one_line_error, write_run
from test_report_task_outcome import PLACED

from rtc_tools.demo_figure import load_run
from rtc_tools.demo_video import CameraFrames, Layout, camera_frames, main


def test_the_runs_play_side_by_side_as_an_mp4_and_a_gif(tmp_path, capsys):
    write_run(tmp_path / "rtc")
    write_run(tmp_path / "naive", compressed=True)
    out, gif = tmp_path / "video" / "demo.mp4", tmp_path / "video" / "demo.gif"
    assert main([str(out), f"RTC={tmp_path / 'rtc'}", f"naive={tmp_path / 'naive'}", "--gif", str(gif)]) == 0
    # nine ticks served 0.1 s apart: 0.8 s, a frame every 1/15 s from the first executed action on
    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(out))
    assert frames == 13
    assert gif.read_bytes()[:6] == b"GIF89a" and 0 < gif.stat().st_size < 2_000_000
    reader = imageio_ffmpeg.read_frames(str(out))
    meta = next(reader)
    assert tuple(meta["size"]) == (2 * 480, 560)  # one column per run
    assert "13 frames at 15 fps" in capsys.readouterr().out


def test_a_frame_shows_each_runs_image_and_its_trajectory_up_to_the_moment(tmp_path):
    write_run(tmp_path / "bag")
    run = load_run("RTC", tmp_path / "bag")
    layout = Layout([run], duration_s=0.8, image_aspects=[2.0])
    red = np.zeros((4, 8, 3), np.uint8)
    red[..., 0] = 255
    (panel,) = layout.panels
    left, top, right, bottom = panel.image_box
    assert (right - left) == pytest.approx(2 * (bottom - top), abs=2)  # the image's aspect kept
    start, end = layout.frame(0.0, [red], [0.8]), layout.frame(0.8, [red], [0.8])
    assert (start[top:bottom, left:right] == [255, 0, 0]).all()
    a, b, x_left, x_right = panel.trace_x
    middle = int(round(a + b * 0.4))
    rows = panel.trace_rows
    # before the moment the solid trajectory, after it the faint one (the cursor between them)
    assert not np.array_equal(layout.solid[rows, x_left:middle - 2], layout.faint[rows, x_left:middle - 2])
    assert np.array_equal(start[rows, x_left + 2:x_right], layout.faint[rows, x_left + 2:x_right])
    assert np.array_equal(end[rows, x_left:x_right - 2], layout.solid[rows, x_left:x_right - 2])
    held = layout.frame(5.0, [red], [0.8])  # a run that ended holds its last frame
    assert np.array_equal(held, end)


def test_the_image_of_a_moment_is_the_newest_stamped_by_then():
    frames = CameraFrames(np.array([-0.05, 0.0, 0.1, 0.2]), ["a", "b", "c", "d"])
    assert [frames.at(t) for t in (-1.0, 0.0, 0.05, 0.1, 0.19, 3.0)] == ["a", "b", "b", "c", "c", "d"]


def test_images_are_kept_from_the_newest_before_the_first_action(tmp_path):
    write_run(tmp_path / "bag")
    frames = camera_frames(tmp_path / "bag", "/camera/front/image_raw", t0=2.0, until=1.0)
    assert len(frames.messages) == 1 and frames.times[0] < 0  # stamped before the first action: shown from 0


def test_a_bag_without_images_is_one_line(tmp_path):
    write_run(tmp_path / "bag", topics=("/rtc/action_chunk", "/rtc/executor_status", "/joint_states"))
    line = one_line_error(["-m", "rtc_tools.demo_video", str(tmp_path / "out.mp4"), f"RTC={tmp_path / 'bag'}"])
    assert line.startswith("demo_video: ") and "no images on /camera/front/image_raw" in line
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize("argument, says", [(["--fps", "0"], "'0': expected a positive number"),
                                            (["--fps", "fast"], "'fast' is not a number"),
                                            (["--gif-width", "10"], "--gif-width 10: expected 64 to 4096 pixels")])
def test_bad_options_are_refused_before_reading(tmp_path, argument, says):
    result = subprocess.run([sys.executable, "-m", "rtc_tools.demo_video", str(tmp_path / "out.mp4"), f"RTC={tmp_path}",
                             *argument], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("demo_video: error: ") and says in result.stderr


def test_the_moment_the_cube_was_placed_is_marked_on_the_twins_trace_once_it_came(tmp_path):
    write_run(tmp_path / "twin", task=PLACED, diagnostic="twin: task")
    write_run(tmp_path / "kinematic")

    def green_pixels(run, picture: str) -> int:
        layout = Layout([run], duration_s=1.0, image_aspects=[1.0])
        (panel,) = layout.panels
        a, b, _, _ = panel.trace_x
        x = int(round(a + b * 0.8))  # the twin's status said placed 0.8 s after the first action
        column = getattr(layout, picture)[panel.trace_rows, x - 1:x + 2].astype(int)
        return int(((column[..., 1] > 100) & (column[..., 0] < 60) & (column[..., 2] < 60)).sum())

    twin, kinematic = load_run("RTC", tmp_path / "twin"), load_run("RTC", tmp_path / "kinematic")
    assert twin.figures.placed_at_s == pytest.approx(0.8)
    assert green_pixels(twin, "solid") > 20  # shown once the moment has come ...
    assert green_pixels(twin, "faint") == 0  # ... faint before it, as the trajectory
    assert kinematic.figures.placed_at_s is None and green_pixels(kinematic, "solid") == 0
