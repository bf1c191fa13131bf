"""The methods of a LeRobot flow policy that profiling times and torch.compile compiles.

LeRobot's pi0, pi0.5 and SmolVLA (and the built-in small_flow) spend their inference in a few
methods: the embedding of the observation and one denoiser call per step. rtc_profile wraps them
with timers (--enable_detailed_profiling) or torch.compile (--use_torch_compile); the policy node
compiles them (use_torch_compile). Guidance stays eager: it reads numpy schedules on the host.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["DETAILED_METHODS", "TORCH_COMPILE_MODES", "compile_policy", "wrap_methods"]

# Method name -> the component it is reported under.
DETAILED_METHODS = {
    "embed_prefix": "policy.embed_prefix",       # pi0 / pi0.5 / SmolVLA: images, language, state
    "embed_suffix": "policy.embed_suffix",       # pi0 / pi0.5 / SmolVLA: noisy actions and time
    "_encode": "policy.embed_prefix",            # small_flow: image and state
    "denoise_step": "policy.denoise_step",       # pi0 / pi0.5 / SmolVLA: one denoiser call
    "_velocity": "policy.denoise_step",          # small_flow: one denoiser call
}
# torch.compile's modes (LeRobot's torch_compile_mode takes the same; "default" is its default).
TORCH_COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def wrap_methods(policy, wrap: Callable[[Any, str], Any]) -> list[str]:
    """Replace DETAILED_METHODS on every module of the policy (a LeRobotPolicy) that defines them
    (not torch's own modules) by `wrap(bound_method, component_name)`; the methods found."""
    found = []
    for module in policy.policy.modules():  # the policy itself first
        for method, name in DETAILED_METHODS.items():
            if any(method in vars(cls) for cls in type(module).__mro__ if cls.__module__.split(".")[0] != "torch"):
                object.__setattr__(module, method, wrap(getattr(module, method), name))
                found.append(f"{type(module).__name__}.{method}")
    return found


def compile_policy(policy, backend: str = "inductor", mode: str = "default") -> list[str]:
    """torch.compile the policy's DETAILED_METHODS (LeRobot's torch_compile_backend and _mode);
    the methods compiled. Compiling happens at their first calls (the warm-up inferences).
    ValueError for a backend torch does not know."""
    import torch

    known = torch._dynamo.list_backends(exclude_tags=())
    if backend not in known:
        raise ValueError(f"torch_compile_backend {backend!r} is not one of torch's: {', '.join(sorted(known))}")
    return wrap_methods(policy, lambda method, _name: torch.compile(method, backend=backend, mode=mode))
