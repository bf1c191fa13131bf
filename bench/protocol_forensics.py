"""Where does one protocol mode lose to another? The twin's pick-and-place, episode by episode.

    python bench/protocol_forensics.py --modes identity,lerobot_main --horizons 50 --delays 0 --seed 1000 \
        --episodes 20 --checkpoint rtc_policy_node/checkpoints/builtin_so100_twin [--only 5,11] [--unguided]

Runs the cells of `rtc_sim_eval`'s protocol (`--world mujoco --task pick_place --carry-estimate`,
every other argument as rtc_sim_eval takes it: the same seeded episodes, so the same figures),
layout by layout in every mode, and prints one row per episode and mode: placed or not and where
the cube came to rest (cm from the zone's centre), when it was lifted, when the jaws opened wider than
on the cube (measured) and where the tool was then, the last seam before that, the episode's largest
measured seam jerk with the seam it came from (time and phase: approach, carry, place) and the jerk
at its first seam (the switch from the chunk sampled at rest). Then each mode's summary
(rtc_sim_eval's figures, to check them against its JSON) and the layouts the first mode places and
another does not, and the other way round.

--only: just these episode indices; a fixed delay's carried estimate is the same after any
episode's first chunks, so the cell's first episode is run for WARMUP_TICKS ticks first to carry it
(rtc_sim_eval.protocol.Carried). --unguided (our modes and LeRobot's): every chunk is also sampled
without guidance from the same observation and noise (collision_forensics.RecordingPolicy), and for
the chunk in force when the jaws opened, the row and the tool's place at which the guided chunk
opens them are printed beside its unguided sample's: how far guidance toward the leftover moved the release.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from rtc_contract import seams as core_seams
from rtc_policy_node.builtin_policy import default_checkpoint_path
from so100_driver.twin.kinematics import TwinKinematics
from so100_driver.twin.model import CUBE_BODY
from so100_driver.twin.task import LIFTED_HEIGHT_M, layout_for_seed

from rtc_sim_eval import cli, rollout
from rtc_sim_eval.metrics import measured_seam_jerk, summarise
from rtc_sim_eval.protocol import Carried, SlicedPolicy, settings_for_horizon
from rtc_sim_eval.rollout import CONTROL_RATE_HZ, EpisodeRecord, LoopSettings
from rtc_sim_eval.sim_policy import SimPolicy
from rtc_sim_eval.twin_task import PickPlaceScene, TwinPickPlace

sys.path.insert(0, str(Path(__file__).resolve().parent))
from collision_forensics import Inference, RecordingPolicy  # noqa: E402

GRIPPER = 5
OPENING_RAD = 0.02  # the jaws this far wider than on the cube (13 servo ticks): they let it go
PLACE_TICKS = 15  # seams this soon after the opening belong to the placement
WARMUP_TICKS = 150  # several merged chunks at every H and delay of the protocol: the estimate has its samples


class RecordingPickPlace(TwinPickPlace):
    """The twin's task that also keeps, per tick, the cube's centre and the tool centre (world frame, m)."""

    made: list[RecordingPickPlace] = []

    def __init__(self, scene: PickPlaceScene, calibration) -> None:
        super().__init__(scene, calibration)
        model = self.arm.world.model
        self._cube = int(model.joint(CUBE_BODY).qposadr[0])
        self.kinematics = TwinKinematics(model)
        self.cube: list[np.ndarray] = []
        self.tool: list[np.ndarray] = []
        RecordingPickPlace.made.append(self)

    def step(self, command: np.ndarray, dt: float) -> np.ndarray:
        measured = super().step(command, dt)
        self.cube.append(self.arm.world.data.qpos[self._cube:self._cube + 3].copy())
        self.tool.append(self.kinematics.tool_pose(measured)[0])
        return measured


@contextlib.contextmanager
def recording_twin():
    """Episodes started inside run on RecordingPickPlace (both pipelines start theirs through
    rollout.start_episode); RecordingPickPlace.made lists them."""
    original, rollout.TwinPickPlace = rollout.TwinPickPlace, RecordingPickPlace
    try:
        yield
    finally:
        rollout.TwinPickPlace = original


@dataclass
class EpisodeFacts:
    """What one episode did, from its record and the recorded twin (ticks are control ticks)."""

    layout: int
    mode: str
    success: bool
    lifted: bool
    dropped: bool
    rest_cm: float  # the cube's centre from the zone's centre at the end
    lift_tick: int | None
    open_tick: int | None
    tool_at_open_cm: float | None  # the tool centre from the zone's centre (horizontal) when the gripper opened
    on_cube: float | None  # the measured gripper (radians) when the cube was lifted: the jaws on it
    seam_before_open: int | None  # ticks from the last seam before the opening to it
    seam_jerk_max: float  # rad/s^3, the episode's largest measured seam jerk
    worst_seam_tick: int | None
    worst_seam_phase: str
    first_seam_jerk: float  # rad/s^3 at the first seam: the switch from the chunk sampled at rest
    seams: list[int]  # ticks at which a new chunk's first row was served

    def result(self) -> str:
        if self.success:
            return "placed"
        if self.dropped:
            return "dropped"
        return "lifted, held" if self.lifted else "never lifted"


def seam_ticks(record: EpisodeRecord) -> list[int]:
    """Ticks serving a new chunk's first row (metrics.measured_seam_jerk's seams)."""
    ids = np.asarray(record.chunk_ids)
    executed = np.flatnonzero(ids >= 0)
    return [int(t) for t in executed[1:][np.diff(ids[executed]) != 0]]


def opening_tick(gripper: np.ndarray, on_cube: float, start: int = 0) -> int | None:
    """First index from `start` at which the gripper (radians: measured, or commanded) is OPENING_RAD
    wider than the jaws on the cube (`on_cube`, the measured gripper when it was lifted); None if never."""
    opened = np.flatnonzero(np.asarray(gripper)[start:] > on_cube + OPENING_RAD)
    return int(start + opened[0]) if len(opened) else None


def phase(tick: int, lift_tick: int | None, open_tick: int | None) -> str:
    if lift_tick is None or tick < lift_tick:
        return "approach"
    if open_tick is None or tick < open_tick:
        return "carry"
    return "place" if tick < open_tick + PLACE_TICKS else "after"


def per_seam_jerk(record: EpisodeRecord, seams: list[int]) -> np.ndarray:
    """The largest measured jerk (rad/s^3) in each seam's window, as metrics.measured_seam_jerk times them."""
    positions = np.asarray(record.positions)
    motion = core_seams.measured_motion(np.arange(len(positions)) / CONTROL_RATE_HZ, positions)
    jerk = np.abs(motion.jerk).max(axis=1) if motion.jerk.size else np.zeros(len(motion.times))
    peaks = []
    for tick in seams:
        near = core_seams.near_seams(motion.times, np.array([(tick + 1) / CONTROL_RATE_HZ]))
        peaks.append(float(jerk[near].max()) if near.any() else math.nan)
    return np.array(peaks)


def episode_facts(record: EpisodeRecord, task: RecordingPickPlace) -> EpisodeFacts:
    layout = layout_for_seed(record.scene.layout_seed)
    zone = np.asarray(layout.zone_xy)
    cube, tool = np.asarray(task.cube)[1:], np.asarray(task.tool)[1:]  # row k: after tick k (row 0 was the start)
    lifted_at = np.flatnonzero(cube[:, 2] >= LIFTED_HEIGHT_M)
    lift_tick = int(lifted_at[0]) if len(lifted_at) else None
    positions = np.asarray(record.positions)[1:]  # row k: where the arm got at tick k
    on_cube = None if lift_tick is None else float(positions[lift_tick, GRIPPER])
    open_tick = None if on_cube is None else opening_tick(positions[:, GRIPPER], on_cube, lift_tick)
    seams = seam_ticks(record)
    before = [t for t in seams if open_tick is not None and t <= open_tick]
    jerks = per_seam_jerk(record, seams)
    worst = int(np.nanargmax(jerks)) if np.isfinite(jerks).any() else None
    worst_tick = seams[worst] if worst is not None else None
    outcome = record.outcome
    return EpisodeFacts(
        layout=record.scene.layout_seed, mode=record.mode, success=record.success, lifted=outcome.lifted,
        dropped=outcome.dropped_outside, rest_cm=float(np.linalg.norm(cube[-1, :2] - zone) * 100),
        lift_tick=lift_tick, open_tick=open_tick,
        tool_at_open_cm=None if open_tick is None else float(np.linalg.norm(tool[open_tick, :2] - zone) * 100),
        on_cube=on_cube, seam_before_open=open_tick - before[-1] if before else None,
        seam_jerk_max=measured_seam_jerk(record).seam_max, worst_seam_tick=worst_tick,
        worst_seam_phase="-" if worst_tick is None else phase(worst_tick, lift_tick, open_tick),
        first_seam_jerk=float(jerks[0]) if len(jerks) else math.nan, seams=seams)


def release_shift(record: EpisodeRecord, facts: EpisodeFacts, inferences: list[Inference],
                  kinematics: TwinKinematics) -> str:
    """The chunk in force at the opening: the row and the tool's distance to the zone's centre at
    which it opens, guided and as its unguided sample (same observation, same noise)."""
    if facts.open_tick is None:
        return "no opening"
    zone = np.asarray(layout_for_seed(facts.layout).zone_xy)
    served = record.chunk_ids[facts.open_tick]
    chunk = next((c for c in record.merged if c.chunk_id == served), None)
    if chunk is None or not 0 < served <= len(inferences):
        return "no chunk in force"
    inference = inferences[served - 1]

    def opens(actions: np.ndarray) -> str:
        row = opening_tick(actions[:, GRIPPER], facts.on_cube)
        if row is None:
            return "does not open"
        tool = kinematics.tool_pose(actions[row])[0]
        return f"opens at row {row}, tool {np.linalg.norm(tool[:2] - zone) * 100:.1f} cm from the zone's centre"

    leftover = "no leftover" if inference.leftover is None else f"leftover {len(inference.leftover)} rows"
    return (f"chunk {served} (inferred at tick {chunk.source_step}, merged at {chunk.arrival_step}, assumed delay "
            f"{inference.delay}, {leftover}): guided {opens(inference.guided)}; unguided {opens(inference.unguided)}")


def row(facts: EpisodeFacts) -> str:
    def seconds(tick: int | None) -> str:
        return "-" if tick is None else f"{tick / CONTROL_RATE_HZ:.1f}"

    at_open = "-" if facts.tool_at_open_cm is None else f"{facts.tool_at_open_cm:.1f}"
    before = "-" if facts.seam_before_open is None else str(facts.seam_before_open)
    worst = "-" if facts.worst_seam_tick is None else f"{seconds(facts.worst_seam_tick)} {facts.worst_seam_phase}"
    return (f"| {facts.layout} | {facts.mode} | {facts.result()} | {facts.rest_cm:.1f} | {seconds(facts.lift_tick)} | "
            f"{seconds(facts.open_tick)} | {at_open} | {before} | "
            f"{facts.seam_jerk_max:.0f} | {worst} | {facts.first_seam_jerk:.0f} |")


HEADER = ("| layout | mode | result | cube rest (cm from zone centre) | lift (s) | jaws open (s) | tool then (cm "
          "from zone centre) | last seam before the opening (ticks) | largest seam jerk (rad/s³) | its seam (s, "
          "phase) | first seam's jerk (rad/s³) |\n|---|---|---|---|---|---|---|---|---|---|---|")


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="comma-separated episode indices to run")
    parser.add_argument("--unguided", action="store_true", help="also sample every chunk unguided (twice the cost)")
    own, rest = parser.parse_known_args(argv)
    args = cli.parse_args(["--world", "mujoco", "--task", "pick_place", "--carry-estimate", *rest])
    try:
        own.only = sorted({int(e) for e in own.only.split(",")}) if own.only else list(range(args.episodes))
    except ValueError:
        parser.error(f"--only {own.only!r}: expected episode indices, e.g. 5,11")
    if not own.only or own.only[0] < 0:
        parser.error("--only: episode indices are >= 0")
    return own, args


def run_cell(policy: SimPolicy, recorder: RecordingPolicy, modes: list[str], profile, settings: LoopSettings,
             args: argparse.Namespace, episodes: list[int], unguided: bool) -> dict[str, dict[int, EpisodeFacts]]:
    """One (H, delay) cell's episodes in every mode, layout by layout (each mode carrying its own delay
    estimate), one table row each as it ends; then each mode's summary. `policy` samples through
    `recorder` (sliced to H or not), which keeps an episode's inferences."""
    carried = {mode: Carried() for mode in modes}
    records: dict[str, list[EpisodeRecord]] = {mode: [] for mode in modes}
    facts: dict[str, dict[int, EpisodeFacts]] = {mode: {} for mode in modes}
    for mode in modes:
        if episodes[0] != 0:  # carry the estimate the cell's first episode leaves
            cli.run_variant(policy, PickPlaceScene(args.seed), mode, profile,
                            dataclasses.replace(settings, max_ticks=WARMUP_TICKS), args.seed, 0, carried[mode])
    for episode in episodes:
        for mode in modes:
            recorder.inferences = []
            with recording_twin():
                record = cli.run_variant(policy, PickPlaceScene(args.seed + episode), mode, profile, settings,
                                         args.seed, episode, carried[mode])
            task = RecordingPickPlace.made.pop()
            records[mode].append(record)
            facts[mode][episode] = episode_facts(record, task)
            print(row(facts[mode][episode]), flush=True)
            if unguided:
                print(f"  release: {release_shift(record, facts[mode][episode], recorder.inferences, task.kinematics)}",
                      flush=True)
    for mode in modes:
        summary = summarise(records[mode])
        inner = summary["measured_inner_jerk_p99_rad_s3"] or math.nan
        print(f"{mode}: success {summary['success_rate']}, drops {summary['drop_rate']}, measured seam jerk ratio "
              f"{summary['measured_seam_jerk_ratio']} (within-chunk p99 {inner} rad/s³); per layout against it: "
              + ", ".join(f"{f.layout} {f.seam_jerk_max / inner:.2f}" for f in facts[mode].values()), flush=True)
    return facts


def main(argv: list[str] | None = None) -> None:
    own, args = parse_args(argv)
    torch.set_num_threads(args.threads)
    policy = RecordingPolicy(args.checkpoint or default_checkpoint_path())
    policy.inferences = []
    if not own.unguided:  # sample only what the mode samples
        policy.infer = functools.partial(SimPolicy.infer, policy)
    settings = cli.loop_settings(args)
    episodes = own.only
    for horizon in args.horizons or [None]:
        sliced = policy if horizon is None else SlicedPolicy(policy, horizon)
        cell = settings_for_horizon(settings, horizon, policy.chunk_size)
        for profile in args.profiles:
            print(f"\nH = {horizon or policy.chunk_size}, {profile.spec}\n{HEADER}", flush=True)
            facts = run_cell(sliced, policy, args.modes, profile, cell, args, episodes, own.unguided)
            first, *others = args.modes
            for other in others:
                a, b = facts[first], facts[other]
                differ = [e for e in episodes if a[e].success != b[e].success]
                print(f"H = {horizon or policy.chunk_size}, {profile.spec}: {first} places "
                      f"{[a[e].layout for e in differ if a[e].success]}, {other} places "
                      f"{[b[e].layout for e in differ if b[e].success]} where the other does not", flush=True)


if __name__ == "__main__":
    main()
