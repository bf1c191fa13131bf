"""Training samples from the MuJoCo twin: the scripted expert's pick-and-place episodes, run in physics.

Each episode is one task layout (`so100_driver.twin.task.layout_for_seed`) and one route drawn by the
expert; its commands drive the twin (`ServoArm`, the driver's servo settings) tick by tick, and every
`frame_stride`-th tick gives a sample: one camera's render of the physics state and the measured joint
state (what the policy node sees), and the next chunk of commands (what the executor sends).
Unlike the kinematic task, the image is not a function of the joints alone (the cube moves), so it is
rendered while the episode runs. Training layouts are `TRAIN_LAYOUT_OFFSET * (seed + 1) + episode`,
so they never coincide with the evaluation seeds 0..TRAIN_LAYOUT_OFFSET - 1. Episodes are independent:
`workers` processes give the same samples as one.

`perturbation` > 0 injects noise DART-style (Laskey et al. 2017, "DART: Noise Injection for Robust
Imitation Learning"): the arm is driven by the expert's commands plus a slowly drifting offset
(`command_offsets`), so it visits the off-nominal states a trained policy's own errors lead to, while
every sample's label stays the expert's plan, which leads back from there. The expert's plan is open
loop and cannot re-grasp: an episode whose perturbed run does not solve the task gives no samples.
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
OFFSET_CORRELATION_S = 0.5  # the perturbation's time constant: a drift the servos follow, not jitter
PERTURBED_JOINTS = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.0])  # the gripper's command stays the expert's (it squeezes)


def training_layout_seed(seed: int, episode: int) -> int:
    return TRAIN_LAYOUT_OFFSET * (seed + 1) + episode


def command_offsets(ticks: int, std_rad: float, rng: np.random.Generator, rate_hz: float) -> np.ndarray:
    """(ticks, 6) radians: an Ornstein-Uhlenbeck drift per arm joint from 0, stationary std `std_rad`."""
    keep = np.exp(-1.0 / (rate_hz * OFFSET_CORRELATION_S))
    kicks = rng.standard_normal((ticks, len(PERTURBED_JOINTS))) * std_rad * np.sqrt(1.0 - keep**2)
    offsets = np.zeros_like(kicks)
    for tick in range(1, ticks):
        offsets[tick] = keep * offsets[tick - 1] + kicks[tick]
    return offsets * PERTURBED_JOINTS


def episode_samples(seed: int, episode: int, chunk_size: int, frame_stride: int, camera: str,
                    perturbation: float = 0.0) -> TrainingSamples:
    """The samples of one expert episode (layout `training_layout_seed(seed, episode)`); the arm driven
    off the expert's plan by `command_offsets` of std `perturbation` (radians), the labels the plan's."""
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
    executed = commands + command_offsets(len(commands), perturbation, np.random.default_rng([seed, episode, 1]),
                                          CONTROL_RATE_HZ)
    measured = arm.measured()
    images, states, chunks = [], [], []
    for tick, command in enumerate(executed):
        if tick % frame_stride == 0:
            cameras.snapshot(arm.world.data)
            images.append(cameras.render(camera).transpose(2, 0, 1).copy())
            states.append(units.to_features(measured).astype(np.float32))
            chunks.append(padded[tick : tick + chunk_size])
        measured = arm.step(command, 1.0 / CONTROL_RATE_HZ)
    cameras.close()
    if perturbation > 0.0 and not arm.world.task.outcome.success:
        return TrainingSamples(*(np.stack(rows)[:0] for rows in (images, states, chunks)))
    return TrainingSamples(np.stack(images), np.stack(states), np.stack(chunks))


def _episodes(job: tuple[int, range, int, int, str, float]) -> TrainingSamples:
    seed, episodes, chunk_size, frame_stride, camera, perturbation = job
    return concatenate([episode_samples(seed, e, chunk_size, frame_stride, camera, perturbation) for e in episodes])


def concatenate(parts: list[TrainingSamples]) -> TrainingSamples:
    return TrainingSamples(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("images", "states", "chunks")))


def twin_training_samples(num_episodes: int, seed: int, chunk_size: int, frame_stride: int = 1,
                          camera: str = CAMERA, workers: int = 1, perturbation: float = 0.0) -> TrainingSamples:
    """Expert episodes on the twin, in episode order; the same seed gives the same samples."""
    bounds = np.linspace(0, num_episodes, workers + 1).astype(int)  # worker w: one contiguous block
    jobs = [(seed, range(bounds[w], bounds[w + 1]), chunk_size, frame_stride, camera, perturbation)
            for w in range(workers)]
    if workers == 1:
        return _episodes(jobs[0])
    with multiprocessing.get_context("spawn").Pool(workers) as pool:  # a fresh GL context per process
        return concatenate(pool.map(_episodes, jobs))
