#!/usr/bin/env bash
# The SDK works from an install alone: `cmake --install` into a fresh prefix, build the plugin
# template against that prefix (no access to the source tree), and have the installed host load
# it next to the installed default plugins.
set -euo pipefail
build_dir="$1"
tmp=$(mktemp -d)
trap '[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

cmake --install "$build_dir" --prefix "$tmp/prefix" >/dev/null
template="$tmp/prefix/share/lakehost/plugin-template"
test -f "$template/CMakeLists.txt"
cmake -S "$template" -B "$tmp/template-build" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/template-build" >/dev/null
mkdir -p "$tmp/my-plugins" "$tmp/manifests"
install -m 0755 "$tmp/template-build/embed-letters.so" "$tmp/my-plugins/"
exports=$(nm -D --defined-only "$tmp/my-plugins/embed-letters.so" | awk '{print $3}')
[ "$exports" = "lakehost_plugin" ] || { echo "exports more than lakehost_plugin: $exports"; exit 1; }

src=$(cd "$(dirname "$0")/../.." && pwd)
cp "$src"/manifests/*.json "$tmp/manifests/"
cp "$template/manifest.example.json" "$tmp/manifests/embed-letters.json"
"$tmp/prefix/bin/lakehost" serve --listen 127.0.0.1:0 --port-file "$tmp/port" --no-watch \
  --manifests "$tmp/manifests" --data "$tmp/data" \
  --plugin-dir "$tmp/prefix/lib/lakehost/plugins" --plugin-dir "$tmp/my-plugins" \
  >"$tmp/host.log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
[ -s "$tmp/port" ] || { cat "$tmp/host.log"; exit 1; }
port=$(cat "$tmp/port")
reply=$(curl -sf "http://127.0.0.1:$port/v1/embed" -d '{"texts":["abc"],"model":"embed-letters"}')
echo "$reply" | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["model"] == "embed-letters" and r["dimension"] == 36, r
v = r["vectors"][0]
assert abs(sum(x * x for x in v) - 1) < 1e-5, "not unit length"
'
curl -sf "http://127.0.0.1:$port/v1/plugins" | python3 -c '
import json, sys
ids = {p["id"] for p in json.load(sys.stdin)["plugins"]}
assert {"embed-letters", "embed-hash", "vector-faiss", "scorer-cosine", "storage-sqlite"} <= ids, ids
'
# shellcheck source=tests/support/host_exit.sh
. "$src/tests/support/host_exit.sh"
stop_and_check "$pid" "$tmp/host.log" "the installed lakehost"
pid=""
echo "installed SDK: template built and loaded by the installed host"
