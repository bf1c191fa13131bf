"""The twin node: the SO-100's MuJoCo twin behind an emulated servo bus, its rendered cameras and its task.

The node serves the six STS3215 servos on a pty linked at `link` (the real Feetech protocol); the
driver node opens that path as its port, exactly as it opens a real arm's adapter, so the driver, the
vendor SDK and LeRobot see a physical arm. The servos move the twin's joints (so100_driver.twin.world);
the physics follows the wall clock in a thread of its own (every MujocoWorld.step_every_s; a camera
frame also brings it up to now first), and the bus answers at once from the latest state, as a servo does.
It prints one line `twin: bus ready on LINK` on stdout once the driver may connect. On SIGINT or
SIGTERM it stops rendering at once and keeps serving the bus until no transaction came for BUS_QUIET_S
(the driver's own shutdown sequence, which the same signal starts, needs the arm), at most
SERVE_AFTER_STOP_S.

Parameters: `PARAMETERS` below (docs/twin.md shows the same table).
Topics (relative): publishes camera/<name>/image_raw (sensor_msgs/Image, rgb8, sensor-data QoS) for each
of `cameras` (front, wrist) at `rate_hz`, each image rendered from the physics state at the frame's time
and stamped with that time (the observation time the policy's latency is measured from, as the
simulated camera's images carry the state's stamp); /diagnostics at 1 Hz:
- `physics`: real_time_factor (simulated s per wall s), physics_speed (simulated s per s of computing),
  lag_behind_wall_ms (worst of the period: how old the physics state was when brought up to the wall
  clock, docs/twin.md), dropped_ms; ERROR when the lag reaches a control tick (1 / control_rate_hz);
- `cameras`: render_p50_ms / render_p95_ms per frame and camera over the period, frames published;
  WARN above RENDER_BUDGET_MS;
- `task`: the pick-and-place outcome from the physics (success, time to success, lifted, dropped
  outside the zone, peak contact force with the table or the wall, cube to zone distance).
"""
from __future__ import annotations

import threading
import time

import numpy as np
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from rtc_runtime.deadline_loop import Ticker
from rtc_runtime.diagnostics import Diagnostics, Level, Report
from rtc_runtime.node_main import StartupError, run_node
from rtc_runtime.parameters import ParameterError, ParameterSpec, declare
from rtc_runtime.profiling import record_span
from rtc_runtime.scheduling import GIL_SWITCH_INTERVAL_S
from rtc_runtime.tracing import tracer
from sensor_msgs.msg import Image

from so100_driver.arm import CalibrationError, default_calibration_path, load_calibration
from so100_driver.camera_frames import image_message
from so100_driver.emulator import ServoBusEmulator
from so100_driver.twin.task import ready_position_ticks
from so100_driver.topics import CAMERA_TOPICS
from so100_driver.worlds import WorldUnavailable, make_world

CAMERAS = tuple(CAMERA_TOPICS)
RENDER_BUDGET_MS = 8.0
SERVE_AFTER_STOP_S = 15.0  # longest the bus stays up after a stop signal while a driver still talks
BUS_QUIET_S = 0.5  # no transaction for this long: the driver has let go

PARAMETERS = (
    ParameterSpec("link", "/tmp/so100_twin", "path of the symlink to the emulated bus's pty: the driver's port"),
    ParameterSpec("calibration_file", "", "lerobot-calibrate JSON the twin's encoders read by; empty: the "
                  "simulated arm's shipped calibration"),
    ParameterSpec("baudrate", 1_000_000, "the emulator delays each reply by its transmission time at this rate",
                  unit="baud", minimum=9600),
    ParameterSpec("seed", 0, "the task's layout (so100_driver.twin.task.layout_for_seed); the arm starts at "
                  "twin.task.READY_POSE", minimum=0),
    ParameterSpec("cameras", list(CAMERAS), "cameras to render, each on camera/<name>/image_raw",
                  choices=CAMERAS, non_empty=True, unique=True),
    ParameterSpec("width", 96, "image width", unit="pixels", minimum=8, maximum=1280),
    ParameterSpec("height", 96, "image height", unit="pixels", minimum=8, maximum=960),
    ParameterSpec("rate_hz", 30.0, "frames per second of each camera", unit="Hz", minimum=0.0, above_minimum=True,
                  maximum=240.0),
    ParameterSpec("control_rate_hz", 30.0, "the executor's tick rate: physics a tick behind the wall clock is "
                  "ERROR", unit="Hz", minimum=0.0, above_minimum=True),
)


class TwinNode(Node):
    def __init__(self) -> None:
        super().__init__("twin")
        p = declare(self, PARAMETERS)
        self.fatal_error = ""
        calibration_file = p["calibration_file"] or str(default_calibration_path())
        try:
            calibration = load_calibration(calibration_file)
        except CalibrationError as err:
            raise ParameterError(f"parameter calibration_file: {err}") from None
        try:
            self.world = make_world("mujoco", calibration, seed=p["seed"])
        except WorldUnavailable as err:
            raise StartupError(f"twin: {err}") from None
        self.emulator = ServoBusEmulator.for_arm(calibration, link=p["link"], positions=ready_position_ticks(calibration),
                                                 baudrate=p["baudrate"], world=self.world)
        self.emulator.start()
        self.link = p["link"]
        self.tick_s = 1.0 / p["control_rate_hz"]
        self.camera_names = tuple(p["cameras"])
        self.size = (p["width"], p["height"])
        self.rate_hz = p["rate_hz"]
        self.publishers_ = {name: self.create_publisher(Image, CAMERA_TOPICS[name], qos_profile_sensor_data)
                            for name in self.camera_names}
        self.render_ms: list[float] = []
        self.render_lock = threading.Lock()
        self.frames = 0
        diagnostics = Diagnostics(self, hardware_id=f"twin seed {p['seed']} on {self.link}")
        diagnostics.add("physics", self._physics_report)
        diagnostics.add("cameras", self._camera_report)
        diagnostics.add("task", self._task_report)
        self.tracer = tracer(self.get_name())  # live with RTC_TRACE=1: a sink of every record_span
        self.stop_event = threading.Event()
        self._thread = threading.Thread(target=self._camera_loop, name="twin-cameras", daemon=True)
        print(f"twin: bus ready on {self.link}", flush=True)

    def start(self) -> None:
        # The bus stands in for servo hardware, which answers whatever the host's load: its threads run
        # under SCHED_FIFO when permitted (below the driver's control loop), the cameras do not.
        self.get_logger().info(f"bus and physics threads: {self.emulator.serve_realtime()}")
        self._thread.start()

    def stop(self) -> None:
        """Stop rendering; keep serving the bus until the driver is done with it (its own shutdown
        sequence runs on the same signal under `ros2 launch`), at most SERVE_AFTER_STOP_S."""
        self.stop_event.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        deadline = time.monotonic() + SERVE_AFTER_STOP_S
        served = -1
        while time.monotonic() < deadline and served != self.emulator.instructions_served:
            served = self.emulator.instructions_served
            time.sleep(BUS_QUIET_S)
        self.emulator.stop()

    # ----- cameras (own thread: the GL context belongs to it) ---------------------------------
    def _camera_loop(self) -> None:
        from so100_driver.twin.cameras import TwinCameras

        try:
            cameras = TwinCameras(self.world.model, *self.size, names=self.camera_names)
        except Exception as err:  # no offscreen GL here: the twin cannot show anything
            self.fatal_error = f"twin cameras: cannot render offscreen ({type(err).__name__}: {err}); try MUJOCO_GL=egl"
            return
        try:
            Ticker(self.rate_hz, window_ticks=max(1, round(self.rate_hz)), name="camera.frame").run(
                lambda _tick, _missed: self._frame(cameras), self.stop_event)
        finally:
            cameras.close()

    def _frame(self, cameras) -> None:
        started_ns = time.monotonic_ns()
        with self.emulator.lock:
            self.emulator.catch_up()
            cameras.snapshot(self.world.data)
            stamp = self.get_clock().now().to_msg()
        for name in self.camera_names:
            begin = time.perf_counter()
            pixels = cameras.render(name)
            with self.render_lock:
                self.render_ms.append((time.perf_counter() - begin) * 1000.0)
            self.publishers_[name].publish(image_message(pixels, stamp, f"twin_{name}_camera"))
        self.frames += 1
        record_span("camera.render_publish", started_ns, time.monotonic_ns())

    # ----- diagnostics ------------------------------------------------------------------------
    def _physics_report(self) -> Report:
        pacing = self.emulator.pacing.report()
        report = Report(Level.OK, "keeping pace with the wall clock")
        report.values = {"real_time_factor": f"{pacing.real_time_factor:.3f}",
                         "physics_speed": f"{pacing.physics_speed:.1f}",
                         "lag_behind_wall_ms": f"{pacing.max_lag_s * 1000:.2f}",
                         "dropped_ms": f"{pacing.dropped_s * 1000:.1f}",
                         "control_tick_ms": f"{self.tick_s * 1000:.1f}"}
        if pacing.max_lag_s >= self.tick_s:
            report.raise_to(Level.ERROR, f"physics fell {pacing.max_lag_s * 1000:.0f} ms behind the wall clock "
                            f"(a control tick is {self.tick_s * 1000:.0f} ms)")
        return report

    def _camera_report(self) -> Report:
        with self.render_lock:
            times, self.render_ms = self.render_ms, []
        if not times:
            return Report(Level.WARN, "no frame rendered in this period")
        p50, p95 = np.percentile(times, [50, 95])
        report = Report(Level.OK, "rendering")
        width, height = self.size
        report.values = {"cameras": ",".join(self.camera_names), "size": f"{width}x{height}",
                         "render_p50_ms": f"{p50:.2f}", "render_p95_ms": f"{p95:.2f}", "frames": self.frames}
        if p50 > RENDER_BUDGET_MS:
            report.raise_to(Level.WARN, f"render p50 {p50:.1f} ms is over the {RENDER_BUDGET_MS:.0f} ms budget")
        return report

    def _task_report(self) -> Report:
        with self.emulator.lock:
            outcome = self.world.task.outcome
            values = {"seed": self.world.seed, "success": outcome.success,
                      "success_after_s": "" if not outcome.success else f"{outcome.success_time_s:.2f}",
                      "lifted": outcome.lifted, "dropped_outside_zone": outcome.dropped_outside,
                      "peak_contact_force_n": f"{outcome.peak_contact_force_n:.2f}",
                      "cube_to_zone_m": f"{outcome.cube_to_zone_m:.4f}"}
        report = Report(Level.OK, "cube placed" if outcome.success else "placing the cube")
        if outcome.dropped_outside:
            report.raise_to(Level.WARN, "the cube was dropped outside the zone")
        report.values = values
        return report


def main(args: list[str] | None = None) -> None:
    run_node("twin", TwinNode, args=args, switch_interval_s=GIL_SWITCH_INTERVAL_S)


if __name__ == "__main__":
    main()
