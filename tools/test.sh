#!/usr/bin/env bash
# Runs the linter and the whole test suite (unit tests and ROS tests) in the environment tools/setup.sh made.
# Extra arguments go to pytest, e.g. `tools/test.sh -m "not ros"` or `tools/test.sh rtc_msgs`.
set -eo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck disable=SC1091
source tools/env.sh
# Lint first (ruff.toml): a second, and it names the line.
ruff check --quiet "$ROOT"
# -P: keep the checkout off sys.path, so the source folders (same names as the packages)
# never shadow the built packages in .ws/install.
exec python -P -m pytest "$@"
