"""The twin commanded in joint radians and stepped in simulated time, as the driver commands a real arm.

For callers that own time (rtc_sim_eval, the scripted expert's tests): no pty, no ROS. The servos are
configured as the driver configures them at connect (DRIVER_CONFIGURATION: LeRobot's SO-100 follower
values, so100_driver.arm_driver), torque on; `step(command, dt)` writes each joint's goal (clamped to
its calibrated range, as the driver's gate does) and advances the world by `dt`, and returns what the
driver would read back: Present_Position through the calibration, radians. The same calls give the
same results (deterministic per seed).
"""

from __future__ import annotations

import numpy as np

from so100_driver.arm import JOINT_NAMES, MOTOR_IDS, Calibration
from so100_driver.emulator import ServoBusEmulator
from so100_driver.worlds import make_world

DRIVER_CONFIGURATION = (("Acceleration", 254), ("P_Coefficient", 16), ("I_Coefficient", 0), ("D_Coefficient", 32))
GRIPPER_MAX_TORQUE_LIMIT = 500  # the driver halves the gripper's torque, as LeRobot does


class ServoArm:
    def __init__(self, calibration: Calibration, start: np.ndarray, seed: int = 0, with_task: bool = True) -> None:
        self.calibration = calibration
        self.world = make_world("mujoco", calibration, seed=seed, with_task=with_task)
        positions = {name: calibration.radians_to_ticks(name, float(start[i])) for i, name in enumerate(JOINT_NAMES)}
        self.emulator = ServoBusEmulator.for_arm(calibration, positions=positions, world=self.world)
        self._servos = [self.emulator.servos[MOTOR_IDS[name]] for name in JOINT_NAMES]
        for servo in self._servos:
            for register, value in DRIVER_CONFIGURATION:
                servo.set(register, value)
            servo.set("Goal_Position", servo.present_ticks())
            servo.set("Torque_Enable", 1)
        self.emulator.servos[MOTOR_IDS["gripper"]].set("Max_Torque_Limit", GRIPPER_MAX_TORQUE_LIMIT)

    def step(self, command: np.ndarray, dt: float) -> np.ndarray:
        """Command joint angles (6,) radians, let `dt` seconds pass; the measured angles after."""
        for i, (name, servo) in enumerate(zip(JOINT_NAMES, self._servos)):
            radians = self.calibration.clamp_radians(name, float(command[i]))
            servo.set("Goal_Position", int(round(float(self.calibration.radians_to_ticks(name, radians)))))
        self.emulator.advance(dt)
        return self.measured()

    def measured(self) -> np.ndarray:
        return np.array([self.calibration.ticks_to_radians(name, servo.present_ticks())
                         for name, servo in zip(JOINT_NAMES, self._servos)])
