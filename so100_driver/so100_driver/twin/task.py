"""The twin's task: pick the cube and place it in the target zone, with a wall between them.

Per seed (`layout_for_seed`) the cube lies on one side of the arm, the zone on the other, and a wall
stands across the way between them, so the cube goes over the wall or inside it, near the base: more
than one way. The outcome comes from the physics (`TaskMonitor`, fed every physics step): success is
the cube resting in the zone and released (no jaw touching it); dropped is the cube, once lifted,
resting outside the zone released; the peak contact force is the largest normal force of any contact
of the arm or the cube with the table or the wall (the cube resting on the table excluded); time to
success is the simulated time from the episode's start. No rclpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from so100_driver.twin.model import ARM_PREFIX, CUBE_BODY, CUBE_HALF, OBSTACLE_BODY, ZONE_BODY, ZONE_HALF

# Where an episode starts (ROS-side radians, JOINT_NAMES order): the tool 11 cm above the table, close
# to the base and clear of the wall, pointing down, jaws open (twin.kinematics; a test checks it).
READY_POSE = (0.0, -0.69, 0.47, -1.77, 0.0, -0.4)
RESTING_HEIGHT_M = CUBE_HALF + 0.004  # cube centre at most this high: it lies on the table
LIFTED_HEIGHT_M = CUBE_HALF + 0.02  # once this high, it was picked up


@dataclass(frozen=True)
class Layout:
    """Where things are (metres, radians; world frame, x forward, y left)."""

    cube_xy: tuple[float, float]
    cube_yaw: float
    zone_xy: tuple[float, float]
    obstacle_xy: tuple[float, float]

    def to_dict(self) -> dict[str, object]:
        return {"cube_xy": list(self.cube_xy), "cube_yaw": self.cube_yaw, "zone_xy": list(self.zone_xy),
                "obstacle_xy": list(self.obstacle_xy)}


def layout_for_seed(seed: int) -> Layout:
    """The same seed, the same layout."""
    rng = np.random.default_rng([seed, 28])
    side = 1.0 if rng.random() < 0.5 else -1.0  # the cube on the left (+1) or on the right

    def polar(radius: float, angle: float) -> tuple[float, float]:
        return radius * math.cos(angle), radius * math.sin(angle)

    cube = polar(rng.uniform(0.16, 0.20), side * math.radians(rng.uniform(35.0, 50.0)))
    zone = polar(rng.uniform(0.16, 0.20), -side * math.radians(rng.uniform(35.0, 50.0)))
    obstacle = (rng.uniform(0.18, 0.20), rng.uniform(-0.01, 0.01))
    return Layout(cube_xy=cube, cube_yaw=float(rng.uniform(-math.pi / 4, math.pi / 4)), zone_xy=zone,
                  obstacle_xy=obstacle)


def ready_position_ticks(calibration) -> dict[str, float]:
    """READY_POSE as Present_Position ticks by joint name: where the twin's servos start."""
    from so100_driver.arm import JOINT_NAMES

    return {name: calibration.radians_to_ticks(name, READY_POSE[i]) for i, name in enumerate(JOINT_NAMES)}


def place_layout(model, data, layout: Layout) -> None:
    """Put the cube, the zone and the wall where the layout says (the cube at rest on the table)."""
    cube = model.joint(CUBE_BODY)
    adr = int(cube.qposadr[0])
    half_yaw = layout.cube_yaw / 2
    data.qpos[adr:adr + 7] = [*layout.cube_xy, CUBE_HALF, math.cos(half_yaw), 0.0, 0.0, math.sin(half_yaw)]
    data.qvel[int(cube.dofadr[0]):int(cube.dofadr[0]) + 6] = 0.0
    for body, xy in ((OBSTACLE_BODY, layout.obstacle_xy), (ZONE_BODY, layout.zone_xy)):
        mocap = int(model.body(body).mocapid[0])
        data.mocap_pos[mocap, :2] = xy


@dataclass
class Outcome:
    success: bool = False
    success_time_s: float = math.nan
    lifted: bool = False
    dropped_outside: bool = False
    peak_contact_force_n: float = 0.0
    cube_to_zone_m: float = math.nan


class TaskMonitor:
    """The task's outcome so far, from each physics step's contacts and the cube's pose."""

    def __init__(self, model, layout: Layout) -> None:
        import mujoco

        self._mujoco = mujoco
        self.layout = layout
        self.outcome = Outcome()
        self._force = np.zeros(6)
        self._cube_body = model.body(CUBE_BODY).id
        self._cube_adr = int(model.joint(CUBE_BODY).qposadr[0])
        self._table = model.geom("table").id
        self._surfaces = {self._table, model.geom(OBSTACLE_BODY).id}
        arm = {b for b in range(model.nbody) if model.body(b).name.startswith(ARM_PREFIX.rstrip("/"))}
        self._arm_geoms = {g for g in range(model.ngeom) if model.geom_bodyid[g] in arm}
        self._jaw_bodies = {model.body(ARM_PREFIX + "Fixed_Jaw").id, model.body(ARM_PREFIX + "Moving_Jaw").id}
        self._cube_geom = model.geom(CUBE_BODY).id
        self._start_s = 0.0

    def restart(self, time_s: float) -> None:
        self.outcome = Outcome()
        self._start_s = time_s

    def observe(self, model, data) -> None:
        outcome = self.outcome
        held = False
        for i in range(data.ncon):
            contact = data.contact[i]
            pair = {contact.geom1, contact.geom2}
            if self._cube_geom in pair and any(model.geom_bodyid[g] in self._jaw_bodies for g in pair):
                held = True
            if pair & self._surfaces and pair & (self._arm_geoms | {self._cube_geom}) \
                    and pair != {self._cube_geom, self._table}:
                self._mujoco.mj_contactForce(model, data, i, self._force)
                outcome.peak_contact_force_n = max(outcome.peak_contact_force_n, float(self._force[0]))
        x, y, z = data.qpos[self._cube_adr:self._cube_adr + 3]
        zx, zy = self.layout.zone_xy
        outcome.cube_to_zone_m = float(math.hypot(x - zx, y - zy))
        if z >= LIFTED_HEIGHT_M:
            outcome.lifted = True
        resting_free = z <= RESTING_HEIGHT_M and not held
        in_zone = abs(x - zx) <= ZONE_HALF and abs(y - zy) <= ZONE_HALF
        if resting_free and in_zone and outcome.lifted and not outcome.success:
            outcome.success = True
            outcome.success_time_s = float(data.time) - self._start_s
        if resting_free and not in_zone and outcome.lifted and not outcome.success:
            outcome.dropped_outside = True
