# Source this to enter the environment that tools/setup.sh made: the venv, the ROS 2 wheels and
# this workspace's install space (.ws/install). Usage: source tools/env.sh
_rtc_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC1091
source "$_rtc_root/.venv/bin/activate"
export AMENT_PREFIX_PATH="$_rtc_root/.venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export CMAKE_PREFIX_PATH="$_rtc_root/.venv${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
# shellcheck disable=SC1091
source "$_rtc_root/.ws/install/setup.bash"
# composition_interfaces (for launch_ros), where tools/setup.sh built it from shared/vendor
if [ -f "$_rtc_root/.ws/vendor/install/setup.bash" ]; then
  # shellcheck disable=SC1091
  source "$_rtc_root/.ws/vendor/install/setup.bash"
fi
unset _rtc_root
