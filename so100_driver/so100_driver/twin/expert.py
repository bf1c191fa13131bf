"""The scripted expert of the twin's task: pick the cube, carry it over the wall or inside it, place it.

From the ready pose the tool goes above the cube, down around it, the jaws close, the cube is lifted
and carried by one of two routes, chosen at random per demonstration (`ROUTES`): over the wall, high,
or inside it, low and close to the base: two equally good ways, so demonstrations are bimodal. It is
set down in the zone, the jaws open and the tool rises. Key poses are joined by minimum-jerk segments
in task space (radius, angle and height about the base, so the carried cube moves on arcs), solved
tick by tick by inverse kinematics on the MJCF chain (kinematics.py) with the jaws square to the
cube's faces and the wrist's roll held while carrying. Each pose is commanded with the sag the servo
model predicts for it added (gravity's torque on each joint over the position loop's stiffness at
the driver's P gain): a feed-forward, as a teleoperator would aim a little high.
The output is the command of every control tick (ROS-side radians): open loop, deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from so100_driver.arm import JOINT_NAMES, RADIANS_PER_TICK
from so100_driver.twin.arm import DRIVER_CONFIGURATION
from so100_driver.twin.kinematics import TwinKinematics
from so100_driver.twin.model import CUBE_HALF, OBSTACLE_HALF
from so100_driver.twin.servo import STS3215
from so100_driver.twin.task import READY_POSE, Layout

CONTROL_RATE_HZ = 30.0
ROUTES = ("over", "inside")
GRIPPER = JOINT_NAMES.index("gripper")
GRIPPER_OPEN, GRIPPER_CLOSED = -0.4, -1.0  # radians; closed is past the cube, so the jaws squeeze it
HOVER_Z = 0.07  # tool-centre height above the cube and the zone (m)
GRASP_Z = CUBE_HALF + 0.005
PLACE_Z = CUBE_HALF + 0.008
OVER_Z = 2 * OBSTACLE_HALF[2] + CUBE_HALF + 0.02  # the carried cube's bottom clears the wall's top
INSIDE_RADIUS, INSIDE_Z = 0.10, 0.05  # between the base and the wall's inner face


@dataclass(frozen=True)
class Demonstration:
    route: str
    commands: np.ndarray  # (ticks, 6) radians, one row per control tick


@dataclass(frozen=True)
class _Key:
    """A key pose: tool centre in polar coordinates about the base, the wrist's roll offset, the jaws."""

    radius: float
    angle: float
    z: float
    gripper: float
    seconds: float  # to get here from the previous key


def _min_jerk(s: np.ndarray) -> np.ndarray:
    return 10 * s**3 - 15 * s**4 + 6 * s**5


def _polar(xy: tuple[float, float]) -> tuple[float, float]:
    return math.hypot(*xy), math.atan2(xy[1], xy[0])


def _grasp_offset(cube_angle: float, cube_yaw: float) -> float:
    """The jaws' yaw relative to the tangent at the cube: the cube face closest to tangential
    (smallest wrist roll), as a value in (-pi/4, pi/4]."""
    relative = (cube_yaw - (cube_angle + math.pi / 2)) % (math.pi / 2)
    return relative - math.pi / 2 if relative > math.pi / 4 else relative


def _keys(layout: Layout, route: str) -> list[_Key]:
    cube_r, cube_a = _polar(layout.cube_xy)
    zone_r, zone_a = _polar(layout.zone_xy)
    keys = [_Key(cube_r, cube_a, HOVER_Z, GRIPPER_OPEN, 1.6), _Key(cube_r, cube_a, GRASP_Z, GRIPPER_OPEN, 1.0),
            _Key(cube_r, cube_a, GRASP_Z, GRIPPER_CLOSED, 0.8)]
    if route == "over":
        keys += [_Key(cube_r, cube_a, OVER_Z, GRIPPER_CLOSED, 1.0), _Key(zone_r, zone_a, OVER_Z, GRIPPER_CLOSED, 2.4)]
    else:
        keys += [_Key(cube_r, cube_a, INSIDE_Z, GRIPPER_CLOSED, 0.8),
                 _Key(INSIDE_RADIUS, cube_a, INSIDE_Z, GRIPPER_CLOSED, 0.8),
                 _Key(INSIDE_RADIUS, zone_a, INSIDE_Z, GRIPPER_CLOSED, 1.6),
                 _Key(zone_r, zone_a, INSIDE_Z, GRIPPER_CLOSED, 0.8)]
    return keys + [_Key(zone_r, zone_a, PLACE_Z, GRIPPER_CLOSED, 1.0), _Key(zone_r, zone_a, PLACE_Z, GRIPPER_OPEN, 0.8),
                   _Key(zone_r, zone_a, HOVER_Z, GRIPPER_OPEN, 1.0)]


class Expert:
    def __init__(self, kinematics: TwinKinematics, p_coefficient: int = dict(DRIVER_CONFIGURATION)["P_Coefficient"]):
        import mujoco

        self._mujoco = mujoco
        self.kinematics = kinematics
        stiffness_per_rad = STS3215.stiffness_nm_per_tick(p_coefficient) / RADIANS_PER_TICK
        self._sag_per_nm = 1.0 / stiffness_per_rad

    def sag_compensation(self, q: np.ndarray) -> np.ndarray:
        """What to add to the command of pose q so the servos, loaded by gravity, hold q (radians)."""
        k = self.kinematics
        k.tool_pose(q)
        k.data.qvel[:] = 0.0
        self._mujoco.mj_forward(k.model, k.data)
        return k.data.qfrc_bias[k.dof] * k.sign * self._sag_per_nm

    def demonstrate(self, layout: Layout, rng: np.random.Generator, start: tuple[float, ...] = READY_POSE
                    ) -> Demonstration:
        """One demonstration from `start`, its route drawn from `rng`."""
        route = ROUTES[int(rng.integers(len(ROUTES)))]
        return Demonstration(route, self.plan(layout, route, np.asarray(start, dtype=float)))

    def plan(self, layout: Layout, route: str, start: np.ndarray) -> np.ndarray:
        """The commands (ticks, 6) of one demonstration along `route`."""
        cube_r, cube_a = _polar(layout.cube_xy)
        offset = _grasp_offset(cube_a, layout.cube_yaw)
        start_pos, _ = self.kinematics.tool_pose(start)
        previous = _Key(*_polar(tuple(start_pos[:2])), float(start_pos[2]), float(start[GRIPPER]), 0.0)
        q = np.array(start, dtype=float)
        rows = [q.copy()]
        for key in _keys(layout, route):
            ticks = max(1, round(key.seconds * CONTROL_RATE_HZ))
            s = _min_jerk(np.arange(1, ticks + 1) / ticks)
            for f in s:
                radius = previous.radius + f * (key.radius - previous.radius)
                angle = previous.angle + f * (key.angle - previous.angle)
                z = previous.z + f * (key.z - previous.z)
                position = np.array([radius * math.cos(angle), radius * math.sin(angle), z])
                q = self.kinematics.solve(position, angle + math.pi / 2 + offset, q)
                q[GRIPPER] = previous.gripper + f * (key.gripper - previous.gripper)
                rows.append(q.copy())
            previous = key
        desired = np.array(rows)
        return desired + np.array([self.sag_compensation(row) for row in desired]) * _ARM_MASK


_ARM_MASK = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.0])  # the gripper's command is its own (it squeezes)
