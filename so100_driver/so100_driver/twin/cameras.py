"""The twin's cameras: offscreen MuJoCo renders of a snapshot of the world's state.

`snapshot(data)` copies what the image shows (joint and object poses, the time) into the cameras' own
MjData, so the world's lock is held only for the copy and rendering runs beside the physics. The
model renders without shadows or multisampling (model.py) from coarser meshes (meshes.py): the cost
is per triangle. Offscreen GL comes from MUJOCO_GL (EGL by default, set in so100_driver.twin).
No rclpy.
"""

from __future__ import annotations

import numpy as np

from so100_driver.twin.model import FRONT_CAMERA, WRIST_CAMERA

CAMERA_NAMES = (FRONT_CAMERA, WRIST_CAMERA)


class TwinCameras:
    def __init__(self, model, width: int, height: int, names: tuple[str, ...] = CAMERA_NAMES) -> None:
        import mujoco

        unknown = [n for n in names if n not in CAMERA_NAMES]
        if unknown:
            raise ValueError(f"unknown twin camera(s) {unknown}; known: {', '.join(CAMERA_NAMES)}")
        self._mujoco = mujoco
        self.model = model
        self.names = tuple(names)
        self.time_s = 0.0
        self._data = mujoco.MjData(model)
        self._renderer = mujoco.Renderer(model, height, width)

    def snapshot(self, data) -> None:
        """Take the state to render from the world's MjData (call under the world's lock)."""
        self._data.qpos[:] = data.qpos
        self._data.mocap_pos[:] = data.mocap_pos
        self._data.mocap_quat[:] = data.mocap_quat
        self.time_s = float(data.time)

    def render(self, name: str) -> np.ndarray:
        """The image (height, width, 3) uint8 camera `name` sees in the last snapshot."""
        self._mujoco.mj_kinematics(self.model, self._data)
        self._mujoco.mj_camlight(self.model, self._data)
        self._renderer.update_scene(self._data, camera=name)
        return self._renderer.render()

    def close(self) -> None:
        self._renderer.close()
