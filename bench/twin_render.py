"""Render time of the MuJoCo twin's cameras, per frame and camera, at the shipped size and others.

Builds the twin (seed 0), moves the arm through a slow sweep in simulated time (so the images change)
and renders every camera each frame, timing `render` alone (the scene update and the offscreen draw
and read-back: what the twin node's camera thread pays per camera). Shadows and multisampling are
off in the model and the meshes are the coarser ones (so100_driver.twin.meshes), as the node runs.

Usage (in the project's environment, `source tools/env.sh`):
  python bench/twin_render.py [--frames 300] [--sizes 96x96,240x320] [--json OUT]
Target: p50 <= 8 ms per frame and camera at the shipped size (96x96).
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

from so100_driver.arm import JOINT_NAMES, MOTOR_IDS, default_calibration_path, load_calibration
from so100_driver.emulator import ServoBusEmulator
from so100_driver.twin.task import READY_POSE, ready_position_ticks
from so100_driver.worlds import make_world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--sizes", default="96x96,240x320", help="WIDTHxHEIGHT,...")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    from so100_driver.twin.cameras import TwinCameras

    calibration = load_calibration(default_calibration_path())
    world = make_world("mujoco", calibration)
    emulator = ServoBusEmulator.for_arm(calibration, positions=ready_position_ticks(calibration), world=world)
    for servo in emulator.servos.values():
        servo.set("Torque_Enable", 1)
    results = {}
    for size in args.sizes.split(","):
        width, height = (int(v) for v in size.split("x"))
        cameras = TwinCameras(world.model, width, height)
        times = {name: [] for name in cameras.names}
        for frame in range(args.frames):
            pan = READY_POSE[0] + 0.6 * math.sin(2 * math.pi * frame / 150)
            emulator.servos[MOTOR_IDS["shoulder_pan"]].set(
                "Goal_Position", round(calibration.radians_to_ticks(JOINT_NAMES[0], pan)))
            emulator.advance(1 / 30)
            cameras.snapshot(world.data)
            for name in cameras.names:
                start = time.perf_counter()
                cameras.render(name)
                times[name].append((time.perf_counter() - start) * 1000.0)
        cameras.close()
        for name, values in times.items():
            p50, p95, worst = np.percentile(values, [50, 95, 100])
            results[f"{size} {name}"] = {"p50_ms": p50, "p95_ms": p95, "max_ms": worst}
            print(f"{size:>8} {name:6s} render p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  max {worst:6.2f} ms  "
                  f"({args.frames} frames)")
    print(f"triangles rendered per frame (all meshes): {int(world.model.mesh_facenum.sum())}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)


if __name__ == "__main__":
    main()
