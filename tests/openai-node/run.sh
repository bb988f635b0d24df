#!/usr/bin/env bash
# lakehost's OpenAI-compatible routes through the official `openai` npm client (the versions
# pinned in package-lock.json): a real `lakehost serve` on the default manifests plus chat-openai
# against the local OpenAI protocol server (tests/upstreams/openai_server.py), both on loopback
# ephemeral ports, then `node --test` on openai_client.test.mjs.
# The client is installed with `npm ci` into WORK_DIR (under the build tree) when it is missing
# or the lock file changed; nothing is written into the source tree.
# Usage: run.sh LAKEHOST SOURCE_DIR PLUGIN_DIR WORK_DIR
set -euo pipefail
lakehost="${1:?usage: $0 LAKEHOST SOURCE_DIR PLUGIN_DIR WORK_DIR}"
src="${2:?}"
plugins="${3:?}"
work="${4:?}"
here="$src/tests/openai-node"

for tool in node npm python3; do
  command -v "$tool" >/dev/null || {
    echo "FAIL: $tool is not installed (scripts/install-deps.sh installs it)" >&2
    exit 1
  }
done

# (a) The client, installed once per lock file.
mkdir -p "$work"
if [ ! -d "$work/node_modules" ] || ! cmp -s "$here/package-lock.json" "$work/package-lock.json"; then
  rm -rf "$work/node_modules"
  cp "$here/package.json" "$here/package-lock.json" "$work/"
  echo "npm ci in $work"
  timeout 300 npm ci --no-audit --no-fund --prefix "$work" >"$work/npm-ci.log" 2>&1 || {
    echo "FAIL: npm ci failed:" >&2
    tail -n 30 "$work/npm-ci.log" >&2
    rm -rf "$work/node_modules"
    exit 1
  }
fi
# The test file sits beside node_modules so that `import "openai"` resolves there.
cp "$here/openai_client.test.mjs" "$work/"

# (b) The upstream protocol server and lakehost.
tmp="$(mktemp -d "${TMPDIR:-/tmp}/openai-node.XXXXXX")"
host_pid=""
upstream_pid=""
cleanup() {
  [ -n "$host_pid" ] && { kill -TERM "$host_pid" 2>/dev/null || true; wait "$host_pid" 2>/dev/null || true; }
  [ -n "$upstream_pid" ] && { kill -TERM "$upstream_pid" 2>/dev/null || true; wait "$upstream_pid" 2>/dev/null || true; }
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in "$tmp"/host.log "$tmp"/upstream.log; do
    [ -f "$f" ] && { echo "--- $f" >&2; tail -n 30 "$f" >&2; }
  done
  exit 1
}
wait_port() {  # FILE PID WHAT
  for _ in $(seq 300); do
    [ -s "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || fail "$3 exited during start-up"
    sleep 0.05
  done
  fail "$3 did not start within 15 s"
}

python3 "$src/tests/upstreams/openai_server.py" --port-file "$tmp/upstream.port" >"$tmp/upstream.log" 2>&1 &
upstream_pid=$!
wait_port "$tmp/upstream.port" "$upstream_pid" "openai_server.py"
upstream="http://127.0.0.1:$(cat "$tmp/upstream.port")"

mkdir -p "$tmp/manifests"
cp "$src"/manifests/*.json "$tmp/manifests/"
cat >"$tmp/manifests/chat-openai.json" <<EOF
{"id": "chat-openai", "kind": "chat_provider", "library": "chat-openai.so", "enabled": true,
 "default": true, "config": {"base_url": "$upstream", "model": "gpt-4o-mini", "max_retries": 1,
 "retry_backoff_ms": 10, "stream": true}}
EOF
"$lakehost" serve --listen 127.0.0.1:0 --port-file "$tmp/port" --no-watch \
  --manifests "$tmp/manifests" --data "$tmp/data" --plugin-dir "$plugins" \
  --log-level warn >"$tmp/host.log" 2>&1 &
host_pid=$!
wait_port "$tmp/port" "$host_pid" "lakehost"

# A second host with API keys made by `lakehost keys new`: a read key (the client's apiKey) and
# a write-only one (refused with 403 on the read routes).
new_key() {  # NAME SCOPES -> sets key and entry
  local out
  out="$("$lakehost" keys new --name "$1" --scopes "$2")" || fail "lakehost keys new failed"
  key="$(printf '%s\n' "$out" | sed -n 's/^key .*: \(lh_[0-9a-f]*\)$/\1/p')"
  entry="$(printf '%s\n' "$out" | tail -n 1)"
  [ -n "$key" ] || fail "no key in: $out"
}
new_key node-reader read
read_key="$key" read_entry="$entry"
new_key node-writer write
write_key="$key"
printf '{"keys": [%s, %s]}\n' "$read_entry" "$entry" >"$tmp/keys.json"
"$lakehost" serve --listen 127.0.0.1:0 --port-file "$tmp/keyed.port" --no-watch \
  --manifests "$tmp/manifests" --data "$tmp/keyed-data" --plugin-dir "$plugins" \
  --api-keys "$tmp/keys.json" --log-level warn >"$tmp/keyed.log" 2>&1 &
keyed_pid=$!
wait_port "$tmp/keyed.port" "$keyed_pid" "lakehost with API keys"

# (c) The client's tests.
cd "$work"
status=0
LAKEHOST_URL="http://127.0.0.1:$(cat "$tmp/port")" LAKEHOST_UPSTREAM_URL="$upstream" \
  LAKEHOST_KEYED_URL="http://127.0.0.1:$(cat "$tmp/keyed.port")" \
  LAKEHOST_READ_KEY="$read_key" LAKEHOST_WRITE_KEY="$write_key" \
  timeout 300 node --test openai_client.test.mjs || status=$?
kill -TERM "$keyed_pid" 2>/dev/null || true
wait "$keyed_pid" 2>/dev/null || true
[ "$status" = 0 ] || fail "node --test failed"
