#!/usr/bin/env bash
# Smoke test of lakehost-loadgen against lakehost-baseline-server on an ephemeral loopback port:
#   1. 2000 requests at concurrency 4 with --fail-on-errors: exit 0, 2000 × 200, no transport
#      errors and no reconnects (the keep-alive workaround holds);
#   2. the baseline answers malformed JSON with 400 and closes on "Connection: close";
#   3. a port nobody listens on: transport errors, exit 1 with --fail-on-errors, 0 without.
# Usage: loadgen_smoke_test.sh LOADGEN BASELINE_SERVER   (each step is bounded; < 30 s in all)
set -euo pipefail
# shellcheck source=tests/support/host_exit.sh
. "$(dirname "$0")/../support/host_exit.sh"
loadgen="${1:?usage: $0 LOADGEN BASELINE_SERVER}"
baseline="${2:?usage: $0 LOADGEN BASELINE_SERVER}"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/loadgen-smoke.XXXXXX")"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  for f in "$tmp"/*.out "$tmp"/*.err "$tmp"/server.log; do
    [ -f "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }
  done
  exit 1
}
expect_json() {  # expect_json FILE FRAGMENT: the loadgen's JSON (last stderr line) contains FRAGMENT
  local json
  json="$(tail -n 1 "$1")"
  grep -qF -- "$2" <<<"$json" || fail "expected $2 in the JSON summary: $json"
}

"$baseline" --listen 127.0.0.1:0 --threads 2 --port-file "$tmp/port" >"$tmp/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  [ -s "$tmp/port" ] && break
  kill -0 "$server_pid" 2>/dev/null || fail "the baseline server exited"
  sleep 0.1
done
[ -s "$tmp/port" ] || fail "the baseline server did not write its port within 10 s"
port="$(cat "$tmp/port")"

# 1. A clean run.
rc=0
timeout 20 "$loadgen" --url "http://127.0.0.1:$port" --requests 2000 --concurrency 4 \
  --duration 15s --timeout 5s --fail-on-errors >"$tmp/ok.out" 2>"$tmp/ok.err" || rc=$?
[ $rc -eq 0 ] || fail "loadgen against the baseline exited $rc"
expect_json "$tmp/ok.err" '"requests":2000,'
expect_json "$tmp/ok.err" '"status":{"200":2000}'
expect_json "$tmp/ok.err" '"transport_errors":0,'
expect_json "$tmp/ok.err" '"reconnects":0,'
expect_json "$tmp/ok.err" '"concurrency":4,'
grep -q 'status 200 *2000' "$tmp/ok.out" || fail "human summary lacks the 200 count"

# 2. Malformed JSON → 400, and the socket is closed after "Connection: close".
# shellcheck disable=SC2016  # $1 expands in the inner shell
reply="$(timeout 5 bash -c '
  exec 3<>"/dev/tcp/127.0.0.1/$1"
  printf "POST /v1/matrix/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\nConnection: close\r\n\r\n{bad" >&3
  cat <&3' _ "$port")" || fail "no reply (or the socket stayed open) for malformed JSON"
grep -q '^HTTP/1.1 400' <<<"$reply" || fail "malformed JSON did not get 400: $reply"

# 3. Nobody listens on port 1 (outside the ephemeral range, so no self-connect either).
rc=0
timeout 20 "$loadgen" --url "http://127.0.0.1:1" --requests 20 --concurrency 2 --timeout 2s \
  --fail-on-errors >"$tmp/refused.out" 2>"$tmp/refused.err" || rc=$?
[ $rc -eq 1 ] || fail "loadgen against a closed port exited $rc, expected 1"
expect_json "$tmp/refused.err" '"requests":20,'
expect_json "$tmp/refused.err" '"transport_errors":20,'
expect_json "$tmp/refused.err" '"status":{}'
rc=0
timeout 20 "$loadgen" --url "http://127.0.0.1:1" --requests 5 --concurrency 1 --timeout 2s \
  >"$tmp/refused2.out" 2>"$tmp/refused2.err" || rc=$?
[ $rc -eq 0 ] || fail "without --fail-on-errors loadgen should exit 0, got $rc"

stop_and_check "$server_pid" "$tmp/server.log" "the baseline server" ||
  fail "the baseline server did not stop cleanly"
server_pid=""
echo "loadgen smoke: OK (2000 × 200 on port $port; closed port → 20 transport errors, exit 1)"
