"""Real-time factor of the MuJoCo twin: simulated seconds per second of computing, the servos moving.

Steps the twin behind its six emulated STS3215 servos in simulated time (no pty, no ROS), the way the
bus emulator does between two driver cycles (`--dt`, default 10 ms: a 100 Hz driver), while every joint
follows a slow sine goal; the servo model runs every physics step. A real-time factor of N means the
physics could keep pace with the wall clock using 1/N of one core.

Usage (in the project's environment, `source tools/env.sh`):
  python bench/twin_physics.py [--seconds 20] [--dt 0.01] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import math
import time

from so100_driver.arm import JOINT_NAMES, MOTOR_IDS, default_calibration_path, load_calibration
from so100_driver.emulator import ServoBusEmulator
from so100_driver.twin.model import TIMESTEP_S
from so100_driver.twin.task import READY_POSE, ready_position_ticks
from so100_driver.worlds import make_world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="simulated seconds")
    parser.add_argument("--dt", type=float, default=0.01, help="simulated seconds per advance call")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    calibration = load_calibration(default_calibration_path())
    emulator = ServoBusEmulator.for_arm(calibration, positions=ready_position_ticks(calibration),
                                        world=make_world("mujoco", calibration))
    for servo in emulator.servos.values():
        servo.set("Torque_Enable", 1)
    calls = round(args.seconds / args.dt)
    computing = 0.0
    for call in range(calls):
        t = call * args.dt
        for i, joint in enumerate(JOINT_NAMES[:4]):
            goal = READY_POSE[i] + 0.3 * math.sin(2 * math.pi * 0.4 * t + i)
            emulator.servos[MOTOR_IDS[joint]].set("Goal_Position", round(calibration.radians_to_ticks(joint, goal)))
        start = time.perf_counter()
        emulator.advance(args.dt)
        computing += time.perf_counter() - start
    factor = args.seconds / computing
    per_step_us = computing / (args.seconds / TIMESTEP_S) * 1e6
    print(f"simulated {args.seconds:.1f} s in {computing:.2f} s of computing: real-time factor {factor:.1f} "
          f"({per_step_us:.0f} us per {TIMESTEP_S * 1000:.0f} ms physics step, servo model included)")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"real_time_factor": factor, "step_us": per_step_us}, out, indent=2)


if __name__ == "__main__":
    main()
