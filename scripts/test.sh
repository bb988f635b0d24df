#!/usr/bin/env bash
# Setup command 2: install what the tests need, build everything, run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh -DLAKEHOST_BUILD_TESTS=ON
build="${LAKEHOST_BUILD_DIR:-build}"
cd "$build"
ctest --output-on-failure -j "${LAKEHOST_TEST_JOBS:-2}" --timeout 900
