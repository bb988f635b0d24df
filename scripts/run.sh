#!/usr/bin/env bash
# Setup command 1: install, build, and start lakehost on 127.0.0.1:8080 with the default
# manifests and the demo corpus loaded into the collection "workers". Ctrl-C stops it.
# Extra arguments go to `lakehost serve` (see `lakehost serve --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
LAKEHOST_BUILD_TESTS=OFF scripts/build.sh -DLAKEHOST_BUILD_TESTS=OFF
build="${LAKEHOST_BUILD_DIR:-build}"
exec "$build/host/lakehost" serve \
  --listen "${LAKEHOST_LISTEN:-127.0.0.1:8080}" \
  --manifests manifests \
  --data "${LAKEHOST_DATA:-data/run}" \
  --demo data/demo/workers.jsonl \
  "$@"
