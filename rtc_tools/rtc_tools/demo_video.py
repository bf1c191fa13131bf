"""Recorded runs side by side as a video: `demo_video OUT.mp4 NAME=BAG [NAME=BAG ...] [--gif OUT.gif]`.

`make demo` records the same task with RTC and with naive chunk switching; this plays the runs side
by side, one column per run, in step on one clock (seconds since each run's first executed action):
on top the camera image of that moment as the bag holds it (raw or PNG; by default the front camera,
which the recorder keeps: the kinematic world's policy camera, on the MuJoCo twin its render from in
front of the table), under it the run's executed joint trajectory with every chunk seam marked (red
ticks) and, on the twin, the moment the cube was placed (green), drawn solid up to the moment and
faint after it, and above both the run's figures from its report (rtc_tools.demo_figure: seam ratio,
measured seam jerk, the task, what the command guard did).

Written by the ffmpeg binary that `imageio-ffmpeg` ships (no system ffmpeg needed): an H.264 MP4 at
`--fps`, and with `--gif` an animated GIF at `--gif-fps` and `--gif-width` (one palette for the whole
clip, only the changed rectangle of each frame re-encoded), small enough for a README. A run shorter
than the longest holds its last frame. A bag the report cannot read, one without executed chunks or
without images on the camera topic is one line on stderr and exit code 1.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rtc_contract.image_decoding import message_to_rgb
from rtc_tools.bag_reader import BagError, decoded, open_bag
from rtc_tools.demo_figure import Run, load_run, named_bag
from rtc_tools.report import header_time

CAMERA_TOPIC = "/camera/front/image_raw"  # the policy's default camera (recorded as <topic>/compressed)
COLUMN_PX = (480, 560)  # width, height of one run's column; multiples of 16, as H.264 encoders like
DPI = 100
FAINT_ALPHA = 0.22  # the trajectory after the current moment
MP4_CRF = 23  # x264's constant quality (lower: better and larger)


@dataclass
class CameraFrames:
    """A run's images: receive order does not matter, each is placed by its header stamp."""

    times: np.ndarray  # (n,) s on the run's clock (since its first executed action), ascending
    messages: list  # the undecoded messages, decoded when a video frame shows them

    def at(self, t: float):
        """The newest image stamped at or before `t` (the first one before any)."""
        return self.messages[max(int(np.searchsorted(self.times, t, side="right")) - 1, 0)]


def camera_frames(bag: Path, topic: str, t0: float, until: float) -> CameraFrames:
    """Images of `topic` (raw, or `<topic>/compressed` as the recorder writes it) stamped up to `until`
    s after `t0` (s since the bag's start), the newest one before `t0` included."""
    compressed = topic if topic.endswith("/compressed") else f"{topic}/compressed"
    types = {topic: "sensor_msgs/msg/Image", compressed: "sensor_msgs/msg/CompressedImage"}
    stamped = []
    with open_bag(bag) as (reader, store):
        topics = {c.topic for c in reader.connections}
        start = reader.start_time
        for _, stamp_ns, msg in decoded(reader, store, {t: m for t, m in types.items() if t in topics}):
            t = header_time(msg, start, (stamp_ns - start) / 1e9) - t0
            if t <= until:
                stamped.append((t, msg))
    if not stamped:
        raise BagError(f"{bag}: no images on {topic} (nor {compressed}): record the camera (rtc_tools.recorder "
                       "--images compressed or raw) or name the recorded topic with --camera")
    stamped.sort(key=lambda item: item[0])
    before = [i for i, (t, _) in enumerate(stamped) if t <= 0.0]
    stamped = stamped[before[-1] if before else 0:]
    return CameraFrames(np.array([t for t, _ in stamped]), [msg for _, msg in stamped])


@dataclass
class Panel:
    """Where one run's column draws, in pixels of the frame (origin top left)."""

    image_box: tuple[int, int, int, int]  # left, top, right, bottom of the camera image
    trace_rows: slice  # rows of the trajectory plot's axes
    trace_x: tuple[float, float, int, int]  # time t maps to column a + b * t, clipped to [left, right)


class Layout:
    """The static picture (titles, axes, faint and solid trajectories) rendered once with matplotlib;
    each video frame copies it, reveals the solid trajectory up to the moment and pastes the images."""

    def __init__(self, runs: list[Run], duration_s: float, image_aspects: list[float]) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        width, height = COLUMN_PX[0] * len(runs), COLUMN_PX[1]
        fig = plt.figure(figsize=(width / DPI, height / DPI), dpi=DPI)
        grid = fig.add_gridspec(2, len(runs), height_ratios=[1.15, 1], left=0.06, right=0.98, top=0.86,
                                bottom=0.08, wspace=0.18, hspace=0.12)
        image_axes, trace_axes, lines = [], [], []
        for column, (run, aspect) in enumerate(zip(runs, image_aspects)):
            traj, rec = run.trajectory, run.recording
            image_ax = fig.add_subplot(grid[0, column])
            image_ax.imshow(np.zeros((1, 1, 3)), extent=(0, aspect, 0, 1))  # width / height of the camera's images
            image_ax.set_axis_off()
            image_ax.set_title(_wrapped_title(run), fontsize=7.5, loc="left")
            ax = fig.add_subplot(grid[1, column])
            times = traj.times - traj.times[0]
            seams = traj.seams() + 1
            for j, name in enumerate(rec.joint_names):
                lines += ax.plot(times, traj.actions[:, j], lw=1.1, label=name)
            ax.vlines(times[seams], 0.0, 0.07, color="red", lw=0.8, transform=ax.get_xaxis_transform())
            if run.figures.placed_at_s is not None:  # faint until the moment comes, like the traces
                lines.append(ax.axvline(run.figures.placed_at_s, color="green", ls="--", lw=1.2))
            ax.set_xlim(0.0, duration_s)
            ax.tick_params(labelsize=7)
            ax.set_xlabel("s since the first executed action; red ticks: chunk seams"
                          + ("; green: cube placed" if run.figures.placed_at_s is not None else ""), fontsize=7)
            if column == 0:
                ax.set_ylabel("commanded [rad]", fontsize=7)
                ax.legend(fontsize=6, loc="upper left", ncol=3, framealpha=0.6)
            image_axes.append(image_ax)
            trace_axes.append(ax)
        fig.canvas.draw()
        self.solid = _pixels(fig)
        for line in lines:
            line.set_alpha(FAINT_ALPHA)
        fig.canvas.draw()
        self.faint = _pixels(fig)
        self.panels = []
        for image_ax, ax, aspect in zip(image_axes, trace_axes, image_aspects):
            (left, bottom), (right, top) = image_ax.transData.transform([(0, 0), (aspect, 1)])
            (x0, y0), (x1, y1) = ax.transData.transform([(0.0, ax.get_ylim()[0]), (duration_s, ax.get_ylim()[1])])
            bbox = ax.get_window_extent()
            self.panels.append(Panel(
                image_box=(int(round(left)), int(round(height - top)), int(round(right)), int(round(height - bottom))),
                trace_rows=slice(int(np.ceil(height - bbox.y1)) + 1, int(np.floor(height - bbox.y0))),
                trace_x=(x0, (x1 - x0) / duration_s if duration_s > 0 else 0.0, int(np.ceil(bbox.x0)) + 1,
                         int(np.floor(bbox.x1)))))
        plt.close(fig)
        self.size = (width, height)

    def frame(self, t: float, images: list[np.ndarray], ends: list[float]) -> np.ndarray:
        """The frame at `t` s: each run's image and its trajectory solid up to min(t, its end)."""
        frame = self.faint.copy()
        for panel, image, end in zip(self.panels, images, ends):
            a, b, left, right = panel.trace_x
            x = int(np.clip(round(a + b * min(t, end)), left, right))
            frame[panel.trace_rows, left:x] = self.solid[panel.trace_rows, left:x]
            frame[panel.trace_rows, max(x - 1, left):x + 1] = 40  # the moment: a dark cursor
            box_left, box_top, box_right, box_bottom = panel.image_box
            frame[box_top:box_bottom, box_left:box_right] = _resized(image, box_right - box_left, box_bottom - box_top)
        return frame


def _wrapped_title(run: Run) -> str:
    f = run.figures
    return (f"{f.name} (guidance {f.guidance}, merge {f.merge})\nseam ratio {f.seam_ratio:.2f}, measured seam "
            f"jerk {f.measured_seam_jerk_ratio:.2f}\n{f.task_text()}\nguard: {f.commands_clamped} clamped, "
            f"{f.chunks_rejected} chunks rejected, {f.ticks_held} ticks held")


def _decoded(msg) -> np.ndarray:
    try:
        return message_to_rgb(msg)
    except ValueError as err:
        raise BagError(f"an image does not decode: {err}") from None


def _pixels(fig) -> np.ndarray:
    return np.asarray(fig.canvas.buffer_rgba())[:, :, :3].copy()


def _resized(image: np.ndarray, width: int, height: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.NEAREST))


def ffmpeg(out: Path, size: tuple[int, int], fps: float, output_args: list[str]) -> subprocess.Popen:
    """An ffmpeg (imageio-ffmpeg's binary) that encodes raw RGB frames written to its stdin into `out`."""
    import imageio_ffmpeg

    width, height = size
    return subprocess.Popen(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
         "-s", f"{width}x{height}", "-r", f"{fps:g}", "-i", "-", "-an", *output_args, str(out)],
        stdin=subprocess.PIPE, stderr=subprocess.PIPE)


def mp4_args() -> list[str]:
    return ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(MP4_CRF), "-pix_fmt", "yuv420p",
            "-movflags", "+faststart"]


def gif_args(fps: float, width: int) -> list[str]:
    """One palette for the clip (computed over what changes), no dithering (flat plots stay flat),
    each frame encoded as its changed rectangle only."""
    return ["-vf", f"fps={fps:g},scale={width}:-2:flags=lanczos,split[a][b];[a]palettegen=max_colors=128:"
            "stats_mode=diff[p];[b][p]paletteuse=dither=none:diff_mode=rectangle", "-loop", "0"]


def write_video(runs: list[Run], cameras: list[CameraFrames], out: Path, fps: float,
                gif: Path | None = None, gif_fps: float = 8.0, gif_width: int = 640) -> int:
    """Encode the runs side by side into `out` (and `gif`); the number of frames written."""
    ends = [float(run.trajectory.times[-1] - run.trajectory.times[0]) for run in runs]
    duration = max(ends)
    first = [_decoded(c.messages[0]) for c in cameras]
    layout = Layout(runs, duration, [image.shape[1] / image.shape[0] for image in first])
    out.parent.mkdir(parents=True, exist_ok=True)
    encoders = [(out, ffmpeg(out, layout.size, fps, mp4_args()))]
    if gif is not None:
        gif.parent.mkdir(parents=True, exist_ok=True)
        encoders.append((gif, ffmpeg(gif, layout.size, fps, gif_args(gif_fps, gif_width))))
    count = int(np.floor(duration * fps)) + 1
    decoded_images: dict[int, np.ndarray] = {}  # one decode per image, shown for several frames

    def image(frames: CameraFrames, t: float) -> np.ndarray:
        msg = frames.at(t)
        if id(msg) not in decoded_images:
            if len(decoded_images) > len(cameras) * 4:  # the images of a few frames are enough
                decoded_images.clear()
            decoded_images[id(msg)] = _decoded(msg)
        return decoded_images[id(msg)]

    try:
        for k in range(count):
            t = k / fps
            frame = layout.frame(t, [image(c, min(t, end)) for c, end in zip(cameras, ends)], ends)
            for _, encoder in encoders:
                encoder.stdin.write(frame.tobytes())
    finally:
        failures = []
        for path, encoder in encoders:
            try:
                encoder.stdin.close()
            except BrokenPipeError:  # ffmpeg stopped early: its message says why
                pass
            if encoder.wait() != 0:
                failures.append(f"ffmpeg could not write {path}: {encoder.stderr.read().decode(errors='replace').strip()}")
            encoder.stderr.close()
        if failures:
            raise OSError("; ".join(failures))
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="demo_video", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the MP4 to write")
    parser.add_argument("runs", type=named_bag, nargs="+", metavar="NAME=BAG_DIR", help="left to right")
    parser.add_argument("--gif", type=Path, help="also write an animated GIF here")
    parser.add_argument("--camera", default=CAMERA_TOPIC, help="the image topic (raw, or its /compressed)")
    parser.add_argument("--fps", type=_positive, default=15.0, help="frames per second of the MP4")
    parser.add_argument("--gif-fps", type=_positive, default=8.0, help="frames per second of the GIF")
    parser.add_argument("--gif-width", type=int, default=640, help="width of the GIF in pixels")
    parser.add_argument("--seconds", type=_positive, help="at most this long (default: the longest run)")
    args = parser.parse_args(argv)
    if not 64 <= args.gif_width <= 4096:
        parser.error(f"--gif-width {args.gif_width}: expected 64 to 4096 pixels")
    try:
        runs = [load_run(name, bag) for name, bag in args.runs]
        if args.seconds is not None:
            runs = [_first_seconds(run, args.seconds) for run in runs]
        cameras = [camera_frames(bag, args.camera, float(run.trajectory.times[0]),
                                 float(run.trajectory.times[-1] - run.trajectory.times[0]))
                   for run, (_, bag) in zip(runs, args.runs)]
        count = write_video(runs, cameras, args.out, args.fps, args.gif, args.gif_fps, args.gif_width)
    except (BagError, OSError) as exc:
        print(f"demo_video: {exc}", file=sys.stderr)
        return 1
    print(f"video   {args.out} ({count} frames at {args.fps:g} fps, {args.out.stat().st_size / 1e6:.1f} MB)")
    if args.gif:
        print(f"gif     {args.gif} ({args.gif_fps:g} fps, {args.gif_width} px wide, {args.gif.stat().st_size / 1e6:.1f} MB)")
    return 0


def _first_seconds(run: Run, seconds: float) -> Run:
    """The run cut to its first `seconds` after the first executed action (figures: the whole run's)."""
    traj = run.trajectory
    keep = traj.times - traj.times[0] <= seconds
    cut = type(traj)(traj.steps[keep], traj.actions[keep], traj.chunk_ids[keep], traj.times[keep])
    return Run(run.figures, cut, run.recording)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive number")
    return value


if __name__ == "__main__":
    sys.exit(main())
