"""The MuJoCo twin as a bus emulator's world: the servos' registers drive the joints, the joints fill the
servos' Present_* registers.

Each physics step (model.TIMESTEP_S) runs the STS3215 model (`servo.ServoModel`) on every joint: the
firmware's motion profile moves a reference toward the clamped Goal_Position, the PD loop and the DC
motor turn the reference error into a torque on the joint (none with torque off: the gear train's
backdriving friction then holds the joint, as an unpowered SO-100 follower stays where it is).
After the steps each servo reads its joint: Present_Position and Present_Velocity
through the calibration (the encoder's ticks, shifted by the servo's own Homing_Offset register),
Present_Load as the signed duty in 0.1 %, Present_Current from the torque. Time is the caller's:
`advance(servos, dt)` simulates `dt`, carrying any remainder below one step to the next call, so the
same calls give the same states (deterministic). No rclpy.
"""

from __future__ import annotations

import numpy as np

from so100_driver.arm import JOINT_NAMES, MOTOR_IDS, Calibration, default_calibration_path, load_calibration
from so100_driver.twin.model import ARM_PREFIX, JOINT_MAP, TIMESTEP_S, load_model
from so100_driver.twin.servo import STS3215, ServoModel, motion_profile, profile_limits
from so100_driver.twin.task import TaskMonitor, layout_for_seed, place_layout

SETTLE_S = 0.5  # a placed arm settles this long (contacts, the gear trains taking the load)
_LOAD_MAX = 1000  # Present_Load: duty in 0.1 %


class MujocoWorld:
    """One SO-100 on a table, in MuJoCo, behind the emulated servos."""

    name = "mujoco"
    step_every_s = 0.004  # behind a pty the physics steps in its own thread; the bus answers at once

    def __init__(self, calibration: Calibration | None = None, seed: int = 0, servo: ServoModel = STS3215,
                 with_task: bool = True) -> None:
        import mujoco

        self._mujoco = mujoco
        self.calibration = calibration or load_calibration(default_calibration_path())
        self.servo = servo
        self.seed = seed
        self.model = load_model(self.calibration, servo, with_task)
        self.data = mujoco.MjData(self.model)
        joints = [self.model.joint(ARM_PREFIX + JOINT_MAP[j].mjcf_joint) for j in JOINT_NAMES]
        self._qpos = np.array([int(j.qposadr[0]) for j in joints])
        self._dof = np.array([int(j.dofadr[0]) for j in joints])
        self._actuators = np.array([self.model.actuator(j).id for j in JOINT_NAMES])
        # present ticks = (mjcf - offset) / (sign * slope) - intercept / slope, slope = radians per tick
        intercept = np.array([self.calibration.ticks_to_radians(j, 0.0) for j in JOINT_NAMES])
        slope = np.array([self.calibration.ticks_to_radians(j, 1.0) for j in JOINT_NAMES]) - intercept
        self._sign = np.array([JOINT_MAP[j].sign for j in JOINT_NAMES])
        self._offset = np.array([JOINT_MAP[j].offset for j in JOINT_NAMES])
        self._intercept, self._slope = intercept, slope
        self._calibrated_offset = np.array([self.calibration.motors[j].homing_offset for j in JOINT_NAMES])
        self._ids = [MOTOR_IDS[j] for j in JOINT_NAMES]
        self.reference = np.zeros(len(JOINT_NAMES))  # the firmware's profile, present ticks
        self.reference_velocity = np.zeros(len(JOINT_NAMES))
        self.duty = np.zeros(len(JOINT_NAMES))
        self._torque_on = np.zeros(len(JOINT_NAMES), dtype=bool)
        self._pending_s = 0.0
        self.layout = layout_for_seed(seed) if with_task else None
        self.task = TaskMonitor(self.model, self.layout) if with_task else None

    # ----- ticks <-> joints -----------------------------------------------------------------
    def _ticks_per_rad(self) -> np.ndarray:
        """d(present ticks) / d(mjcf angle) of each joint."""
        return 1.0 / (self._sign * self._slope)

    def encoder_ticks(self, homing_offsets: np.ndarray) -> np.ndarray:
        """Present_Position (fractional ticks) the joints read with these Homing_Offset registers."""
        mjcf = self.data.qpos[self._qpos]
        calibrated = ((mjcf - self._offset) / self._sign - self._intercept) / self._slope
        return calibrated + self._calibrated_offset - homing_offsets

    def _set_joints_from_ticks(self, present: np.ndarray, homing_offsets: np.ndarray) -> None:
        calibrated = present - self._calibrated_offset + homing_offsets
        mjcf = self._sign * (self._intercept + self._slope * calibrated) + self._offset
        ranges = self.model.jnt_range[[self.model.dof_jntid[d] for d in self._dof]]
        self.data.qpos[self._qpos] = np.clip(mjcf, ranges[:, 0], ranges[:, 1])
        self.data.qvel[self._dof] = 0.0

    def joint_positions(self) -> np.ndarray:
        """The joints' angles as ROS-side radians (so100_driver.arm's convention), JOINT_NAMES order."""
        return (self.data.qpos[self._qpos] - self._offset) / self._sign

    def holding_error_ticks(self, p_coefficient: float) -> np.ndarray:
        """The largest steady error of a servo holding the present pose: gravity's torque on its joint
        plus the gear friction (which holds either way), over the position loop's stiffness, plus the
        dead zone and the encoder's tick."""
        self._mujoco.mj_forward(self.model, self.data)
        load = np.abs(self.data.qfrc_bias[self._dof]) + self.servo.gear_friction_nm
        return load / self.servo.stiffness_nm_per_tick(p_coefficient) + self.servo.dead_zone_ticks + 1.0

    # ----- World ------------------------------------------------------------------------------
    def place(self, servos: dict) -> None:
        """Put the joints at the servos' positions and the task's objects at the seed's layout, and
        let everything settle (SETTLE_S), as a real arm lies when the bus comes up; the servos then
        read where it came to rest, and the task's clock starts."""
        offsets = np.array([servos[m].get("Homing_Offset") for m in self._ids], dtype=float)
        self._set_joints_from_ticks(np.array([servos[m].position for m in self._ids]), offsets)
        if self.task is not None:
            place_layout(self.model, self.data, self.layout)
        self._mujoco.mj_forward(self.model, self.data)
        self.advance(servos, SETTLE_S)
        for m in self._ids:
            servos[m].set("Goal_Position", servos[m].present_ticks())
        if self.task is not None:
            self.task.restart(float(self.data.time))

    def advance(self, servos: dict, dt: float) -> None:
        regs = [servos[m] for m in self._ids]
        offsets = np.array([s.get("Homing_Offset") for s in regs], dtype=float)
        torque_on = np.array([s.torque_enabled for s in regs])
        goals = np.array([s.goal_ticks() for s in regs])
        p_gain = np.array([s.get("P_Coefficient") for s in regs], dtype=float)
        d_gain = np.array([s.get("D_Coefficient") for s in regs], dtype=float)
        duty_limit = np.array([min(s.get("Torque_Limit"), s.get("Max_Torque_Limit")) for s in regs]) / _LOAD_MAX
        limits = [profile_limits(s.get("Acceleration"), s.get("Goal_Velocity"), self.servo.max_velocity_ticks_s)
                  for s in regs]
        ticks_per_rad = self._ticks_per_rad()
        direction = np.sign(ticks_per_rad)
        self.model.dof_frictionloss[self._dof] = np.where(torque_on, self.servo.gear_friction_nm,
                                                          self.servo.backdrive_friction_nm)
        self._pending_s += dt
        steps = int(self._pending_s / TIMESTEP_S + 1e-9)
        self._pending_s -= steps * TIMESTEP_S
        for _ in range(steps):
            present = self.encoder_ticks(offsets)
            velocity = self.data.qvel[self._dof] * ticks_per_rad
            starting = torque_on & ~self._torque_on  # the firmware's profile starts where the shaft is
            self.reference[starting] = present[starting]
            self.reference_velocity[starting] = 0.0
            self._torque_on = torque_on
            for i, (vmax, accel) in enumerate(limits):
                if torque_on[i]:
                    self.reference[i], self.reference_velocity[i] = motion_profile(
                        self.reference[i], self.reference_velocity[i], goals[i], vmax, accel, TIMESTEP_S)
            self.duty = np.where(torque_on, self.servo.duty(self.reference - present, self.reference_velocity - velocity,
                                                            p_gain, d_gain, duty_limit), 0.0)
            shaft = self.data.qvel[self._dof] * direction  # rad/s, positive where the ticks count up
            output = np.where(torque_on, self.servo.torque(self.duty, shaft), 0.0)
            self.data.ctrl[self._actuators] = output * direction
            self._mujoco.mj_step(self.model, self.data)
            if self.task is not None:
                self.task.observe(self.model, self.data)
        present = self.encoder_ticks(offsets)
        velocity = self.data.qvel[self._dof] * ticks_per_rad
        output = self.data.actuator_force[self._actuators] * direction
        for i, servo in enumerate(regs):
            servo.position = float(present[i])
            servo.velocity = float(velocity[i])
            servo.load = int(np.clip(round(self.duty[i] * _LOAD_MAX), -_LOAD_MAX, _LOAD_MAX))
            servo.current = int(round(float(self.servo.current_a(output[i])) / self.servo.current_unit_a))
            servo.sync_registers()
