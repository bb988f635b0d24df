#!/usr/bin/env bash
# The load generator against a real lakehost on the demo corpus while the default scorer is
# switched between scorer-playbook and scorer-cosine by manifest and reload 50 times: every
# request must succeed (zero non-2xx, zero transport errors). Bounded: about 10 s.
# Usage: loadgen_reload_test.sh LAKEHOST LOADGEN SOURCE_DIR PLUGIN_DIR
set -euo pipefail
# shellcheck source=tests/support/host_exit.sh
. "$(dirname "$0")/../support/host_exit.sh"
lakehost="${1:?usage: $0 LAKEHOST LOADGEN SOURCE_DIR PLUGIN_DIR}"
loadgen="${2:?}"
src="${3:?}"
plugins="${4:?}"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/loadgen-reload.XXXXXX")"
host_pid=""
cleanup() {
  [ -n "$host_pid" ] && { kill -TERM "$host_pid" 2>/dev/null || true; wait "$host_pid" 2>/dev/null || true; }
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in "$tmp"/load.out "$tmp"/load.err "$tmp"/host.log; do
    [ -f "$f" ] && { echo "--- $f" >&2; tail -n 30 "$f" >&2; }
  done
  exit 1
}

mkdir -p "$tmp/manifests" "$tmp/alt"
cp "$src"/manifests/*.json "$tmp/manifests/"
# The two manifest sets, prepared up front: the reload loop only renames files into place.
sed 's/"default": true/"default": false/' "$tmp/manifests/scorer-playbook.json" >"$tmp/alt/playbook-off.json"
sed 's/"default": false/"default": true/' "$tmp/manifests/scorer-cosine.json" >"$tmp/alt/cosine-on.json"
cp "$tmp/manifests/scorer-playbook.json" "$tmp/alt/playbook-on.json"
cp "$tmp/manifests/scorer-cosine.json" "$tmp/alt/cosine-off.json"

"$lakehost" serve --listen 127.0.0.1:0 --port-file "$tmp/port" --no-watch --threads 2 \
  --manifests "$tmp/manifests" --data "$tmp/data" --plugin-dir "$plugins" \
  --demo "$src/data/demo/workers.jsonl" --log-level warn >"$tmp/host.log" 2>&1 &
host_pid=$!
for _ in $(seq 300); do
  [ -s "$tmp/port" ] && break
  kill -0 "$host_pid" 2>/dev/null || fail "lakehost exited during start-up"
  sleep 0.05
done
[ -s "$tmp/port" ] || fail "lakehost did not start within 15 s"
url="http://127.0.0.1:$(cat "$tmp/port")"

# A recorded playbook makes the two scorers' answers differ (boosted 1 vs 0).
curl -sf "$url/v1/matrix/playbooks/record" \
  -d '{"query":"Forklift Operator","role":"Forklift Operator","id":"w0052","score":1}' >/dev/null ||
  fail "recording a playbook failed"

"$loadgen" --url "$url" --concurrency 10 --duration 8s --timeout 5s --fail-on-errors \
  >"$tmp/load.out" 2>"$tmp/load.err" &
load_pid=$!
sleep 0.5
for i in $(seq 1 50); do
  if ((i % 2)); then
    cp "$tmp/alt/playbook-off.json" "$tmp/manifests/.p" && cp "$tmp/alt/cosine-on.json" "$tmp/manifests/.c"
  else
    cp "$tmp/alt/playbook-on.json" "$tmp/manifests/.p" && cp "$tmp/alt/cosine-off.json" "$tmp/manifests/.c"
  fi
  mv "$tmp/manifests/.p" "$tmp/manifests/scorer-playbook.json"
  mv "$tmp/manifests/.c" "$tmp/manifests/scorer-cosine.json"
  code=$(curl -s -o "$tmp/reload.json" -w '%{http_code}' -X POST "$url/v1/admin/reload")
  [ "$code" = 200 ] || fail "reload $i answered $code: $(cat "$tmp/reload.json")"
  sleep 0.1
done
rc=0
wait "$load_pid" || rc=$?
[ $rc -eq 0 ] || fail "loadgen reported errors (exit $rc)"

json="$(tail -n 1 "$tmp/load.err")"
python3 - "$json" <<'PY' || fail "summary check failed: $json"
import json, sys
s = json.loads(sys.argv[1])
ok = sum(n for code, n in s["status"].items() if code.startswith("2"))
assert s["requests"] > 1000, s
assert ok == s["requests"] and s["transport_errors"] == 0, s
print(f"{s['requests']} requests, all 2xx, during 50 reloads; p99 {s['p99_ms']} ms")
PY
gen=$(curl -sf "$url/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["generation"])')
[ "$gen" = 51 ] || fail "generation is $gen, expected 51"
stop_and_check "$host_pid" "$tmp/host.log" lakehost || fail "lakehost did not stop cleanly"
host_pid=""
