"""Replay a recorded run's inferences offline: `rtc_replay BAG [--modes ...] [--delays ...]`.

No ROS graph: the bag is read with rosbags and the policy is LeRobot's, loaded as the policy node
loads it, from the checkpoint `checkpoint_to_replay` picks: never a hub id the bag names (a bag is
data, not an instruction to download and run a model). Every recorded inference (an ActionChunk) is
sampled again from what the policy node had at that moment, all of it in the bag: the image whose
stamp is the chunk's stamp, the /joint_states message of `state_stamp`, the leftover
(`execution_horizon` rows from `prev_chunk_row` of chunk `prev_chunk_id`, as the policy's own
output) and the delay it assumed, with the noise `chunk_noise(noise_seed, chunk_id)`.

First the recorded mode is replayed, chunk after chunk, which rebuilds each chunk's model output
(the leftovers of the next ones) and checks the replay is faithful: with the recorded policy, mode
and seed the replayed chunk is the recorded one. Then each inference is sampled under every
requested guidance mode and delay, from the same observation, leftover and noise, and compared:
  seam      jump at the recorded merge: first row executed from the chunk (row d_real) against the
            action executed the tick before, rad (max over joints)
  executed  RMS distance to the actions actually executed while the recorded chunk ran, rad
  recorded  max |chunk - recorded chunk| over rows and joints, rad
`--plot-denoising N` draws the denoising of chunk N (x_t at every step, per joint) with and
without guidance, the leftover and the prefix weights marked. JSON and PNG; same seed, same output.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from rtc_contract.image_decoding import message_to_rgb
from rtc_contract.modes import GuidanceMode
from rtc_contract.topics import (ACTION_CHUNK_TOPIC, DIAGNOSTICS_TOPIC, EXECUTOR_STATUS_TOPIC, JOINT_STATES_TOPIC,
                                 in_root, root_types)
from rtc_tools.bag_reader import BagError, decoded, open_bag, require_topics
from rtc_tools.report import served_rows_and_merges
from rtc_tools.run_metrics import ExecutedTrajectory, executed_trajectory

CHUNK_TOPIC = in_root(ACTION_CHUNK_TOPIC)
STATUS_TOPIC = in_root(EXECUTOR_STATUS_TOPIC)
STATES_TOPIC = in_root(JOINT_STATES_TOPIC)
MODES = tuple(mode.value for mode in GuidanceMode)
POLICY_DIAGNOSTIC = ": inference"  # the policy node's status is "<node name>: inference"
TYPES = root_types(ACTION_CHUNK_TOPIC, EXECUTOR_STATUS_TOPIC, DIAGNOSTICS_TOPIC, JOINT_STATES_TOPIC)


def _ns(stamp) -> int:
    return stamp.sec * 10**9 + stamp.nanosec


@dataclass
class RecordedInference:
    chunk_id: int
    source_step: int
    delay: int                 # ticks the policy node assumed
    d_real: int | None         # ticks the executor skipped on merge (None: never merged in the bag)
    mode: str
    horizon: int
    prev_chunk_id: int
    prev_chunk_row: int
    noise_seed: int
    joint_names: list[str]
    actions: np.ndarray        # (length, dim) radians, as published
    image_stamp_ns: int
    state_stamp_ns: int
    started_ns: int            # inference_start, policy host clock


@dataclass
class Observation:
    state: np.ndarray                 # radians, by the chunk's joint names
    images: dict[str, np.ndarray]     # image key -> HxWx3 uint8
    exact: bool                       # the messages named by the chunk's stamps were found


@dataclass
class Recording:
    inferences: list[RecordedInference]
    executed: ExecutedTrajectory
    policy_path: str | None
    bag: Path
    cameras: dict[str, str]           # image key -> topic found in the bag

    def observation(self, inference: RecordedInference, states: Indexed, images: dict[str, Indexed]) -> Observation:
        """The observation of `inference` from indexed /joint_states and camera messages."""
        exact = inference.state_stamp_ns in states.by_stamp
        state = states.by_stamp.get(inference.state_stamp_ns) or states.latest_before(inference.started_ns)
        if state is None:
            raise BagError(f"no /joint_states message before chunk {inference.chunk_id}")
        from rtc_contract.joint_vector import joint_vector

        radians = joint_vector(state.name, state.position, inference.joint_names)
        arrays = {}
        for key, topic in self.cameras.items():
            msg = images[topic].by_stamp.get(inference.image_stamp_ns)
            exact = exact and msg is not None
            msg = msg or images[topic].latest_before(inference.started_ns)
            if msg is None:
                raise BagError(f"no image on {topic} before chunk {inference.chunk_id}")
            arrays[key] = message_to_rgb(msg)  # writable, as torch wants it
        return Observation(radians, arrays, exact)


class Indexed:
    """The messages of one topic that inferences used: by header stamp (the stamps the chunks name),
    and for each inference time the newest one received by then (the fallback when a stamp is not
    found). Only those are kept, so a long bag of large images fits in memory."""

    def __init__(self, stamps: set[int], times_ns: list[int]) -> None:
        self.by_stamp: dict[int, object] = {}
        self._stamps = stamps
        self._times = sorted(times_ns)
        self._fallback: dict[int, object] = {}  # inference time -> newest message received by then
        self._next = 0                          # index of the first inference time not yet passed
        self._last = None

    def add(self, received_ns: int, msg) -> None:
        """Messages in receive order."""
        while self._next < len(self._times) and received_ns > self._times[self._next]:
            self._fallback[self._times[self._next]] = self._last
            self._next += 1
        stamp = _ns(msg.header.stamp)
        if stamp in self._stamps:
            self.by_stamp[stamp] = msg
        self._last = msg

    def latest_before(self, t_ns: int):
        return self._fallback[t_ns] if t_ns in self._fallback else self._last


def read_recording(bag: Path, cameras: dict[str, str]) -> tuple[Recording, Indexed, dict[str, Indexed]]:
    """Chunks, executed actions and the policy path, then the joint states and images they name.
    `cameras`: image key -> raw topic; the bag may hold it raw or as `<topic>/compressed`."""
    with open_bag(bag) as (reader, store):
        require_topics(reader, [CHUNK_TOPIC, STATUS_TOPIC, STATES_TOPIC], "a replay")
        found = {}
        available = {c.topic: c.msgtype for c in reader.connections if c.msgcount}
        for key, topic in cameras.items():
            compressed = topic if topic.endswith("/compressed") else f"{topic}/compressed"
            choice = next((t for t in (topic, compressed) if t in available), None)
            if choice is None:
                raise BagError(f"the bag has no images on {topic} (nor {compressed}) for {key}; "
                               f"give the camera topics with --cameras name=topic")
            found[key] = choice
        chunks, status_msgs, policy_path = {}, [], None
        first_pass = {t: TYPES[t] for t in (CHUNK_TOPIC, STATUS_TOPIC, DIAGNOSTICS_TOPIC)}
        for topic, t_ns, msg in decoded(reader, store, first_pass):
            if topic == CHUNK_TOPIC:
                chunks[msg.chunk_id] = msg
            elif topic == STATUS_TOPIC:
                status_msgs.append((t_ns / 1e9, msg))
            else:
                for status in msg.status:
                    if status.name.endswith(POLICY_DIAGNOSTIC):
                        policy_path = next((kv.value for kv in status.values if kv.key == "policy"), policy_path)
        statuses, merge_list = served_rows_and_merges(status_msgs)
        merges = {chunk_id: d_real for _, _, d_real, chunk_id in merge_list}
        inferences = [_inference(chunks[i], merges.get(i)) for i in sorted(chunks)]
        names = {tuple(i.joint_names) for i in inferences}
        if len(names) > 1:
            raise BagError(f"the chunks in the bag name different joints: {sorted(names)}")
        times = [i.started_ns for i in inferences]
        states = Indexed({i.state_stamp_ns for i in inferences}, times)
        images = {topic: Indexed({i.image_stamp_ns for i in inferences}, times) for topic in found.values()}
        wanted = {STATES_TOPIC: TYPES[STATES_TOPIC], **{t: available[t] for t in found.values()}}
        for topic, t_ns, msg in decoded(reader, store, wanted):
            (states if topic == STATES_TOPIC else images[topic]).add(t_ns, msg)
    chunk_rows = {i.chunk_id: i.actions for i in inferences}
    executed = executed_trajectory(statuses, chunk_rows, 0.0)
    return Recording(inferences, executed, policy_path, bag, found), states, images


def _inference(msg, d_real: int | None) -> RecordedInference:
    actions = np.asarray(msg.actions, dtype=np.float64)
    if actions.size != msg.length * msg.action_dim or msg.action_dim != len(msg.joint_names):
        raise BagError(f"chunk {msg.chunk_id} has {actions.size} actions for {msg.length} x {msg.action_dim} "
                       f"and {len(msg.joint_names)} joint names")
    replayable = hasattr(msg, "noise_seed")
    return RecordedInference(
        chunk_id=msg.chunk_id, source_step=msg.source_step, delay=msg.inference_delay,
        d_real=d_real if d_real is not None and d_real >= 0 else None, mode=msg.guidance_mode,
        horizon=msg.execution_horizon, prev_chunk_id=msg.prev_chunk_id,
        prev_chunk_row=msg.prev_chunk_row if replayable else 0,
        noise_seed=msg.noise_seed if replayable else -1, joint_names=list(msg.joint_names),
        actions=actions.reshape(msg.length, msg.action_dim), image_stamp_ns=_ns(msg.header.stamp),
        state_stamp_ns=_ns(msg.state_stamp) if replayable else 0, started_ns=_ns(msg.inference_start))


# ----- comparing a sampled chunk with what happened -------------------------------------------------
def seam_rad(chunk: np.ndarray, inference: RecordedInference, executed: ExecutedTrajectory) -> float | None:
    """Jump between the action executed the tick before the merge and row d_real of `chunk`."""
    if inference.d_real is None or inference.d_real >= len(chunk):
        return None
    before = np.flatnonzero(executed.steps == inference.source_step + inference.d_real - 1)
    if not len(before):
        return None
    return float(np.max(np.abs(chunk[inference.d_real] - executed.actions[before[0]])))


def executed_rms_rad(chunk: np.ndarray, inference: RecordedInference, executed: ExecutedTrajectory) -> float | None:
    """RMS distance to the actions executed while the recorded chunk ran (same ticks)."""
    served = executed.chunk_ids == inference.chunk_id
    rows = executed.steps[served] - inference.source_step
    inside = (rows >= 0) & (rows < len(chunk))
    if not inside.any():
        return None
    return float(np.sqrt(np.mean((chunk[rows[inside]] - executed.actions[served][inside]) ** 2)))


@dataclass
class Sampled:
    chunk_id: int
    mode: str
    delay: int
    seam_rad: float | None
    executed_rms_rad: float | None
    recorded_max_rad: float


@dataclass
class TableRow:
    mode: str
    delay: str                 # "recorded" or ticks
    inferences: int
    seam_mean_rad: float
    seam_max_rad: float
    executed_rms_mean_rad: float
    recorded_max_rad: float

    @classmethod
    def of(cls, mode: str, delay: str, rows: list[Sampled]) -> TableRow:
        seams = [r.seam_rad for r in rows if r.seam_rad is not None]
        distances = [r.executed_rms_rad for r in rows if r.executed_rms_rad is not None]
        return cls(mode, delay, len(rows), _mean(seams), max(seams, default=float("nan")), _mean(distances),
                   max((r.recorded_max_rad for r in rows), default=float("nan")))


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


@dataclass
class ReplayResult:
    bag: str
    policy_path: str
    settings: dict
    inferences: int
    faithful_inferences: int            # recorded seed and exact observation: expected to reproduce
    faithful_max_abs_rad: float         # over those, max |replayed - recorded|
    skipped: list[str] = field(default_factory=list)
    table: list[TableRow] = field(default_factory=list)
    samples: list[Sampled] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"bag                 {self.bag}", f"policy              {self.policy_path}",
               f"inferences          {self.inferences} replayed, {len(self.skipped)} skipped",
               f"faithful            max |replayed - recorded| {self.faithful_max_abs_rad:.2e} rad over "
               f"{self.faithful_inferences} inferences (recorded mode, delay and noise seed)"]
        out += [f"skipped             {s}" for s in self.skipped[:5]]
        out.append(f"{'mode':<10}{'delay':>9}{'n':>5}{'seam mean':>12}{'seam max':>11}{'executed':>11}"
                   f"{'recorded':>11}   (rad)")
        for r in self.table:
            out.append(f"{r.mode:<10}{r.delay:>9}{r.inferences:>5}{r.seam_mean_rad:>12.4f}{r.seam_max_rad:>11.4f}"
                       f"{r.executed_rms_mean_rad:>11.4f}{r.recorded_max_rad:>11.2e}")
        return out


# ----- the replay -----------------------------------------------------------------------------------
class Replayer:
    """The recorded policy with the arm's units, sampling recorded inferences under any mode.
    `policy_path` "": the built-in checkpoint."""

    def __init__(self, recording: Recording, policy_path: str, device: str, calibration_file: str,
                 use_degrees: bool, task: str, max_guidance_weight: float, schedule: str) -> None:
        from rtc_policy_node.joint_units import units_from_parameters

        first = recording.inferences[0]
        units = units_from_parameters(calibration_file, first.joint_names, use_degrees)
        from rtc_policy_node.builtin_policy.checkpoint import default_checkpoint_path  # imports torch
        from rtc_policy_node.lerobot_policy import GuidanceSettings, LeRobotPolicy

        from rtc_policy_node.chunk_sampler import ChunkSampler

        self.policy_path = policy_path = policy_path or str(default_checkpoint_path())
        horizon = max(inference.horizon for inference in recording.inferences)  # a chunk's own may be shorter
        self.policy = LeRobotPolicy(policy_path, device, GuidanceSettings(
            first.mode, horizon, max_guidance_weight, schedule), task=task)
        try:
            self.sampler = ChunkSampler(self.policy, units, first.joint_names)
        except ValueError as err:
            raise BagError(f"the bag's chunks do not fit policy {policy_path}: {err}") from None
        missing = set(self.policy.image_keys) - set(recording.cameras)
        if missing:
            raise BagError(f"policy {policy_path} needs cameras {sorted(missing)}; --cameras gives "
                           f"{sorted(recording.cameras)}")
        self.recording = recording
        self.model_outputs: dict[int, np.ndarray] = {}  # chunk id -> replayed output, recorded mode

    def noise(self, inference: RecordedInference) -> np.ndarray | None:
        from rtc_contract.noise import chunk_noise

        if self.policy.chunk_size is None:
            return None
        return chunk_noise(max(inference.noise_seed, 0), inference.chunk_id, self.policy.chunk_size,
                           self.policy.action_dim)

    def leftover(self, inference: RecordedInference) -> np.ndarray | None:
        if not inference.prev_chunk_id:
            return None
        output = self.model_outputs.get(inference.prev_chunk_id)
        if output is None:
            raise LookupError(f"chunk {inference.chunk_id}: its leftover's chunk {inference.prev_chunk_id} "
                              "is not in the bag")
        return output[inference.prev_chunk_row:inference.prev_chunk_row + inference.horizon]

    def sample(self, inference: RecordedInference, observation: Observation, mode: str, delay: int,
               trace: bool = False):
        """(radians chunk, model output, trace or None) under `mode` with delay `delay`."""
        from rtc_policy_node.core.guidance import RTCGuidance
        from rtc_policy_node.denoise_trace import RecordingGuidance

        from rtc_policy_node.chunk_sampler import RadianObservation

        mode = GuidanceMode(mode)
        # Mode off through a guidance that only returns the denoiser's velocity, so its steps are
        # traced too; the chunk is the unguided one.
        guidance = replace(self.sampler.settings, mode=GuidanceMode.IDENTITY if mode is GuidanceMode.OFF and trace
                           else mode)
        tracer = RecordingGuidance(RTCGuidance(self.policy.rtc_config, mode=mode)) if trace else None
        chunk = self.sampler.sample(RadianObservation(inference.joint_names, observation.state, observation.images),
                                    self.leftover(inference), delay, self.noise(inference), guidance=guidance,
                                    guide_with=tracer)
        return chunk.actions, chunk.sampled.model_output, tracer


def replay(recording: Recording, replayer: Replayer, states: Indexed, images: dict[str, Indexed],
           modes: list[str], delays: list[int | None]) -> ReplayResult:
    executed = recording.executed
    result = ReplayResult(bag=str(recording.bag), policy_path="", settings={}, inferences=0,
                          faithful_inferences=0, faithful_max_abs_rad=float("nan"))
    observations: dict[int, Observation] = {}
    faithful = []
    for inference in recording.inferences:  # the recorded mode, in order: rebuilds the leftovers
        try:
            observation = recording.observation(inference, states, images)
            radians, output, _ = replayer.sample(inference, observation, inference.mode, inference.delay)
        except LookupError as exc:
            result.skipped.append(str(exc))
            continue
        replayer.model_outputs[inference.chunk_id] = output
        observations[inference.chunk_id] = observation
        if inference.noise_seed >= 0 and observation.exact:
            faithful.append(float(np.max(np.abs(radians - inference.actions))))
    result.inferences = len(observations)
    result.faithful_inferences = len(faithful)
    result.faithful_max_abs_rad = max(faithful, default=float("nan"))
    by_setting: dict[tuple[str, str], list[Sampled]] = {}
    for mode in modes:
        for delay in delays:
            label = "recorded" if delay is None else str(delay)
            rows = by_setting.setdefault((mode, label), [])
            for inference in recording.inferences:
                observation = observations.get(inference.chunk_id)
                if observation is None:
                    continue
                d = inference.delay if delay is None else delay
                radians, _, _ = replayer.sample(inference, observation, mode, d)
                rows.append(Sampled(inference.chunk_id, mode, d, seam_rad(radians, inference, executed),
                                    executed_rms_rad(radians, inference, executed),
                                    float(np.max(np.abs(radians - inference.actions)))))
    result.table = [TableRow.of(mode, label, rows) for (mode, label), rows in by_setting.items()]
    result.samples = [s for rows in by_setting.values() for s in rows]
    return result


def plot_denoising(recording: Recording, replayer: Replayer, states, images, chunk_id: int, modes: list[str],
                   out: Path) -> Path:
    """x_t at every denoising step of chunk `chunk_id`, one column per mode, one row per joint, in
    the policy's normalized output space, with the leftover and the prefix weights."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from rtc_policy_node.core.schedules import prefix_weights

    inference = next((i for i in recording.inferences if i.chunk_id == chunk_id), None)
    if inference is None or inference.chunk_id not in replayer.model_outputs:
        ids = sorted(replayer.model_outputs)
        raise BagError(f"no replayed chunk {chunk_id} to plot; chunks {ids[0]}..{ids[-1]} are" if ids
                       else f"no replayed chunk {chunk_id} to plot")
    observation = recording.observation(inference, states, images)
    leftover = replayer.leftover(inference)
    names = inference.joint_names
    fig, axes = plt.subplots(len(names), len(modes), figsize=(4.2 * len(modes), 1.9 * len(names)),
                             sharex=True, squeeze=False)
    for column, mode in enumerate(modes):
        _, output, tracer = replayer.sample(inference, observation, mode, inference.delay, trace=True)
        length = output.shape[0]
        horizon = min(inference.horizon, len(leftover)) if leftover is not None else 0
        weights = prefix_weights(replayer.policy.rtc_config.prefix_attention_schedule,
                                 min(inference.delay, horizon), horizon, length) if horizon else np.zeros(length)
        colors = plt.cm.viridis(np.linspace(0.0, 0.85, max(len(tracer.steps), 1)))
        for row, name in enumerate(names):
            ax = axes[row, column]
            for step, color in zip(tracer.steps, colors):
                ax.plot(step.x_t[:, row].float().cpu().numpy(), color=color, lw=0.8, alpha=0.8)
            ax.plot(output[:, row], color="black", lw=1.6, label="x_0 (chunk)")
            if leftover is not None:
                ax.plot(leftover[:, row], "--", color="tab:red", lw=1.2, label="leftover")
            ax.axvline(inference.delay, color="tab:red", lw=0.6, ls=":")
            shade = ax.twinx()
            shade.fill_between(np.arange(length), weights, color="grey", alpha=0.15, step="mid")
            shade.set_ylim(0, 1.05)
            shade.set_yticks([])
            if column == 0:
                ax.set_ylabel(name, fontsize=8)
            if row == 0:
                ax.set_title(f"{mode}: {len(tracer.steps)} steps, d={inference.delay}", fontsize=9)
        axes[-1, column].set_xlabel("row of the chunk")
    axes[0, 0].legend(loc="upper right", fontsize=7)
    fig.suptitle(f"Denoising of chunk {chunk_id} (policy output space): x_t per step from noise (purple, t=1) "
                 "to the last step (green), chunk black, leftover dashed, prefix weights shaded, delay dotted",
                 fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out


def _cameras(entries: list[str]) -> dict[str, str]:
    cameras = {}
    for entry in entries:
        name, sep, topic = entry.partition("=")
        if not sep or not name or not topic:
            raise ValueError(f"--cameras entry {entry!r} is not name=topic")
        cameras[f"observation.images.{name}"] = topic
    return cameras


def _list(text: str, convert, what: str) -> list:
    try:
        return [convert(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a comma-separated list") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rtc_replay", description=__doc__.split("\n\n")[0])
    parser.add_argument("bag", type=Path)
    parser.add_argument("--modes", default=",".join(MODES), help=f"guidance modes, comma-separated ({','.join(MODES)})")
    parser.add_argument("--delays", default="recorded",
                        help="delays in ticks, comma-separated; 'recorded': each inference's own (default)")
    parser.add_argument("--policy_path", "--policy-path", dest="policy_path", default="",
                        help="checkpoint to replay with; default: the one the bag names (/diagnostics) if it "
                        "is a directory here, else the built-in when the bag names none; required when the "
                        "bag names a hub id or a path missing here (a hub id in a bag is never loaded)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--calibration_file", "--calibration-file", dest="calibration_file",
                        help="lerobot-calibrate JSON, as the policy node had it; '': the policy works in radians; "
                        "default: the simulated arm's")
    parser.add_argument("--use_degrees", "--use-degrees", dest="use_degrees", default="true", choices=("true", "false"))
    parser.add_argument("--task", default="")
    parser.add_argument("--max_guidance_weight", "--max-guidance-weight", dest="max_guidance_weight", type=float,
                        default=10.0)
    parser.add_argument("--schedule", default="LINEAR", choices=("ZEROS", "ONES", "LINEAR", "EXP"))
    parser.add_argument("--cameras", nargs="*", default=["front=/camera/front/image_raw"], metavar="NAME=TOPIC")
    parser.add_argument("--plot-denoising", type=int, metavar="CHUNK_ID", help="draw the denoising of this chunk")
    parser.add_argument("--out", type=Path, default=Path("replay"), help="directory for replay.json and plots")
    args = parser.parse_args(argv)
    try:
        modes = _list(args.modes, str, "--modes")
        unknown = [m for m in modes if m not in MODES]
        if unknown:
            raise ValueError(f"unknown guidance mode(s) {unknown}; expected some of {list(MODES)}")
        delays = [None if d.strip() == "recorded" else int(d) for d in args.delays.split(",") if d.strip()]
        if any(d is not None and d < 0 for d in delays):
            raise ValueError(f"--delays {args.delays!r} must be ticks >= 0 or 'recorded'")
        cameras = _cameras(args.cameras)
    except ValueError as exc:
        print(f"rtc_replay: {exc}", file=sys.stderr)
        return 2
    try:
        return _run(args, modes, delays, cameras)
    except BagError as exc:
        print(f"rtc_replay: {exc}", file=sys.stderr)
        return 1


def _run(args, modes: list[str], delays: list[int | None], cameras: dict[str, str]) -> int:
    from so100_driver.arm import default_calibration_path

    recording, states, images = read_recording(args.bag, cameras)
    if not recording.inferences:
        raise BagError(f"{args.bag} has no chunk on {CHUNK_TOPIC}")
    calibration = str(default_calibration_path()) if args.calibration_file is None else args.calibration_file
    try:
        policy_path = checkpoint_to_replay(args.policy_path, recording.policy_path)
    except ValueError as exc:
        print(f"rtc_replay: {exc}", file=sys.stderr)
        return 2
    try:  # every error below is about the inputs (checkpoint, calibration, the bag's joints): one line
        replayer = Replayer(recording, policy_path, args.device, calibration,
                            args.use_degrees == "true", args.task, args.max_guidance_weight, args.schedule)
        result = replay(recording, replayer, states, images, modes, delays)
        plots = []
        if args.plot_denoising is not None:
            plots.append(plot_denoising(recording, replayer, states, images, args.plot_denoising,
                                        modes, args.out / f"denoising_{args.plot_denoising}.png"))
    except (ValueError, OSError) as exc:
        raise BagError(_first_line(exc)) from None
    result.policy_path = replayer.policy_path
    result.settings = dict(device=args.device, calibration_file=calibration, use_degrees=args.use_degrees == "true",
                           task=args.task, max_guidance_weight=args.max_guidance_weight, schedule=args.schedule,
                           cameras=recording.cameras, modes=modes,
                           delays=["recorded" if d is None else d for d in delays])
    print("\n".join(result.lines()))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "replay.json").write_text(json.dumps(asdict(result), indent=1, default=_json_default))
    for path in [args.out / "replay.json", *plots]:
        print(f"wrote               {path}")
    return 0


def checkpoint_to_replay(named: str, recorded: str | None) -> str:
    """The checkpoint to load: the one the user `named` (--policy_path); else the one the bag
    `recorded` if it is a directory here; else, when the bag names none, "" (the built-in). A bag
    naming a hub id or a path missing here is a ValueError asking for --policy_path: what a bag
    names is never fetched."""
    if named:
        return named
    if not recorded:
        return ""
    if Path(recorded).expanduser().is_dir():
        return recorded
    raise ValueError(f"the bag names policy {recorded!r}, which is no directory here (a hub id, or a path on "
                     "another machine); name the checkpoint to replay with --policy_path")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


if __name__ == "__main__":
    sys.exit(main())
