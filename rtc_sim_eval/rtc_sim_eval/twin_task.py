"""The twin's pick-and-place task as an rtc_sim_eval episode (`--task pick_place`, world mujoco).

`PickPlaceScene` names an episode (the layout seed, `so100_driver.twin.task.layout_for_seed`); it is
what the evaluation's scene list holds, so every mode replays the same layouts. `TwinPickPlace` is
the live episode: the twin's arm with the task's objects, commanded as the driver commands it and
stepped in simulated time, its cameras (the policy's is named by its image key), and success from the physics
(the cube resting in the zone, released, after it was lifted: `twin.task.Outcome`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtc_sim_eval.twin_demonstrations import IMAGE_SIZE


@dataclass(frozen=True)
class PickPlaceScene:
    layout_seed: int


class TwinPickPlace:
    def __init__(self, scene: PickPlaceScene, calibration) -> None:
        from so100_driver.twin.arm import ServoArm
        from so100_driver.twin.cameras import TwinCameras
        from so100_driver.twin.task import READY_POSE

        self.scene = scene
        self.arm = ServoArm(calibration, np.array(READY_POSE), seed=scene.layout_seed)
        self.cameras = TwinCameras(self.arm.world.model, IMAGE_SIZE, IMAGE_SIZE)

    def step(self, command: np.ndarray, dt: float) -> np.ndarray:
        return self.arm.step(command, dt)

    def image(self, camera: str) -> np.ndarray:
        """Camera `camera`'s view of the physics state now (H, W, 3) uint8."""
        self.cameras.snapshot(self.arm.world.data)
        return self.cameras.render(camera)

    @property
    def success(self) -> bool:
        return bool(self.outcome.success)

    @property
    def outcome(self):
        """The task's outcome so far (`so100_driver.twin.task.Outcome`: drops, peak contact force, ...)."""
        return self.arm.world.task.outcome

    def close(self) -> None:
        self.cameras.close()
