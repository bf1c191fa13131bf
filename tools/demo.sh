#!/usr/bin/env bash
# The simulated demo: what RTC is for, in one command. The same simulated task runs twice, with 200 ms
# of added inference latency emulating a large model: first with RTC (the shipped guidance, merge mode
# rtc), then with naive chunk switching (no guidance, each new chunk played from its row 0:
# guidance_mode:=off executor_mode:=replace). The task, by world (--world):
#   mujoco (default): the MuJoCo twin (docs/twin.md), pick-and-place layout seed 1001, which the
#     twin's policy solves with RTC under this latency; the outcome (cube placed, when, contact force)
#     comes from the physics.
#   kinematic: the kinematic world, seed 0: the arm goes around an obstacle to a target, then a new
#     target 1 s after each one is reached.
# Each run is the emulated servo bus + driver, the world's cameras, the built-in policy for that world
# and the executor, recorded to a rosbag2 for S seconds after its first chunk (16 on the twin, 20 on
# the kinematic world). Then each run's report and plots, one comparison figure of both
# (rtc_tools.demo_figure) and a side-by-side video of both, the front camera over the joint traces
# (rtc_tools.demo_video: MP4 and GIF).
# Usage: tools/demo.sh [--world mujoco|kinematic] [--duration S] [--out DIR] [launch arguments name:=value ...]
# (arguments go to both runs, after the world's story, so seed:=N picks another layout; the naive
# run always gets guidance_mode:=off executor_mode:=replace; DIR defaults to out/demo-<date>-<time>)
set -eo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
world=mujoco
duration=""
out="$ROOT/out/demo-$(date +%Y%m%d-%H%M%S)"
while [ $# -gt 0 ]; do
  case "$1" in
    --world) world="${2:-}"; shift 2 || shift ;;
    --duration) duration="${2:-}"; shift 2 || shift ;;
    --out) out="$(realpath -m "${2:-.}")"; shift 2 || shift ;;
    *) break ;;
  esac
done
case "$world" in
  mujoco) story=(world:=mujoco extra_latency_ms:=200 seed:=1001); duration="${duration:-16}" ;;
  kinematic) story=(world:=kinematic extra_latency_ms:=200 retarget_after_s:=1.0 seed:=0); duration="${duration:-20}" ;;
  *) echo "demo: --world ${world@Q}: expected mujoco or kinematic" >&2; exit 2 ;;
esac
if ! [[ "$duration" =~ ^[0-9]+([.][0-9]+)?$ ]]; then
  echo "demo: --duration ${duration@Q}: expected seconds (a non-negative number)" >&2
  exit 2
fi
cd "$ROOT"
# shellcheck disable=SC1091
source tools/env.sh
load_timeout=240  # importing torch and LeRobot takes half a minute on a busy 2-core machine
mkdir -p "$out"
runner=""
trap '[ -n "$runner" ] && kill -TERM "$runner" 2>/dev/null; wait; exit 130' INT TERM

# run NAME [launch arguments]: the graph, recorded, until `duration` s after its first chunk was.
run() {
  local name="$1" log="$out/$1/nodes.log"
  shift
  mkdir -p "$out/$name"
  echo "demo: $name: starting the simulated graph ($*)"
  python -m rtc_bringup.run --sim --record "$out/$name/bag" "$@" > "$log" 2>&1 &
  runner=$!
  local waited=0
  # The clock starts once the first chunk is in the bag: the policy loaded, the recorder sees it.
  until grep -q "recorder: recording /rtc/action_chunk" "$log"; do
    if ! kill -0 "$runner" 2>/dev/null || [ "$waited" -ge $((load_timeout * 2)) ]; then
      local why="no chunk recorded within ${load_timeout} s"
      kill -0 "$runner" 2>/dev/null || why="the graph stopped before its first chunk"
      kill -TERM "$runner" 2>/dev/null || true
      wait "$runner" || true
      runner=""
      tail -n 30 "$log"
      echo "demo: $name: $why (log: ${log#"$ROOT"/})"
      exit 1
    fi
    sleep 0.5
    waited=$((waited + 1))
  done
  echo "demo: $name: first chunk after $((waited / 2)) s; running for ${duration} s more"
  sleep "$duration"
  kill -TERM "$runner"
  if ! wait "$runner"; then
    tail -n 30 "$log"
    echo "demo: $name: the graph failed (log: ${log#"$ROOT"/})"
    exit 1
  fi
  runner=""
}

echo "demo: RTC against naive chunk switching on the $world world, 200 ms added latency (output in ${out#"$ROOT"/})"
run rtc "${story[@]}" "$@"
run naive "${story[@]}" "$@" guidance_mode:=off executor_mode:=replace
for name in rtc naive; do
  echo
  echo "== $name =="
  python -m rtc_tools.report "$out/$name/bag" --plots "$out/$name" --json "$out/$name/summary.json"
done
echo
python -m rtc_tools.demo_figure "$out/comparison.png" RTC="$out/rtc/bag" naive="$out/naive/bag" \
  --json "$out/comparison.json"
python -m rtc_tools.demo_video "$out/demo.mp4" RTC="$out/rtc/bag" naive="$out/naive/bag" --gif "$out/demo.gif"
