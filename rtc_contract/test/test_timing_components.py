"""/rtc/timing's fields and the component names: every named field exists, is a float64 in ms, and
its comment in InferenceTiming.msg names the same component."""
from __future__ import annotations

from pathlib import Path

from rtc_contract.timing_components import COMPONENTS, PARTS, WHOLE


def field_comments() -> dict[str, tuple[str, str]]:
    """field -> (type, the comment lines just above it), from the installed .msg file."""
    from ament_index_python.packages import get_package_share_directory

    text = (Path(get_package_share_directory("rtc_msgs")) / "msg" / "InferenceTiming.msg").read_text()
    fields, comment = {}, []
    for line in text.splitlines():
        if line.startswith("#"):
            comment.append(line)
        elif line.strip():
            kind, name = line.split()[:2]
            fields[name] = (kind, " ".join(comment))
            comment = []
        else:
            comment = []
    return fields


def test_every_component_field_is_documented_with_its_unit_and_name():
    fields = field_comments()
    for name, component in COMPONENTS.items():
        kind, comment = fields[name]
        assert kind == "float64" and name.endswith("_ms")
        assert "ms" in comment and f"[{component}]" in comment, name


def test_the_parts_are_components_and_the_whole_is_obs_to_chunk():
    assert set(PARTS) < set(COMPONENTS) and COMPONENTS["end_to_end_ms"] == WHOLE
