"""Demonstrations of the simulated task, stored as a small .npz of scenes and joint trajectories.

Format (one file, numpy .npz, documented in docs/builtin_policy.md):
  joint_positions (N, T, 6) float64, radians, JOINT_NAMES order: row t is the state at tick t and
                  the action at tick t is row t + 1 (the position commanded for the next tick);
  start_tip, obstacle_center, target (N, 2) and obstacle_radius, target_tolerance (N,): the scenes;
  side (N,) int: +1 went around the obstacle on the left, -1 on the right;
  seed () int: what generated it.
Camera images are not stored: they are a pure function of (joint state, scene) through
so100_driver.sim.render, so they are re-rendered when training samples are built.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rtc_policy_node.joint_units import CalibratedUnits
from so100_driver.arm import JOINT_NAMES, default_calibration_path, load_calibration
from so100_driver.sim import Scene, demonstrate, render, sample_scene

EPISODE_TICKS = 150


@dataclass(frozen=True)
class Demonstrations:
    joint_positions: np.ndarray
    scenes: list[Scene]
    sides: np.ndarray
    seed: int

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            joint_positions=self.joint_positions,
            start_tip=np.array([s.start_tip for s in self.scenes]),
            obstacle_center=np.array([s.obstacle_center for s in self.scenes]),
            obstacle_radius=np.array([s.obstacle_radius for s in self.scenes]),
            target=np.array([s.target for s in self.scenes]),
            target_tolerance=np.array([s.target_tolerance for s in self.scenes]),
            side=self.sides,
            seed=np.array(self.seed),
        )

    @classmethod
    def load(cls, path: Path) -> Demonstrations:
        with np.load(path) as data:
            scenes = [
                Scene(tuple(a), tuple(b), float(r), tuple(t), float(tol))
                for a, b, r, t, tol in zip(
                    data["start_tip"], data["obstacle_center"], data["obstacle_radius"], data["target"],
                    data["target_tolerance"],
                )
            ]
            return cls(data["joint_positions"], scenes, data["side"], int(data["seed"]))


def generate(num_episodes: int, seed: int, ticks: int = EPISODE_TICKS) -> Demonstrations:
    """Scripted-expert episodes; the same seed gives the same demonstrations."""
    rng = np.random.default_rng(seed)
    scenes, trajectories, sides = [], [], []
    for _ in range(num_episodes):
        scene = sample_scene(rng)
        demo = demonstrate(scene, rng, ticks)
        scenes.append(scene)
        trajectories.append(demo.joint_positions)
        sides.append(demo.side)
    return Demonstrations(np.stack(trajectories), scenes, np.array(sides), seed)


@dataclass(frozen=True)
class TrainingSamples:
    """Arrays ready for training, in LeRobot feature units (images uint8 (N, 3, H, W))."""

    images: np.ndarray
    states: np.ndarray
    chunks: np.ndarray  # (N, chunk_size, 6); past the episode end the last action repeats (the arm holds)

    def stats(self) -> dict[str, dict[str, np.ndarray]]:
        """LeRobot-style dataset statistics for the normaliser."""
        actions = self.chunks[:, 0]
        return {
            "observation.state": {"mean": self.states.mean(0), "std": self.states.std(0)},
            "action": {"mean": actions.mean(0), "std": actions.std(0)},
        }


def training_samples(demos: Demonstrations, chunk_size: int, frame_stride: int = 1) -> TrainingSamples:
    """One sample per `frame_stride` ticks of every episode: (image, state, next chunk_size actions)."""
    # LeRobot feature units of the simulated arm's calibration, as a recorded LeRobot dataset has them
    features = CalibratedUnits(load_calibration(default_calibration_path()), JOINT_NAMES).to_features(demos.joint_positions)
    episodes, ticks, _ = features.shape
    padded = np.concatenate([features, np.repeat(features[:, -1:], chunk_size, axis=1)], axis=1)
    images, states, chunks = [], [], []
    for episode in range(episodes):
        for tick in range(0, ticks - 1, frame_stride):
            images.append(render(demos.joint_positions[episode, tick], demos.scenes[episode]).transpose(2, 0, 1))
            states.append(features[episode, tick])
            chunks.append(padded[episode, tick + 1 : tick + 1 + chunk_size])
    return TrainingSamples(np.stack(images), np.stack(states).astype(np.float32), np.stack(chunks).astype(np.float32))
