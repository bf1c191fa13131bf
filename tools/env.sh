# Source this to enter the environment that tools/setup.sh made: the venv, the ROS 2 wheels and
# this workspace's install space (.ws/install). Usage: source tools/env.sh
# The arm host's profile (tools/setup.sh --arm: .venv-arm, .ws-arm/install): source tools/env.sh --arm
_rtc_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_rtc_venv="$_rtc_root/.venv" _rtc_ws="$_rtc_root/.ws"
if [ "${1:-}" = --arm ]; then _rtc_venv="$_rtc_root/.venv-arm" _rtc_ws="$_rtc_root/.ws-arm"; fi
# shellcheck disable=SC1091
source "$_rtc_venv/bin/activate"
export AMENT_PREFIX_PATH="$_rtc_venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export CMAKE_PREFIX_PATH="$_rtc_venv${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
# shellcheck disable=SC1091
source "$_rtc_ws/install/setup.bash"
# The commands (rtc_run, rtc_report, rtc_keygen, ...) on PATH as the docs print them. ament_python
# packages install console scripts to lib/<package>, where `ros2 run` and launch_ros look for node
# executables (installing them to bin/ instead would break `ros2 run`), so each package's lib/<package>
# is put on PATH rather than installing every script twice.
for _rtc_lib in "$_rtc_ws"/install/*/lib/*; do
  if [ -d "$_rtc_lib" ] && [ "$(basename "$_rtc_lib")" = "$(basename "$(dirname "$(dirname "$_rtc_lib")")")" ]; then
    case ":$PATH:" in *":$_rtc_lib:"*) ;; *) PATH="$_rtc_lib:$PATH" ;; esac
  fi
done
export PATH
unset _rtc_lib
# composition_interfaces (for launch_ros), where tools/setup.sh built it from shared/vendor
if [ -f "$_rtc_ws/vendor/install/setup.bash" ]; then
  # shellcheck disable=SC1091
  source "$_rtc_ws/vendor/install/setup.bash"
fi
unset _rtc_root _rtc_venv _rtc_ws
