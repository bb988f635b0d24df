#!/usr/bin/env bash
# The SDK works from an install alone: `cmake --install` into a fresh prefix, build the plugin
# templates (an embedder and a scorer) and an installed example against that prefix (no access to
# the source tree), and have the installed host load and use them next to the installed default
# plugins.
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

# The scorer template, and one of the shipped scorers installed as an example, build the same way.
scorer_template="$tmp/prefix/share/lakehost/plugin-template-scorer"
cmake -S "$scorer_template" -B "$tmp/scorer-build" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/scorer-build" >/dev/null
install -m 0755 "$tmp/scorer-build/scorer-recency.so" "$tmp/my-plugins/"
example="$tmp/prefix/share/lakehost/examples/scorer-cosine"
cmake -S "$example" -B "$tmp/example-build" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/example-build" >/dev/null
test -f "$tmp/example-build/scorer-cosine.so"
for f in scorer-playbook/src/playbook_scorer.cpp scorer-hybrid/README.md; do
  test -f "$tmp/prefix/share/lakehost/examples/$f"
done

src=$(cd "$(dirname "$0")/../.." && pwd)
cp "$src"/manifests/*.json "$tmp/manifests/"
cp "$template/manifest.example.json" "$tmp/manifests/embed-letters.json"
cp "$scorer_template/manifest.example.json" "$tmp/manifests/scorer-recency.json"
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
assert {"embed-letters", "scorer-recency", "embed-hash", "vector-faiss", "scorer-cosine",
        "storage-sqlite"} <= ids, ids
'
# The template scorer ranks by metadata (ABI 1.3 services): four documents with the same text are
# equally distant from any query (not at distance 0: the boost scales the distance); the default scorer keeps them in id order, scorer-recency puts
# the most years first and the document without the field last.
base="http://127.0.0.1:$port/v1/collections/t"
curl -sf -X PUT "$base" >/dev/null
curl -sf "$base/documents" -d '{"documents": [
  {"id": "a", "text": "forklift operator", "metadata": {"years": 1}},
  {"id": "b", "text": "forklift operator", "metadata": {"years": 9}},
  {"id": "c", "text": "forklift operator", "metadata": {"years": 5}},
  {"id": "d", "text": "forklift operator", "metadata": {"shift": "1st"}}]}' >/dev/null
order() {
  curl -sf "$base/search" -d "{\"query\": \"forklift\", \"k\": 4$1}" |
    python3 -c 'import json, sys; print(" ".join(r["id"] for r in json.load(sys.stdin)["results"]))'
}
[ "$(order '')" = "a b c d" ] || { echo "default order: $(order '')"; exit 1; }
[ "$(order ', "scorer": "scorer-recency"')" = "b c a d" ] ||
  { echo "scorer-recency order: $(order ', "scorer": "scorer-recency"')"; exit 1; }
# shellcheck source=tests/support/host_exit.sh
. "$src/tests/support/host_exit.sh"
stop_and_check "$pid" "$tmp/host.log" "the installed lakehost"
pid=""
echo "installed SDK: both templates and an example built, loaded and used by the installed host"
