#!/usr/bin/env bash
# Runs one libFuzzer target of tests/fuzz (docs/fuzzing.md) for a time, under ASan + UBSan with
# leak detection, over a scratch copy of its committed corpus.
#
#   scripts/fuzz.sh list                 the targets
#   scripts/fuzz.sh TARGET SECONDS       fuzz TARGET for SECONDS (e.g. route_bodies 600)
#   scripts/fuzz.sh all SECONDS          each target in turn, SECONDS each
#
# Exits non-zero on a crash, a leak, a sanitizer report, a timeout (an input slower than
# LAKEHOST_FUZZ_TIMEOUT seconds, default 10) or memory beyond LAKEHOST_FUZZ_RSS_MB (default
# 2048). The reproducer is written to $work/crashes/ and the figures (executions, exec/s,
# coverage, features, corpus size) are printed at the end. Installs clang and libFuzzer's
# runtime from Debian when missing (scripts/install-deps.sh --fuzz), builds in build-fuzz (or
# $LAKEHOST_FUZZ_BUILD_DIR) with clang, and works in $work = build-fuzz/runs/TARGET.
#
# New inputs found during a run stay in $work/corpus. To keep the interesting ones, minimise
# them into the committed corpus (only inputs that add coverage are copied):
#   build-fuzz/tests/fuzz/fuzz_TARGET -merge=1 tests/fuzz/corpus/TARGET build-fuzz/runs/TARGET/corpus
# and commit the few new files (small, please: prefer inputs under 4 KiB).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build="${LAKEHOST_FUZZ_BUILD_DIR:-build-fuzz}"
jobs="${LAKEHOST_FUZZ_JOBS:-2}"  # ninja -j

targets() {
  grep -o 'lakehost_fuzz_target([a-z_]*' tests/fuzz/CMakeLists.txt | sed 's/.*(//'
}

usage() {
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

[ $# -ge 1 ] || usage
if [ "$1" = list ]; then
  targets
  exit 0
fi
[ $# -eq 2 ] || usage
target="$1" seconds="$2"
[[ "$seconds" =~ ^[0-9]+$ ]] || usage

if [ "$target" = all ]; then
  status=0
  for t in $(targets); do "$0" "$t" "$seconds" || status=1; done
  exit $status
fi
targets | grep -qx "$target" || { echo "fuzz: no target \"$target\" (scripts/fuzz.sh list)" >&2; exit 2; }

# 1. clang + libFuzzer, from Debian, only when missing (CI's gcc build never needs them).
if ! command -v clang++ >/dev/null || ! clang++ -print-file-name=libclang_rt.fuzzer-x86_64.a |
     grep -q /; then
  scripts/install-deps.sh --fuzz
fi
fuzzer_rt="$(clang++ -print-resource-dir)/lib/linux/libclang_rt.fuzzer-x86_64.a"
[ -f "$fuzzer_rt" ] || scripts/install-deps.sh --fuzz
scripts/install-deps.sh >/dev/null  # the libraries the host and plugins build against

# 2. The instrumented build: coverage (-fsanitize=fuzzer-no-link) and ASan + UBSan everywhere,
#    host library and plugins included; only this target and what it loads are built.
if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DLAKEHOST_BUILD_TESTS=OFF -DLAKEHOST_FUZZ=ON -DLAKEHOST_SANITIZE=address >/dev/null
fi
ninja -C "$build" -j "$jobs" "fuzz_$target"

# 3. A scratch copy of the corpus, so that the committed one is not flooded.
work="$build/runs/$target"
rm -rf "$work"
mkdir -p "$work/corpus" "$work/crashes"
cp tests/fuzz/corpus/"$target"/* "$work/corpus/"
dict=()
[ -f "tests/fuzz/dict/$target.dict" ] && dict=(-dict="$root/tests/fuzz/dict/$target.dict")

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:symbolize=1:detect_stack_use_after_return=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$root/tests/fuzz/ubsan.supp${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
log="$work/fuzz.log"
echo "fuzz: $target for ${seconds}s ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs);" \
  "$(clang++ --version | head -1)); log: $log"
set +e
"$build/tests/fuzz/fuzz_$target" "$work/corpus" "${dict[@]}" \
  -max_total_time="$seconds" -timeout="${LAKEHOST_FUZZ_TIMEOUT:-10}" \
  -rss_limit_mb="${LAKEHOST_FUZZ_RSS_MB:-2048}" -detect_leaks=1 -print_final_stats=1 \
  -artifact_prefix="$work/crashes/" -close_fd_mask=1 >"$log" 2>&1
status=$?
set -e

# 4. The figures.
tail -n 40 "$log" | grep -E '^(#[0-9]+.*(DONE|pulse|NEW|REDUCE)|stat::|==|SUMMARY|Done)' | tail -n 12 || true
last=$(grep -E "^#[0-9]+" "$log" | tail -n 1 || true)
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
echo "fuzz: $target: status $status; executions ${execs:-?}, ${rate:-?} exec/s;" \
  "last status line: $last; corpus files now: $(ls "$work/corpus" | wc -l)"
if [ "$status" -ne 0 ] || [ -n "$(ls -A "$work/crashes")" ]; then
  echo "fuzz: $target FAILED: see $log; reproducer(s): $(ls "$work/crashes" | tr '\n' ' ')" >&2
  echo "fuzz: replay one with $build/tests/fuzz/fuzz_$target FILE" >&2
  exit 1
fi
echo "fuzz: $target clean (no crash, leak, timeout or sanitizer report in ${seconds}s)"
