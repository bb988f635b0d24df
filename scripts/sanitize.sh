#!/usr/bin/env bash
# The test suite under the sanitizers (docs/architecture.md, "Sanitizer builds").
#   scripts/sanitize.sh address   every ctest test with ASan + LeakSanitizer + UBSan, in build-asan/
#   scripts/sanitize.sh thread    the reload, backend-switch, chat, connection and replica suites
#                                 with TSan, in build-tsan/
#   scripts/sanitize.sh all       both, one after the other (the default)
# Each builds host, plugins, tools and tests instrumented into its own directory
# ($LAKEHOST_BUILD_DIR overrides it for a single sanitizer), then runs ctest with options that
# make any report fatal: the test process, or the `lakehost serve` a test started, exits non-zero
# and the test fails (tests/support/host_process.cpp and host_exit.sh also search the host's log
# for reports). Extra arguments go to ctest, e.g. `scripts/sanitize.sh address -R Reload`.
# Run scripts/install-deps.sh once first (scripts/test.sh does).
set -euo pipefail
cd "$(dirname "$0")/.."
src="$PWD"
which="${1:-all}"
[ $# -gt 0 ] && shift
jobs="${LAKEHOST_TEST_JOBS:-2}"

run_address() {
  local build="${LAKEHOST_BUILD_DIR:-build-asan}"
  LAKEHOST_BUILD_DIR="$build" scripts/build.sh -DLAKEHOST_SANITIZE=address -DLAKEHOST_BUILD_TESTS=ON
  # exitcode=86: a report is told apart from an exit status a test expects (the host's 1 on a
  # refused start-up). Leaks are checked at every instrumented process's exit; the
  # suppressions name only Debian libraries that are not instrumented (see the file).
  export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:exitcode=86:check_initialization_order=1:strict_init_order=1"
  export LSAN_OPTIONS="suppressions=$src/tests/sanitizers/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=86"
  # Sanitized processes are several times slower; tests with timing expectations scale them.
  export LAKEHOST_TEST_TIME_SCALE="${LAKEHOST_TEST_TIME_SCALE:-3}"
  echo "== ASan + UBSan: every test ($build)"
  ctest --test-dir "$build" --output-on-failure -j "$jobs" --timeout 1800 "$@"
}

run_thread() {
  local build="${LAKEHOST_BUILD_DIR:-build-tsan}"
  LAKEHOST_BUILD_DIR="$build" scripts/build.sh -DLAKEHOST_SANITIZE=thread -DLAKEHOST_BUILD_TESTS=ON
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$src/tests/sanitizers/tsan.supp"
  export LAKEHOST_TEST_TIME_SCALE="${LAKEHOST_TEST_TIME_SCALE:-5}"
  echo "== TSan: reload, backend switch, chat, connections, replicas ($build)"
  # postgres_cluster: the fixture that starts and stops the replicas' PostgreSQL.
  ctest --test-dir "$build" --output-on-failure -j "$jobs" --timeout 1800 \
    -R 'Reload\.|BackendSwitch|Chat|Replicas|Connections\.|postgres_cluster|AuthTest\.KeysRotate' "$@"
}

case "$which" in
  address) run_address "$@" ;;
  thread) run_thread "$@" ;;
  all) (run_address "$@") && (run_thread "$@") ;;
  *) echo "usage: $0 [address|thread|all] [ctest arguments]" >&2; exit 2 ;;
esac
