"""Rewrite the generated parameter tables in docs/*.md from the nodes' PARAMETERS.

    python tools/parameter_tables.py      (in the environment of tools/env.sh)

A table follows a line `<!-- parameters of <module> (generated ...) -->`; a test fails while a table
and its module disagree.
"""
from __future__ import annotations

import importlib
import re
from pathlib import Path

from rtc_runtime.parameters import markdown_table

MARKER = re.compile(r"<!-- parameters of ([\w.]+) \(generated")


def rewrite(doc: Path) -> bool:
    lines = doc.read_text().split("\n")
    out, i, changed = [], 0, False
    while i < len(lines):
        out.append(lines[i])
        match = MARKER.match(lines[i])
        i += 1
        if match:
            end = i
            while end < len(lines) and lines[end].startswith("|"):
                end += 1
            table = markdown_table(importlib.import_module(match.group(1)).PARAMETERS).rstrip("\n").split("\n")
            changed |= table != lines[i:end]
            out.extend(table)
            i = end
    if changed:
        doc.write_text("\n".join(out))
    return changed


if __name__ == "__main__":
    for path in sorted((Path(__file__).resolve().parents[1] / "docs").glob("*.md")):
        if rewrite(path):
            print(f"rewrote {path}")
