"""Training samples from the MuJoCo twin: the scripted expert's pick-and-place episodes, run in physics.

Each episode is one task layout (`so100_driver.twin.task.layout_for_seed`) and one route drawn by the
expert; its commands drive the twin (`ServoArm`, the driver's servo settings) tick by tick, and every
`frame_stride`-th tick gives a sample: one camera's render of the physics state and the measured joint
state (what the policy node sees), and the next chunk of commands (what the executor sends).
Unlike the kinematic task, the image is not a function of the joints alone (the cube moves), so it is
rendered while the episode runs. Training layouts are `TRAIN_LAYOUT_OFFSET * (seed + 1) + episode`,
so they never coincide with the evaluation seeds 0..TRAIN_LAYOUT_OFFSET - 1. Episodes are independent:
`workers` processes give the same samples as one.
"""

from __future__ import annotations

import multiprocessing

import numpy as np
from rtc_policy_node.joint_units import CalibratedUnits
from so100_driver.arm import JOINT_NAMES, default_calibration_path, load_calibration

from rtc_sim_eval.demonstrations import TrainingSamples

TRAIN_LAYOUT_OFFSET = 100_000
CAMERA = "wrist"  # the policy's camera by default (observation.images.wrist): the cube is large in it
IMAGE_SIZE = 96
SETTLE_TICKS = 15  # after the expert's last command the arm holds it: the policy learns to stay


def training_layout_seed(seed: int, episode: int) -> int:
    return TRAIN_LAYOUT_OFFSET * (seed + 1) + episode


def episode_samples(seed: int, episode: int, chunk_size: int, frame_stride: int, camera: str) -> TrainingSamples:
    """The samples of one expert episode (layout `training_layout_seed(seed, episode)`)."""
    from so100_driver.twin.arm import ServoArm
    from so100_driver.twin.cameras import TwinCameras
    from so100_driver.twin.expert import CONTROL_RATE_HZ, Expert
    from so100_driver.twin.kinematics import TwinKinematics
    from so100_driver.twin.task import READY_POSE

    calibration = load_calibration(default_calibration_path())
    units = CalibratedUnits(calibration, JOINT_NAMES)
    arm = ServoArm(calibration, np.array(READY_POSE), seed=training_layout_seed(seed, episode))
    cameras = TwinCameras(arm.world.model, IMAGE_SIZE, IMAGE_SIZE, (camera,))
    expert = Expert(TwinKinematics(arm.world.model))
    commands = expert.demonstrate(arm.world.layout, np.random.default_rng([seed, episode])).commands
    commands = np.concatenate([commands, np.repeat(commands[-1:], SETTLE_TICKS, axis=0)])
    actions = units.to_features(commands).astype(np.float32)
    padded = np.concatenate([actions, np.repeat(actions[-1:], chunk_size, axis=0)])
    measured = arm.measured()
    images, states, chunks = [], [], []
    for tick, command in enumerate(commands):
        if tick % frame_stride == 0:
            cameras.snapshot(arm.world.data)
            images.append(cameras.render(camera).transpose(2, 0, 1).copy())
            states.append(units.to_features(measured).astype(np.float32))
            chunks.append(padded[tick : tick + chunk_size])
        measured = arm.step(command, 1.0 / CONTROL_RATE_HZ)
    cameras.close()
    return TrainingSamples(np.stack(images), np.stack(states), np.stack(chunks))


def _episodes(job: tuple[int, range, int, int, str]) -> TrainingSamples:
    seed, episodes, chunk_size, frame_stride, camera = job
    return concatenate([episode_samples(seed, e, chunk_size, frame_stride, camera) for e in episodes])


def concatenate(parts: list[TrainingSamples]) -> TrainingSamples:
    return TrainingSamples(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("images", "states", "chunks")))


def twin_training_samples(num_episodes: int, seed: int, chunk_size: int, frame_stride: int = 1,
                          camera: str = CAMERA, workers: int = 1) -> TrainingSamples:
    """Expert episodes on the twin, in episode order; the same seed gives the same samples."""
    bounds = np.linspace(0, num_episodes, workers + 1).astype(int)  # worker w: one contiguous block
    jobs = [(seed, range(bounds[w], bounds[w + 1]), chunk_size, frame_stride, camera) for w in range(workers)]
    if workers == 1:
        return _episodes(jobs[0])
    with multiprocessing.get_context("spawn").Pool(workers) as pool:  # a fresh GL context per process
        return concatenate(pool.map(_episodes, jobs))
