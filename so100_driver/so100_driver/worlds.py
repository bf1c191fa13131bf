"""The worlds a bus emulator's servos can move: their names and the one-line reason one is unavailable.

`make_world` imports MuJoCo only for the twin, so the kinematic world (and a bad name's error) never
pays for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from so100_driver.arm import Calibration
    from so100_driver.emulator import World

WORLD_NAMES = ("kinematic", "mujoco")


class WorldUnavailable(ValueError):
    """A world that does not exist or cannot run here; the message is one line for the user."""


def check_world_name(name: str) -> str:
    if name not in WORLD_NAMES:
        raise WorldUnavailable(f"unknown world {name!r}; known: {', '.join(WORLD_NAMES)}")
    return name


def make_world(name: str, calibration: Calibration | None = None, seed: int = 0, with_task: bool = True) -> World:
    """A fresh world of this name. `calibration`: how the twin's encoders read (default: the simulated
    arm's shipped calibration); `seed`: the twin's task layout; `with_task` False: the twin's arm alone
    (no table, no objects)."""
    check_world_name(name)
    if name == "kinematic":
        from so100_driver.emulator import KinematicWorld

        return KinematicWorld()
    from so100_driver.twin.model import require_twin

    require_twin()
    from so100_driver.twin.world import MujocoWorld

    return MujocoWorld(calibration, seed=seed, with_task=with_task)
