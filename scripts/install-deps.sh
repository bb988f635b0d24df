#!/usr/bin/env bash
# Installs the Debian 12 packages lakehost needs to build, run and test. Idempotent: asks apt
# only for what is missing.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config
  # host and plugins
  # (FAISS links BLAS/LAPACK, but no search goes through them: exact search and re-scoring use
  # the SDK's own kernels, vector_kernels.hpp, whatever BLAS the machine has)
  libpistache-dev libboost-filesystem-dev rapidjson-dev libfaiss-dev libblas-dev liblapack-dev
  libsqlite3-dev libssl-dev libspdlog-dev libcli11-dev libcurl4-openssl-dev libhnswlib-dev
  # tests
  libgtest-dev python3 curl
  # storage-postgres: libpq to build it; a PostgreSQL 15 server for its tests
  # (tests/postgres/pg_cluster.sh runs a throwaway cluster)
  postgresql-15 libpq-dev
)

# `install-deps.sh --fuzz` adds what scripts/fuzz.sh needs: clang, libFuzzer's runtime (with
# the sanitizers' runtimes) and llvm-symbolizer for readable reports. The default install (CI,
# gcc) stays without them.
if [ "${1:-}" = "--fuzz" ]; then
  packages+=(clang libclang-rt-14-dev llvm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The test of the OpenAI-compatible routes runs the official `openai` npm client
# (tests/openai-node): Debian's Node.js (18) and npm, unless a node and npm are already on PATH.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  for p in nodejs npm; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
