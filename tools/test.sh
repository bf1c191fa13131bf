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
# With no arguments, a developer's run leaves out the tests marked slow (the system tests that run the
# whole graph, the twin's expert over 40 seeds, the arm profile's build) so that it stays under 30
# minutes on two cores; CI (CI=true) and RTC_TEST_ALL=1 run every test.
if [ $# -eq 0 ] && [ -z "${CI:-}" ] && [ -z "${RTC_TEST_ALL:-}" ]; then
  echo "test: leaving out the tests marked slow; RTC_TEST_ALL=1 make test (or CI=true) runs them too"
  set -- -m "not slow"
fi
exec python -P -m pytest "$@"
