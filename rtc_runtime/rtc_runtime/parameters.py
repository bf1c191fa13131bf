"""Node parameters as data: declared, validated and documented from one table per node.

Each node lists its parameters as `ParameterSpec`s. `declare(node, specs)` declares them all and
checks every value before the node does any work, so a bad value is one `ParameterError` naming the
parameter and what it allows (the node main turns it into one line and exit code 2). Docs tables
are checked against the same specs by tests, so they cannot drift.

Each spec is also a ROS `ParameterDescriptor` (`descriptor()`): description with its unit, the range
as a FloatingPointRange/IntegerRange, choices and other limits as additional_constraints, and
`read_only` unless the spec is `settable`. So `ros2 param describe` and rqt's parameter editor show
them, and `ros2 param set` of a read-only parameter fails with rclpy's reason instead of being
ignored. A settable parameter's new value passes the same `check` (a callback `declare` installs)
before rclpy stores it; the node reads it where it applies (`node.get_parameter(name).value`).
LeRobot's names of some parameters are accepted too (`rtc_runtime.lerobot_names`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from collections.abc import Sequence

from rtc_runtime.lerobot_names import lerobot_names_of, with_our_names

__all__ = ["ParameterError", "ParameterSpec", "declare", "defaults", "markdown_table", "validate"]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_KINDS = {bool: "a boolean", int: "an integer", float: "a double", str: "a string", list: "a list"}


class ParameterError(ValueError):
    """A parameter value the node cannot run with. Its text is the whole message for the user."""


@dataclass(frozen=True)
class ParameterSpec:
    """One parameter: name, default (its type is the parameter's type), unit, meaning and limits.

    choices: the allowed values (strings, or each element of a string list);
    minimum / maximum: inclusive bounds of a number (of each element of a number list); above_minimum:
    the bound is exclusive;
    non_empty: a string or list that may not be empty; unique: a list without repeats.
    settable: the node applies a new value while it runs (`ros2 param set`); all others are read-only.
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
    settable: bool = False

    def check(self, value: Any) -> Any:
        """`value` if it is allowed, else ParameterError."""
        if isinstance(self.default, list) and not isinstance(value, (list, tuple)) and value is not None:
            value = list(value)  # a ROS array value (array.array)
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

    def descriptor(self):
        """This spec as an rcl_interfaces ParameterDescriptor (what `ros2 param describe` shows)."""
        from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
        from rclpy.parameter import Parameter

        element = self.default[0] if isinstance(self.default, list) and self.default else self.default
        kind = Parameter.Type.STRING_ARRAY if self.default == [] else Parameter.Type.from_parameter_value(self.default)
        description = f"{self.description} [{self.unit}]" if self.unit else self.description
        descriptor = ParameterDescriptor(name=self.name, type=kind.value, description=description,
                                         read_only=not self.settable,
                                         additional_constraints=self.constraints())
        bounded = self.minimum is not None or self.maximum is not None
        if bounded and isinstance(element, float):
            descriptor.floating_point_range = [FloatingPointRange(
                from_value=-math.inf if self.minimum is None else float(self.minimum),
                to_value=math.inf if self.maximum is None else float(self.maximum))]
        elif bounded and isinstance(element, int) and not isinstance(element, bool):
            low = INT64_MIN if self.minimum is None else \
                (math.floor(self.minimum) + 1 if self.above_minimum else math.ceil(self.minimum))
            high = INT64_MAX if self.maximum is None else math.floor(self.maximum)
            descriptor.integer_range = [IntegerRange(from_value=low, to_value=high)]
        return descriptor

    def constraints(self) -> str:
        """The limits a ROS range cannot say, in words (ParameterDescriptor.additional_constraints)."""
        parts = []
        if self.choices is not None:
            parts.append("one of " + ", ".join(map(str, self.choices)))
        if self.above_minimum and self.minimum is not None:
            parts.append(f"> {self.minimum:g}")
        if isinstance(self.default, list) and self._range():
            parts.append(f"each element {self._range()}")
        if self.non_empty:
            parts.append("required (not empty)")
        if self.unique:
            parts.append("no repeats")
        if isinstance(self.default, float) or (isinstance(self.default, list) and self.default
                                               and isinstance(self.default[0], float)):
            parts.append("finite")
        if self.settable:
            parts.append("settable while running")
        return "; ".join(parts)


def validate(specs: Sequence[ParameterSpec], values: dict[str, Any]) -> dict[str, Any]:
    """Check each value against its spec; returns the same dict."""
    by_name = {spec.name: spec for spec in specs}
    for name, value in values.items():
        by_name[name].check(value)
    return values


def defaults(specs: Sequence[ParameterSpec]) -> dict[str, Any]:
    """{name: default}: what a node runs with where nothing sets a parameter."""
    return {spec.name: spec.default for spec in specs}


def declare(node, specs: Sequence[ParameterSpec]) -> dict[str, Any]:
    """Declare every spec on the rclpy `node` with its descriptor and return {name: validated value}.

    A value set later (`ros2 param set`, `node.set_parameters`) passes the spec's check first; a
    refusal's reason is the ParameterError's text. A value given under its LeRobot name counts as
    given under ours; both names with different values is a ParameterError."""
    from rcl_interfaces.msg import SetParametersResult

    by_name = {spec.name: spec for spec in specs}
    lerobot_values = {spec.name: _lerobot_name_value(node, spec) for spec in specs if lerobot_names_of(spec.name)}

    def on_set(parameters) -> SetParametersResult:
        for parameter in parameters:
            spec = by_name.get(parameter.name)
            if spec is None:
                continue
            try:
                spec.check(_plain(spec, parameter.value))
            except ParameterError as err:
                return SetParametersResult(successful=False, reason=str(err))
        return SetParametersResult(successful=True)

    node.add_on_set_parameters_callback(on_set)
    values = {spec.name: _declare_one(node, spec, lerobot_values.get(spec.name)) for spec in specs}
    return validate(specs, values)


def _plain(spec: ParameterSpec, value: Any) -> Any:
    """A ROS parameter value as the spec's Python type (arrays as lists, an unset list as [])."""
    if isinstance(spec.default, list):
        return [] if value is None else list(value)
    return value


def _declare_one(node, spec: ParameterSpec, lerobot_value: Any) -> Any:
    """Declare one spec (default: the value given under a LeRobot name, if any); rclpy's refusals
    as ParameterError in the spec's words."""
    from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
    from rclpy.parameter import Parameter

    default = spec.default if lerobot_value is None else lerobot_value
    try:
        if default == []:  # rclpy cannot infer the type of []
            value = node.declare_parameter(spec.name, Parameter.Type.STRING_ARRAY, spec.descriptor()).value
        else:
            value = node.declare_parameter(spec.name, default, spec.descriptor()).value
    except InvalidParameterValueException as err:
        given = getattr(node, "_parameter_overrides", {}).get(spec.name)  # rclpy's error does not keep it
        spec.check(_plain(spec, default if given is None else given.value))  # raises, in our words
        raise ParameterError(f"parameter {spec.name}: {err}") from None
    except InvalidParameterTypeException as err:
        raise ParameterError(f"parameter {spec.name} has the wrong type: {err}") from None
    return _plain(spec, value)


def _lerobot_name_value(node, spec: ParameterSpec) -> Any:
    """The value given under one of the parameter's LeRobot names when ours is not given (None
    otherwise); a ParameterError when two names are given with different values. Each name is
    declared once without a type to read what the parameter file or command line gave, then
    undeclared (only ours stays)."""
    given = {}
    for name in (spec.name, *lerobot_names_of(spec.name)):
        probe = node.declare_parameter(name, None, _dynamically_typed())
        node.undeclare_parameter(name)
        if probe.value is not None:
            given[name] = probe.value
    try:
        with_our_names(given)
    except ValueError as err:
        raise ParameterError(str(err)) from None
    if not given or spec.name in given:
        return None
    name, value = next(iter(given.items()))
    if type(_plain(spec, value)) is not type(spec.default):  # as strict as rclpy is with our name
        raise ParameterError(f"parameter {name} = {value!r} (LeRobot's name for {spec.name}) has the wrong type: "
                             f"{spec.name} is {_KINDS[type(spec.default)]} (default {_yaml(spec.default)})")
    return value


def _dynamically_typed():
    from rcl_interfaces.msg import ParameterDescriptor

    return ParameterDescriptor(dynamic_typing=True)


def markdown_table(specs: Sequence[ParameterSpec]) -> str:
    """The parameter table the docs show (and tests compare with the docs)."""
    lines = ["| parameter | default | unit / allowed | meaning |", "|---|---|---|---|"]
    for spec in specs:
        allowed = spec.unit or (", ".join(f"`{c}`" for c in spec.choices) if spec.choices else spec._range())
        if spec.unit and spec._range():
            allowed = f"{spec.unit}, {spec._range()}"
        default = "(required)" if spec.non_empty and not spec.default else f"`{_yaml(spec.default)}`"
        meaning = f"{spec.description}; **settable while running**" if spec.settable else spec.description
        lines.append(f"| `{spec.name}` | {default} | {allowed} | {meaning} |")
    return "\n".join(lines) + "\n"


def _yaml(value: Any) -> str:
    if value == "":
        return '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    return str(value)
