#!/usr/bin/env bash
# The main job: until the simulated demo exists, a smoke run of the plumbing (an ActionChunk
# published by one process and received by another over DDS).
set -eo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
exec bash tools/test.sh rtc_msgs -q
