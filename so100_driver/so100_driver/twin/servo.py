"""The STS3215 as a torque source: what the servo's firmware and DC motor do with its registers.

Position mode, as the firmware runs it: a reference moves toward Goal_Position with the trapezoidal
profile of the Acceleration register and the speed cap (Goal_Velocity, else the no-load speed), the
same profile the kinematic world follows (`motion_profile`); a PD loop on the reference error sets
the PWM duty, limited by Torque_Limit; the DC motor turns the duty into output torque less its
back-EMF, so torque falls to zero at the no-load speed. Inside the dead zone the duty is zero.
The gear train's friction: what the motor's no-load current says while powered; unpowered, the
output has to turn the motor through the 1:345 gearbox, which holds an SO-100's joints against gravity.
Every figure and its source is in docs/twin.md ("Servo model"). Pure numpy, no rclpy, no MuJoCo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from so100_driver.arm import RADIANS_PER_TICK

ACCELERATION_UNIT = 100.0  # ticks/s^2 per unit of the Acceleration register (0: no profile limit)
REFERENCE_GAIN = 32  # P_Coefficient / D_Coefficient at which the gains below are given


@dataclass(frozen=True)
class ServoModel:
    """STS3215 figures (7.4 V version); docs/twin.md names the source of each."""

    stall_torque_nm: float = 1.91  # 19.5 kg.cm at 7.4 V
    no_load_speed_rad_s: float = 5.45  # 0.192 s/60 deg at 7.4 V
    stall_current_a: float = 2.7
    no_load_current_a: float = 0.15
    full_duty_error_ticks: float = 71.0  # reference error that gives 100 % duty at P_Coefficient 32
    damping_duty_s: float = 0.0004  # duty per tick/s of velocity error at D_Coefficient 32
    dead_zone_ticks: float = 1.0  # CW_Dead_Zone = CCW_Dead_Zone, factory value
    rotor_inertia_kg_m2: float = 0.01  # reflected through the 1:345 gearbox (MuJoCo armature)
    backdrive_friction_nm: float = 1.0  # turning an unpowered servo's output through its gearbox
    current_unit_a: float = 0.0065  # Present_Current register unit

    @property
    def max_velocity_ticks_s(self) -> float:
        return self.no_load_speed_rad_s / RADIANS_PER_TICK

    @property
    def gear_friction_nm(self) -> float:
        """Friction torque of the gear train, from the current it draws turning without load."""
        return self.stall_torque_nm * self.no_load_current_a / self.stall_current_a

    def stiffness_nm_per_tick(self, p_coefficient: float) -> float:
        """Holding stiffness of the position loop (torque per tick of error, below saturation)."""
        return self.stall_torque_nm * (p_coefficient / REFERENCE_GAIN) / self.full_duty_error_ticks

    def duty(self, error_ticks: np.ndarray, velocity_error_ticks_s: np.ndarray, p_coefficient: np.ndarray,
             d_coefficient: np.ndarray, duty_limit: np.ndarray) -> np.ndarray:
        """PWM duty in [-duty_limit, duty_limit] for reference errors (reference - present, ticks) and
        velocity errors (reference velocity - present velocity, ticks/s); zero inside the dead zone."""
        outside = np.sign(error_ticks) * np.maximum(np.abs(error_ticks) - self.dead_zone_ticks, 0.0)
        raw = (p_coefficient / REFERENCE_GAIN) * outside / self.full_duty_error_ticks \
            + (d_coefficient / REFERENCE_GAIN) * self.damping_duty_s * velocity_error_ticks_s
        return np.clip(raw, -duty_limit, duty_limit)

    def torque(self, duty: np.ndarray, velocity_rad_s: np.ndarray) -> np.ndarray:
        """Output torque (N.m) of the DC motor at this duty and shaft speed: stall torque times the
        duty less the back-EMF share (the motor brakes when driven faster than its duty's speed)."""
        return self.stall_torque_nm * (duty - velocity_rad_s / self.no_load_speed_rad_s)

    def current_a(self, torque_nm: np.ndarray) -> np.ndarray:
        return np.abs(torque_nm) / self.stall_torque_nm * self.stall_current_a


STS3215 = ServoModel()


def motion_profile(position: float, velocity: float, goal: float, max_velocity: float, acceleration: float,
                   dt: float) -> tuple[float, float]:
    """One step of the firmware's trapezoidal profile toward `goal` (ticks, ticks/s, ticks/s^2):
    accelerate at most `acceleration`, cruise at most `max_velocity`, brake to stop on the goal."""
    error = goal - position
    if abs(error) < 0.5 and abs(velocity) < acceleration * dt:
        return goal, 0.0
    braking = math.sqrt(2 * acceleration * abs(error))
    desired = math.copysign(min(max_velocity, braking), error)
    velocity += max(-acceleration * dt, min(acceleration * dt, desired - velocity))
    new_position = position + velocity * dt
    if (goal - new_position) * error < 0:  # would overshoot: land on the goal
        return goal, 0.0
    return new_position, velocity


def profile_limits(acceleration_register: int, goal_velocity_register: int, no_load_ticks_s: float) -> tuple[float, float]:
    """(max velocity ticks/s, acceleration ticks/s^2) of the profile the registers ask for: Goal_Velocity
    0 means the servo's full speed, Acceleration 0 means the largest acceleration (254)."""
    acceleration = (acceleration_register or 254) * ACCELERATION_UNIT
    goal_velocity = abs(goal_velocity_register)
    return (min(no_load_ticks_s, goal_velocity) if goal_velocity else no_load_ticks_s), acceleration
