"""Forward and inverse kinematics on the twin's MJCF chain (the tool-centre site between the jaws).

Inverse kinematics is damped least squares on MuJoCo's site Jacobian, for a gripper pointing straight
down with the jaws closing along a horizontal direction `yaw` (radians from +x): 3 position and 3
orientation errors over the five arm joints (the SO-100's chain makes one of the six redundant for
such poses). Angles in and out are ROS-side radians (model.JOINT_MAP), JOINT_NAMES order; the gripper
joint is carried through unchanged. No rclpy.
"""

from __future__ import annotations

import math

import numpy as np

from so100_driver.arm import JOINT_NAMES
from so100_driver.twin.model import ARM_PREFIX, JOINT_MAP, TCP_SITE

ARM_JOINTS = 5  # shoulder_pan .. wrist_roll: what positions the tool


class UnreachablePose(ValueError):
    """No joint angles put the tool there (within the joints' ranges and the tolerance)."""


def down_frame(yaw: float) -> np.ndarray:
    """Rotation (3x3, columns = the jaw frame's axes in the world) of a gripper pointing down whose
    jaws close along (cos yaw, sin yaw, 0): the jaw frame's x is the closing axis, its -y the tips."""
    x = np.array([math.cos(yaw), math.sin(yaw), 0.0])
    y = np.array([0.0, 0.0, 1.0])
    return np.stack([x, y, np.cross(x, y)], axis=1)


class TwinKinematics:
    def __init__(self, model) -> None:
        import mujoco

        self._mujoco = mujoco
        self.model = model
        self.data = mujoco.MjData(model)
        joints = [model.joint(ARM_PREFIX + JOINT_MAP[j].mjcf_joint) for j in JOINT_NAMES]
        self._qpos = np.array([int(j.qposadr[0]) for j in joints])
        self.dof = np.array([int(j.dofadr[0]) for j in joints])
        self._range = np.array([model.jnt_range[j.id] for j in joints])
        self.sign = np.array([JOINT_MAP[j].sign for j in JOINT_NAMES])
        self._offset = np.array([JOINT_MAP[j].offset for j in JOINT_NAMES])
        self._site = model.site(TCP_SITE).id

    def tool_pose(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(position (3,), rotation (3, 3)) of the tool-centre site for joint angles q (6,)."""
        self.data.qpos[self._qpos] = self.sign * np.asarray(q, dtype=float) + self._offset
        self._mujoco.mj_kinematics(self.model, self.data)
        self._mujoco.mj_comPos(self.model, self.data)
        return self.data.site_xpos[self._site].copy(), self.data.site_xmat[self._site].reshape(3, 3).copy()

    def solve(self, position: np.ndarray, yaw: float, start: np.ndarray, tolerance_m: float = 0.002,
              iterations: int = 200) -> np.ndarray:
        """Joint angles (6,) with the tool at `position`, pointing down, jaws along `yaw`; from `start`."""
        q = np.array(start, dtype=float)
        target = down_frame(yaw)
        jacp, jacr = np.zeros((3, self.model.nv)), np.zeros((3, self.model.nv))
        low = (self._range[:, 0] - self._offset) / self.sign
        high = (self._range[:, 1] - self._offset) / self.sign
        low, high = np.minimum(low, high), np.maximum(low, high)
        for _ in range(iterations):
            pos, rot = self.tool_pose(q)
            position_error = np.asarray(position) - pos
            rotation_error = 0.5 * sum(np.cross(rot[:, k], target[:, k]) for k in range(3))
            if np.linalg.norm(position_error) < tolerance_m and np.linalg.norm(rotation_error) < 0.02:
                return q
            self._mujoco.mj_jacSite(self.model, self.data, jacp, jacr, self._site)
            jacobian = np.vstack([jacp, 0.1 * jacr])[:, self.dof[:ARM_JOINTS]] * self.sign[:ARM_JOINTS]
            error = np.concatenate([position_error, 0.1 * rotation_error])
            step = jacobian.T @ np.linalg.solve(jacobian @ jacobian.T + 1e-5 * np.eye(6), error)
            q[:ARM_JOINTS] = np.clip(q[:ARM_JOINTS] + np.clip(step, -0.2, 0.2), low[:ARM_JOINTS], high[:ARM_JOINTS])
        pos, _ = self.tool_pose(q)
        raise UnreachablePose(f"no pose puts the tool at {np.round(position, 3).tolist()} pointing down "
                              f"(closest {np.round(pos, 3).tolist()})")
