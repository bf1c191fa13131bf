"""Node parameters as data: declared, validated and documented from one table per node.

Each node lists its parameters as `ParameterSpec`s. `declare(node, specs)` declares them all and
checks every value before the node does any work, so a bad value is one `ParameterError` naming the
parameter and what it allows (the lifecycle turns it into one line and exit code 2). Docs tables
are checked against the same specs by tests, so they cannot drift.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol
from collections.abc import Sequence

__all__ = ["ParameterError", "ParameterSpec", "declare", "markdown_table", "validate"]


class ParameterError(ValueError):
    """A parameter value the node cannot run with. Its text is the whole message for the user."""


@dataclass(frozen=True)
class ParameterSpec:
    """One parameter: name, default (its type is the parameter's type), unit, meaning and limits.

    choices: the allowed values (strings, or each element of a string list);
    minimum / maximum: inclusive bounds of a number (of each element of a number list); above_minimum:
    the bound is exclusive;
    non_empty: a string or list that may not be empty; unique: a list without repeats.
    An empty list default is a string list (rclpy cannot infer the type of []).
    """

    name: str
    default: Any
    description: str
    unit: str = ""
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    above_minimum: bool = False
    non_empty: bool = False
    unique: bool = False

    def check(self, value: Any) -> Any:
        """`value` if it is allowed, else ParameterError."""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise self._error(value, "a finite number")
            if not self._within(value):
                raise self._error(value, self._range())
        if isinstance(value, (list, tuple)) and not all(self._within(v) for v in value if isinstance(v, (int, float))):
            raise self._error(value, self._range() + " for each element")  # (NaN is within no bound)
        if self.non_empty and (value is None or len(value) == 0):
            raise ParameterError(f"parameter {self.name} is required: {self.description}")
        if self.unique and len(set(value)) != len(value):
            raise self._error(value, "a list without repeats")
        if self.choices is not None:
            items = value if isinstance(value, (list, tuple)) else [value]
            bad = [item for item in items if item not in self.choices]
            if bad:
                raise self._error(value, "one of " + ", ".join(map(str, self.choices)))
        return value

    def _within(self, number: float) -> bool:
        low_ok = self.minimum is None or (number > self.minimum if self.above_minimum else number >= self.minimum)
        return low_ok and (self.maximum is None or number <= self.maximum)

    def _range(self) -> str:
        low = "" if self.minimum is None else (f"> {self.minimum:g}" if self.above_minimum else f">= {self.minimum:g}")
        high = "" if self.maximum is None else f"<= {self.maximum:g}"
        return " and ".join(part for part in (low, high) if part)

    def _error(self, value: Any, allowed: str) -> ParameterError:
        return ParameterError(f"parameter {self.name} = {value!r} is not allowed: it must be {allowed}")


class _DeclaresParameters(Protocol):
    def declare_parameter(self, name: str, value: Any = ...) -> Any: ...


def validate(specs: Sequence[ParameterSpec], values: dict[str, Any]) -> dict[str, Any]:
    """Check each value against its spec; returns the same dict."""
    by_name = {spec.name: spec for spec in specs}
    for name, value in values.items():
        by_name[name].check(value)
    return values


def declare(node: _DeclaresParameters, specs: Sequence[ParameterSpec]) -> dict[str, Any]:
    """Declare every spec on `node` and return {name: validated value}."""
    values = {spec.name: _declare_one(node, spec) for spec in specs}
    return validate(specs, values)


def _declare_one(node: _DeclaresParameters, spec: ParameterSpec) -> Any:
    if isinstance(spec.default, list) and not spec.default:
        from rcl_interfaces.msg import ParameterDescriptor
        from rclpy.parameter import Parameter

        descriptor = ParameterDescriptor(type=Parameter.Type.STRING_ARRAY.value)
        value = node.declare_parameter(spec.name, Parameter.Type.STRING_ARRAY, descriptor).value
        return [] if value is None else list(value)
    value = node.declare_parameter(spec.name, spec.default).value
    return list(value) if isinstance(value, (list, tuple)) else value


def markdown_table(specs: Sequence[ParameterSpec]) -> str:
    """The parameter table the docs show (and tests compare with the docs)."""
    lines = ["| parameter | default | unit / allowed | meaning |", "|---|---|---|---|"]
    for spec in specs:
        allowed = spec.unit or (", ".join(f"`{c}`" for c in spec.choices) if spec.choices else spec._range())
        if spec.unit and spec._range():
            allowed = f"{spec.unit}, {spec._range()}"
        default = "(required)" if spec.non_empty and not spec.default else f"`{_yaml(spec.default)}`"
        lines.append(f"| `{spec.name}` | {default} | {allowed} | {spec.description} |")
    return "\n".join(lines) + "\n"


def _yaml(value: Any) -> str:
    if value == "":
        return '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    return str(value)
