"""Every command the docs print runs as printed, after `source tools/env.sh` (the tests run inside it).

A command is a line of a code block in README.md or docs/*.md that starts with `rtc_...` (a console
script, on PATH through env.sh) or `ros2 run PKG EXECUTABLE` of a package of this repository (in
PKG's lib/PKG, where `ros2 run` looks). Blocks drawn with box-drawing characters are pictures, not commands.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
WORKSPACE_PACKAGES = {p.parent.name for p in ROOT.glob("*/package.xml")}
PICTURE = re.compile(r"[\u2500-\u257f\u25b6]")


def code_lines(page: Path) -> list[tuple[int, str]]:
    """(line number, text) of each line in the page's shell code blocks: fenced (unlabelled, bash, sh)
    or indented by four spaces after a blank line."""
    lines, block, language, start, previous = [], [], None, 0, ""

    def keep(block_start: int, block_lines: list[str]) -> None:
        if not any(PICTURE.search(t) for t in block_lines):
            lines.extend((block_start + i, text) for i, text in enumerate(block_lines))

    indented: list[str] = []
    for number, line in enumerate(page.read_text().splitlines(), 1):
        fence = re.match(r"\s*```(\w*)", line)
        if language is None and line.startswith("    ") and (indented or not previous.strip()):
            if not indented:
                start = number
            indented.append(line)
        elif indented:
            keep(start, indented)
            indented = []
        if fence and language is None:
            language, block, start = fence.group(1), [], number + 1
        elif fence:
            if language in ("", "bash", "sh", "console"):
                keep(start, block)
            language = None
        elif language is not None:
            block.append(line)
        previous = line
    if indented:
        keep(start, indented)
    return lines


def commands() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for number, line in code_lines(page):
            text = re.sub(r"^\s*\$\s*", "", line).strip()
            ros2_run = re.match(r"ros2 run (\w+) ", text)
            if re.match(r"rtc_\w+", text) or (ros2_run and ros2_run.group(1) in WORKSPACE_PACKAGES):
                found.append((f"{page.relative_to(ROOT)}:{number}", text))
    return found


def test_the_docs_print_commands():
    names = {text.split()[0] for _, text in commands()}
    assert {"rtc_sim_eval", "rtc_profile", "rtc_trace_report", "rtc_bus_emulator"} <= names


@pytest.mark.parametrize("where,text", commands(), ids=[where for where, _ in commands()])
def test_a_documented_command_resolves(where, text):
    if text.startswith("ros2 run "):
        from ament_index_python.packages import get_package_prefix

        package, executable = text.split()[2:4]
        prefix = Path(get_package_prefix(package))
        assert (prefix / "lib" / package / executable).is_file(), f"{where}: {package} has no executable {executable}"
    else:
        assert shutil.which(text.split()[0]), f"{where}: {text.split()[0]} is not on PATH after source tools/env.sh"
