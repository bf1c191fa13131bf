"""Merge rtc_sim_eval JSONs of one sweep run in parts (one process per seed set, H, mode or delay)
into one file in the CLI's layout, and draw the protocol's figure from it.

    python -m rtc_sim_eval.merge OUT.json PART.json [PART.json ...] [--plot OUT.png]

A protocol cell (mode, H, delay) does not depend on which other cells ran in the same process
(episodes are seeded per episode, the delay estimate is carried within a cell only), so parts of
one sweep merge into the file the whole sweep would have written. Parts must agree on every setting
but the swept ones (modes, horizons, latency profiles); a cell in two parts must have the same
figures in both (a re-run), else the merge refuses.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rtc_sim_eval.protocol import by_horizon

SWEPT = ("modes", "horizons", "latency_profiles", "trigger_remaining_by_horizon")


def _profile_order(spec: str) -> tuple:
    """fixed:D by D first, then the other profiles by name."""
    kind, _, value = spec.partition(":")
    return (0, int(value), "") if kind == "fixed" and value.isdigit() else (1, 0, spec)


def _union(lists) -> list:
    return list(dict.fromkeys(item for items in lists for item in items))


def _merge_cells(into: dict, part: dict, path: tuple, depth: int) -> None:
    """Copy `part`'s cells (`depth` levels below results) into `into`; a cell present in both must be equal."""
    for key, value in part.items():
        if depth == 0:
            if key in into and into[key] != value:
                raise ValueError(f"results{''.join(f'[{k!r}]' for k in (*path, key))}: two parts give "
                                 "different figures for the same cell")
            into[key] = value
        else:
            _merge_cells(into.setdefault(key, {}), value, (*path, key), depth - 1)


def merge_reports(reports: list[dict]) -> dict:
    """One report in the CLI's layout holding every part's cells; ValueError when parts disagree on a
    setting that is not swept, on the JSON's levels, or on a cell's figures."""
    if not reports:
        raise ValueError("nothing to merge")
    first = reports[0]["settings"]
    for report in reports[1:]:
        settings = report["settings"]
        for key in sorted(set(first) | set(settings)):
            if key not in SWEPT and first.get(key) != settings.get(key):
                raise ValueError(f"settings[{key!r}] differs between parts: {first.get(key)!r} and "
                                 f"{settings.get(key)!r}")
        for horizon, trigger in settings["trigger_remaining_by_horizon"].items():
            known = first["trigger_remaining_by_horizon"].get(horizon, trigger)
            if known != trigger:
                raise ValueError(f"trigger_remaining for H = {horizon} differs between parts: {known} and {trigger}")
    results: dict = {}
    for report in reports:
        _merge_cells(results, report["results"], (), len(first["levels"]))
    settings = dict(first)
    settings["modes"] = _union(r["settings"]["modes"] for r in reports)
    settings["horizons"] = _union(r["settings"]["horizons"] for r in reports)
    settings["latency_profiles"] = sorted(_union(r["settings"]["latency_profiles"] for r in reports),
                                          key=_profile_order)
    settings["trigger_remaining_by_horizon"] = {
        h: t for r in reports for h, t in r["settings"]["trigger_remaining_by_horizon"].items()}
    return {"settings": settings, "results": {mode: results[mode] for mode in settings["modes"]}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the merged JSON")
    parser.add_argument("parts", type=Path, nargs="+", help="rtc_sim_eval --json files of one sweep")
    parser.add_argument("--plot", type=Path, help="write the protocol's figure (success, measured seam jerk) here")
    args = parser.parse_args(argv)
    try:
        report = merge_reports([json.loads(path.read_text()) for path in args.parts])
    except (ValueError, KeyError, OSError, json.JSONDecodeError) as error:
        print(f"rtc_sim_eval.merge: {error}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    if args.plot:
        from rtc_sim_eval.plots import plot_protocol

        args.plot.parent.mkdir(parents=True, exist_ok=True)
        plot_protocol(by_horizon(report), args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
