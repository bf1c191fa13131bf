#!/usr/bin/env bash
# The simulated demo: bus emulator + driver, simulated camera, built-in policy with RTC, executor,
# for a fixed time, recorded to a rosbag2; then a short report and PNG plots.
# Usage: tools/demo.sh [--duration S] [launch arguments name:=value ...]
set -eo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck disable=SC1091
source tools/env.sh
duration=30
if [ "${1:-}" = "--duration" ]; then duration="$2"; shift 2; fi
out="$ROOT/out/demo-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
echo "demo: running the simulated graph for ${duration} s (output in ${out#"$ROOT"/})"
python -m rtc_bringup.run --sim --duration "$duration" --record "$out/bag" "$@" > "$out/nodes.log" 2>&1 \
  || { tail -n 30 "$out/nodes.log"; echo "demo: the graph failed (log: $out/nodes.log)"; exit 1; }
echo
python -m rtc_bringup.report "$out/bag" --plots "$out" --json "$out/summary.json"
