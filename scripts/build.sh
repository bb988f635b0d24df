#!/usr/bin/env bash
# Configures and builds lakehost into ./build (or $LAKEHOST_BUILD_DIR).
# Extra arguments go to cmake, e.g. -DLAKEHOST_SANITIZE=thread. $LAKEHOST_BUILD_JOBS caps ninja -j.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${LAKEHOST_BUILD_DIR:-build}"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
ninja -C "$build" ${LAKEHOST_BUILD_JOBS:+-j "$LAKEHOST_BUILD_JOBS"}
