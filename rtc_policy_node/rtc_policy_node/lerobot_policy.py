"""A policy with its processors, sampling action chunks under this project's RTC guidance.

Loading: a `small_flow` checkpoint directory (the built-in policy) is read by the project's own
loader (`builtin_policy.loading`, no LeRobot import: the node starts in the time torch takes);
anything else, or `via_lerobot=True`, goes through LeRobot's own code (`lerobot_loading`:
PreTrainedConfig, get_policy_class, make_pre_post_processors), so pi0, pi0.5, SmolVLA and
small_flow load the same way there. A local checkpoint directory is checked first, so a missing or
malformed file is a CheckpointError naming it. Guidance: LeRobot's policies call
`self.rtc_processor.denoise_step(...)` inside their sampling loop; every module that holds an
`rtc_processor` gets an `RTCGuidance` in its place.

Mode choice (`core.mode_choice`, off by default): with a leftover and `mode_candidates` > 0,
`mode_candidates` chunks are first sampled unguided in one batch, from the given noise and noises
derived from it; if enough of them are within `max_mode_disagreement` of the leftover, the closest
is guided (commit to the leftover's mode), else the first is returned unguided (follow the new
mode), so a guided chunk does not blend two modes. The chunk after a first one after rest
(`max_disagreement` > 0, from the scheduler) is likewise sampled unguided too and the unguided one
kept when the guided one strays from it (`core.mode_choice.keep_or_follow`); it then goes from the
executed rows onto that new plan through `switch_transition_rows` rows (`core.mode_choice.smooth_switch`).

Debugging: `record_denoising(directory)` turns on LeRobot's RTC debug tracking in the guidance and
writes, per sampled chunk, the tracked denoising steps as `chunk_NNNN.png` and `.npz` (NNNN counts
chunks from 1, as the policy node numbers them); see `denoising_plot.py`.

Spaces: the leftover handed back for guidance is the policy's own output before postprocessing
(normalized, as LeRobot's RTC keeps it); `actions` are after postprocessing, in the policy's
feature units (degrees / 0..100 for LeRobot SO-100 checkpoints).

Relative actions (the config's `use_relative_actions`, LeRobot main's flag; `relative_exclude_joints`
stay absolute): the model samples offsets from the observed state. `actions` are made absolute with
that state, and the future leftover (`model_output`) is kept absolute, in feature units, as LeRobot's
rollout keeps it; `sample` re-anchors it to the new observation's state and normalizes it before
guidance (`core.relative_actions`, LeRobot's `reanchor_relative_rtc_prefix`). Chunks leave absolute.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rtc_contract.modes import GuidanceMode
from rtc_policy_node.core.guidance import RTCGuidance
from rtc_policy_node.core.relative_actions import relative_mask, to_absolute, to_relative

from rtc_policy_node.core.schedules import PrefixSchedule
from rtc_policy_node.denoising_plot import DenoisingWriter, denoising_record
from rtc_policy_node.core.mode_choice import (SWITCH_TRANSITION_ROWS, ModeChoice, candidate_noises, choose_mode,
                                              keep_or_follow, smooth_switch)
from rtc_runtime.profiling import synchronized_clock

STATE_KEY = "observation.state"
ACTION_KEY = "action"


@dataclass(frozen=True)
class GuidanceSettings:
    """How a chunk is guided: the policy node's guidance parameters, under their names and defaults
    (a mode or schedule given by name becomes its enum member)."""

    mode: GuidanceMode = GuidanceMode.IDENTITY
    execution_horizon: int = 25       # ticks of the leftover guidance follows
    max_guidance_weight: float = 10.0
    schedule: PrefixSchedule = PrefixSchedule.LINEAR
    mode_candidates: int = 0          # unguided candidates a guided chunk is chosen from (core.mode_choice); 0: off
    max_mode_disagreement: float = 0.9  # normalised units; fewer than a quarter of the candidates this close: follow the new mode
    # rows from the executed ones onto a new plan the chunk after a start switches to (core.mode_choice.smooth_switch)
    switch_transition_rows: int = SWITCH_TRANSITION_ROWS

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", GuidanceMode(self.mode))
        schedule = self.schedule if isinstance(self.schedule, PrefixSchedule) else PrefixSchedule[self.schedule.upper()]
        object.__setattr__(self, "schedule", schedule)
        if int(self.mode_candidates) != self.mode_candidates or self.mode_candidates < 0:
            raise ValueError(f"mode_candidates must be an integer >= 0, got {self.mode_candidates!r}")
        if not self.max_mode_disagreement > 0:
            raise ValueError(f"max_mode_disagreement must be > 0, got {self.max_mode_disagreement!r}")
        if int(self.switch_transition_rows) != self.switch_transition_rows or self.switch_transition_rows < 1:
            raise ValueError(f"switch_transition_rows must be an integer >= 1, got {self.switch_transition_rows!r}")

    def rtc_fields(self) -> dict[str, Any]:
        """LeRobot's RTCConfig fields (and core.guidance.GuidanceConfig's) for these settings."""
        return dict(enabled=self.mode != GuidanceMode.OFF, execution_horizon=self.execution_horizon,
                    max_guidance_weight=self.max_guidance_weight, prefix_attention_schedule=self.schedule.value)

    def update(self, rtc_config: Any) -> None:
        """Set these settings' fields on an RTCConfig (or GuidanceConfig) in place."""
        for name, value in self.rtc_fields().items():
            setattr(rtc_config, name, value)


@dataclass(frozen=True)
class SampledChunk:
    model_output: np.ndarray  # (length, action_dim) the future leftover: before postprocessing; relative-action
    #                           policy: the absolute `actions`, re-anchored when given back (module docstring)
    actions: np.ndarray       # (length, action_dim) in the policy's feature units
    guidance_s: float         # part of the sampling time spent in guidance
    mode_choice: ModeChoice | None = None  # which candidate, guided or not (None: no mode choice made)
    preprocessing_s: float = 0.0   # feature tensors through the policy's preprocessor
    inference_s: float = 0.0       # predict_action_chunk: every denoising step, guidance included
    postprocessing_s: float = 0.0  # the policy's postprocessor, and back to numpy

    @property
    def unguided_instead(self) -> bool:
        """A mode choice returned the unguided sample: the chunk follows no leftover, whatever was given."""
        return self.mode_choice is not None and not self.mode_choice.guided


@dataclass(frozen=True)
class LoadedPolicy:
    """What a loader (`builtin_policy.loading`, `lerobot_loading`) hands LeRobotPolicy."""

    policy: torch.nn.Module          # predict_action_chunk(batch, noise=, prev_chunk_left_over=, ...)
    rtc_config: Any                  # LeRobot's RTCConfig or core.guidance.GuidanceConfig; changed in place
    preprocessor: Callable[[dict], dict]            # one observation -> a normalised batch of one
    postprocessor: Callable[[torch.Tensor], torch.Tensor]  # model output -> feature units, on the cpu
    normalize_action: Callable[[torch.Tensor], torch.Tensor]  # feature units -> the model's space
    type: str
    image_shapes: dict[str, tuple[int, ...]]  # (channels, height, width) by image key
    state_dim: int
    action_dim: int
    chunk_size: int | None
    num_inference_steps: int | None
    joint_names: tuple[str, ...] | None        # where the policy names them
    model_action_dim: int                      # pi0-style models pad actions inside the model
    use_relative_actions: bool
    action_names: tuple[str, ...] | list[str] | None
    relative_exclude_joints: tuple[str, ...]
    processor_steps: tuple[str, ...]           # the processors' step class names


def load_policy(path: str | Path, device: str, guidance: GuidanceSettings, via_lerobot: bool = False) -> LoadedPolicy:
    """The built-in loader for a small_flow checkpoint directory, LeRobot's for anything else (or
    when `via_lerobot`)."""
    from rtc_policy_node.builtin_policy.checkpoint import is_small_flow_checkpoint

    if not via_lerobot and is_small_flow_checkpoint(path):
        from rtc_policy_node.builtin_policy.loading import load_small_flow

        return load_small_flow(path, device, guidance)
    from rtc_policy_node.lerobot_loading import load_with_lerobot

    return load_with_lerobot(path, device, guidance)


class LeRobotPolicy:
    """Load once, then `sample()` one chunk per inference."""

    def __init__(self, path: str | Path, device: str, guidance: GuidanceSettings, task: str = "",
                 via_lerobot: bool = False) -> None:
        loaded = load_policy(path, device, guidance, via_lerobot)
        self.policy = loaded.policy
        self.rtc_config = loaded.rtc_config
        self._holders = [m for m in (self.policy, *self.policy.modules()) if hasattr(m, "rtc_processor")]
        if guidance.mode != GuidanceMode.OFF and not self._holders:
            raise ValueError(f"policy type {loaded.type!r} has no rtc_processor: it cannot be guided; "
                             "use guidance_mode off")
        self._use_guidance(RTCGuidance(self.rtc_config, mode=guidance.mode))
        self.preprocessor, self.postprocessor = loaded.preprocessor, loaded.postprocessor
        self._normalize_action = loaded.normalize_action
        self.settings = guidance
        self.device = device
        self.task = task
        self.type = loaded.type
        self.image_keys = tuple(loaded.image_shapes)
        self.image_shapes = loaded.image_shapes
        self.state_dim = loaded.state_dim
        self.action_dim = loaded.action_dim
        self.chunk_size = loaded.chunk_size
        self.num_inference_steps = loaded.num_inference_steps
        self.joint_names = loaded.joint_names
        self.model_action_dim = loaded.model_action_dim
        self.relative_mask = self._relative_mask(loaded)
        self._denoising_dir: Path | None = None
        self.denoising_writer: DenoisingWriter | None = None
        self._sampled = 0

    def _relative_mask(self, loaded: LoadedPolicy) -> np.ndarray | None:
        """The action dims the policy samples relative to the state; None for an absolute-action policy."""
        if not loaded.use_relative_actions:
            return None
        converting = [name for name in loaded.processor_steps if "RelativeActions" in name or "AbsoluteActions" in name]
        if converting:
            raise ValueError(f"the policy's processors convert relative actions themselves ({converting}); "
                             "this LeRobot is newer than the node's relative-action support")
        return relative_mask(loaded.action_names, list(loaded.relative_exclude_joints), self.action_dim)

    def model_leftover(self, leftover: np.ndarray, state: np.ndarray) -> np.ndarray:
        """The leftover as guidance compares it with the model's output: as given for an absolute-action
        policy; for a relative-action one re-anchored to `state` (the new observation's, feature units)
        and normalized, LeRobot's `reanchor_relative_rtc_prefix` (core.relative_actions)."""
        if self.relative_mask is None:
            return leftover
        relative = torch.from_numpy(to_relative(leftover, state, self.relative_mask).astype(np.float32))
        return self._normalize_action(relative).cpu().numpy()

    def _use_guidance(self, guidance: Any) -> None:
        """Install a guidance (an RTCGuidance, or a wrapper with its interface) in the policy."""
        self.guidance = guidance
        for holder in self._holders:
            holder.rtc_processor = guidance

    def configure(self, guidance: GuidanceSettings) -> None:
        """Guide with `guidance` from the next `sample` on, without reloading (the policy node's
        settable parameters between inferences, offline comparisons of modes)."""
        if guidance == self.settings:
            return
        self.settings = guidance
        guidance.update(self.rtc_config)
        self._use_guidance(RTCGuidance(self.rtc_config, mode=guidance.mode))

    def record_denoising(self, directory: str | Path) -> None:
        """Track every denoising step from now on and write one plot (and npz) per chunk into
        `directory`, by a writer process (`denoising_writer`: its backlog, drops and failures); the
        inference only copies the tracked steps. "" does nothing."""
        if not str(directory):
            return
        self._denoising_dir = Path(directory)
        self._denoising_dir.mkdir(parents=True, exist_ok=True)
        self.denoising_writer = self.denoising_writer or DenoisingWriter()
        self.rtc_config.debug = True
        self.rtc_config.debug_maxlen = max(self.rtc_config.debug_maxlen, 1000)
        self._use_guidance(RTCGuidance(self.rtc_config, mode=self.settings.mode))

    def sample(self, state: np.ndarray, images: dict[str, np.ndarray], leftover: np.ndarray | None,
               inference_delay: int, noise: np.ndarray | None = None, max_disagreement: float = 0.0,
               guide_with: Any = None) -> SampledChunk:
        """One chunk. `state` in feature units, images HxWx3 uint8 by image key, `leftover` a
        (rows, action_dim) slice of an earlier `model_output` or None for the first chunk.
        `noise` (length, action_dim) fixes the sampling noise, for reproducible comparisons.
        `max_disagreement` > 0 (a guided chunk after a first one after rest, the scheduler's Plan):
        the chunk is also sampled unguided from the same noise, and that one is returned when the
        guided one differs from it by more than this from row `inference_delay` on
        (core.mode_choice.keep_or_follow; `mode_choice` says which).
        The three parts' times are split on a CUDA device only while profiling is enabled
        (rtc_runtime.profiling synchronizes then); their sum is right either way.
        `guide_with` (an object with RTCGuidance's interface: a recorder, LeRobot's RTCProcessor)
        guides this chunk in place of the configured guidance."""
        if guide_with is None:
            return self._sample(state, images, leftover, inference_delay, noise, max_disagreement)
        installed = self.guidance
        self._use_guidance(guide_with)
        try:
            return self._sample(state, images, leftover, inference_delay, noise, max_disagreement)
        finally:
            self._use_guidance(installed)

    def _sample(self, state: np.ndarray, images: dict[str, np.ndarray], leftover: np.ndarray | None,
                inference_delay: int, noise: np.ndarray | None, max_disagreement: float) -> SampledChunk:
        started = synchronized_clock(self.device)
        if state.shape != (self.state_dim,):
            raise ValueError(f"state has shape {state.shape}, the policy expects ({self.state_dim},)")
        missing = set(self.image_keys) - set(images)
        if missing:
            raise ValueError(f"no image for {sorted(missing)}; the policy needs {list(self.image_keys)}")
        batch = {STATE_KEY: torch.from_numpy(state.astype(np.float32)), "task": self.task}
        for key in self.image_keys:
            batch[key] = torch.from_numpy(images[key]).permute(2, 0, 1).float().div_(255.0)
        batch = self.preprocessor(batch)
        if noise is not None and self.chunk_size is not None and noise.shape[0] != self.chunk_size:
            raise ValueError(f"noise has {noise.shape[0]} rows, the policy's chunk has {self.chunk_size}")
        guided = leftover is not None and self.settings.mode != GuidanceMode.OFF
        if leftover is not None:
            leftover = self.model_leftover(leftover, state)
        preprocessed = synchronized_clock(self.device)
        kwargs: dict[str, Any] = {}
        if guided:
            kwargs = dict(prev_chunk_left_over=self._padded(leftover, "leftover"), inference_delay=inference_delay,
                          execution_horizon=self.settings.execution_horizon)
        self.guidance.reset_timing()
        if self._denoising_dir is not None:
            self.guidance.reset_tracker()
        choice, choice_s = None, 0.0
        with torch.no_grad():
            if guided and max_disagreement > 0:
                output, choice, choice_s = self._kept_or_followed(batch, leftover, inference_delay, noise, kwargs,
                                                                  max_disagreement)
            elif guided and self.settings.mode_candidates > 0:
                output, choice, choice_s = self._chosen_mode(batch, leftover, inference_delay, noise, kwargs)
            else:
                if noise is not None:
                    kwargs["noise"] = self._padded(noise, "noise")
                output = self.policy.predict_action_chunk(batch, **kwargs)
        sampled = synchronized_clock(self.device)
        output = output[..., : self.action_dim]
        actions = self.postprocessor(output.clone())
        self._sampled += 1
        if self.denoising_writer is not None:
            record = denoising_record(self.guidance.get_all_debug_steps(), leftover, self.action_dim)
            self.denoising_writer.submit(record, inference_delay, self._denoising_dir / f"chunk_{self._sampled:04d}",
                                         self.action_dim)
        model_output = output[0].detach().cpu().numpy()
        actions = actions[0].detach().cpu().numpy().astype(np.float64)
        if self.relative_mask is not None:
            actions = to_absolute(actions, state, self.relative_mask)
            model_output = actions.astype(np.float32)
        return SampledChunk(model_output=model_output, actions=actions, guidance_s=self.guidance.seconds + choice_s,
                            mode_choice=choice, preprocessing_s=preprocessed - started,
                            inference_s=sampled - preprocessed, postprocessing_s=time.perf_counter() - sampled)

    def _chosen_mode(self, batch: dict[str, Any], leftover: np.ndarray, inference_delay: int,
                     noise: np.ndarray | None, guided_kwargs: dict[str, Any]
                     ) -> tuple[torch.Tensor, ModeChoice, float]:
        """Sample the candidates unguided in one batch, choose (core.mode_choice), guide the chosen one.

        Also returns the seconds spent on the candidates and the choice: guidance overhead.
        """
        started = time.perf_counter()
        noise = self._chunk_noise(noise)
        count = self.settings.mode_candidates
        noises = self._padded(candidate_noises(noise, count), "noise")
        replicated = {key: value.repeat(count, *([1] * (value.dim() - 1)))
                      if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[0] == 1 else value
                      for key, value in batch.items()}
        candidates = self.policy.predict_action_chunk(replicated, noise=noises)
        choice = choose_mode(candidates[..., : self.action_dim].cpu().numpy(), leftover, inference_delay,
                             self.settings.execution_horizon, self.settings.max_mode_disagreement)
        choice_s = time.perf_counter() - started
        if not choice.guided:
            return candidates[choice.candidate : choice.candidate + 1], choice, choice_s
        chosen = noises[choice.candidate : choice.candidate + 1]
        return self.policy.predict_action_chunk(batch, noise=chosen, **guided_kwargs), choice, choice_s

    def _kept_or_followed(self, batch: dict[str, Any], leftover: np.ndarray, inference_delay: int,
                          noise: np.ndarray | None, guided_kwargs: dict[str, Any], max_disagreement: float
                          ) -> tuple[torch.Tensor, ModeChoice, float]:
        """Sample unguided, then guided from the same noise; keep the guided one unless they disagree,
        else go from the executed rows (`leftover`) onto the unguided one (smooth_switch).

        Also returns the seconds the unguided sample and the comparison took: guidance overhead.
        """
        started = time.perf_counter()
        noise = self._chunk_noise(noise)
        padded = self._padded(noise, "noise")
        unguided = self.policy.predict_action_chunk(batch, noise=padded)
        unguided_s = time.perf_counter() - started
        if self._denoising_dir is not None:  # the record shows the guided sample's steps
            self.guidance.reset_tracker()
        guided = self.policy.predict_action_chunk(batch, noise=padded, **guided_kwargs)
        compared = time.perf_counter()
        new_plan = unguided[0, :, : self.action_dim].cpu().numpy()
        choice = keep_or_follow(guided[0, :, : self.action_dim].cpu().numpy(), new_plan, inference_delay,
                                max_disagreement)
        if not choice.guided:
            switched = smooth_switch(leftover, new_plan, inference_delay, self.settings.switch_transition_rows)
            unguided = unguided.clone()
            unguided[0, :, : self.action_dim] = torch.from_numpy(switched.astype(np.float32)).to(unguided.device)
        return (guided if choice.guided else unguided), choice, unguided_s + time.perf_counter() - compared

    def _chunk_noise(self, noise: np.ndarray | None) -> np.ndarray:
        """The given noise, or a fresh draw: comparisons between samples need one noise for all."""
        if noise is not None:
            return noise
        if self.chunk_size is None:
            raise ValueError(f"comparing samples needs the chunk length; policy type {self.type!r} has no chunk_size")
        return torch.randn(self.chunk_size, self.action_dim).numpy()

    def _padded(self, rows: np.ndarray, name: str) -> torch.Tensor:
        """(rows, action_dim) or (K, rows, action_dim) -> (1 or K, rows, model_action_dim), zero-padded
        as pi0 pads actions."""
        if rows.ndim not in (2, 3) or rows.shape[-1] != self.action_dim:
            raise ValueError(f"{name} has shape {rows.shape}, expected (rows, {self.action_dim})")
        batched = rows if rows.ndim == 3 else rows[None]
        padded = torch.zeros(*batched.shape[:2], self.model_action_dim, device=self.device)
        padded[..., : self.action_dim] = torch.from_numpy(batched.astype(np.float32))
        return padded


def chunk_extra_latency_ms(fixed_ms: float, sequence_ms: list[float], chunk_id: int) -> float:
    """The latency added to chunk `chunk_id` (ids from 1): `fixed_ms` plus the sequence's element for
    it, the sequence taken cyclically, so a recorded or drawn latency profile repeats chunk by chunk."""
    if not sequence_ms:
        raise ValueError("the extra latency sequence is empty: give at least one value ([0.0]: none)")
    return fixed_ms + sequence_ms[(chunk_id - 1) % len(sequence_ms)]


def emulate_latency(extra_latency_ms: float, started: float) -> None:
    """Sleep until `extra_latency_ms` after `started` (monotonic seconds) has passed."""
    remaining = started + extra_latency_ms / 1000.0 - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)
