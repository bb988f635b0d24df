#!/usr/bin/env bash
# bench/run.sh: lakehost against a bare Pistache baseline, one after the other, on loopback, under
# the SAME lakehost-loadgen settings; prints a markdown block ready for docs/benchmarks.md.
#
#   bench/run.sh [-c CONCURRENCY] [-d DURATION] [-t THREADS] [-w WARMUP] [-r ROUNDS]
#                [--path PATH] [--build-dir DIR] [--skip-build] [--default MANIFEST]...
#                [--api-keys]
#
# --default NAME makes manifests/NAME.json, or manifests/examples/NAME.json, the default plugin of
# its kind for lakehost (e.g. --default vector-hnswlib, --default scorer-cosine); repeatable.
# --api-keys runs lakehost with an API key file and every request (to both servers) carries
# "Authorization: Bearer KEY": the cost of authentication.
#
# ROUNDS (3): baseline and lakehost are measured alternately, ROUNDS times each, and the headline
# is the median of the rounds' ratios: a shared VM's speed drifts by tens of percent within
# minutes, and alternating keeps each ratio's two runs close in time.
#
# Environment (flags win): CONCURRENCY (10), DURATION (30s), THREADS (2, both servers),
# WARMUP (2s, discarded run before each measurement; 0 to skip), LAKEHOST_PATH
# (/v1/matrix/search), BASELINE_PATH (same as LAKEHOST_PATH; the baseline answers any path),
# LAKEHOST_BUILD_DIR (build), BENCH_SKIP_BUILD=1, BENCH_CMAKE_ARGS (extra cmake arguments),
# LOADGEN_ARGS (extra loadgen arguments, e.g. "--k 10").
#
# The report goes to stdout; build output and progress go to stderr.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

concurrency="${CONCURRENCY:-10}"
duration="${DURATION:-30s}"
threads="${THREADS:-2}"
warmup="${WARMUP:-2s}"
rounds="${ROUNDS:-3}"
lakehost_path="${LAKEHOST_PATH:-/v1/matrix/search}"
baseline_path="${BASELINE_PATH:-}"
build="${LAKEHOST_BUILD_DIR:-build}"
skip_build="${BENCH_SKIP_BUILD:-0}"
loadgen_extra="${LOADGEN_ARGS:-}"
loadgen_args="$loadgen_extra"  # what runs; loadgen_extra is what the report shows
loadgen_key=()
defaults=()
api_keys="${BENCH_API_KEYS:-0}"

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    -c | --concurrency) concurrency="$2"; shift 2 ;;
    -d | --duration) duration="$2"; shift 2 ;;
    -t | --threads) threads="$2"; shift 2 ;;
    -w | --warmup) warmup="$2"; shift 2 ;;
    -r | --rounds) rounds="$2"; shift 2 ;;
    --path) lakehost_path="$2"; shift 2 ;;
    --build-dir) build="$2"; shift 2 ;;
    --skip-build) skip_build=1; shift ;;
    --default) defaults+=("$2"); shift 2 ;;
    --api-keys) api_keys=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench/run.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
baseline_path="${baseline_path:-$lakehost_path}"

log() { echo "bench: $*" >&2; }

# ---- build ---------------------------------------------------------------------------------------
if [ "$skip_build" != 1 ]; then
  log "building into $build"
  # shellcheck disable=SC2086  # BENCH_CMAKE_ARGS is a list of words
  if [ -x scripts/build.sh ]; then
    LAKEHOST_BUILD_DIR="$build" scripts/build.sh ${BENCH_CMAKE_ARGS:-} >&2
  else
    cmake -S . -B "$build" -G Ninja ${BENCH_CMAKE_ARGS:-} >&2
    ninja -C "$build" >&2
  fi
fi
loadgen="$build/tools/loadgen/lakehost-loadgen"
baseline="$build/bench/baseline-server/lakehost-baseline-server"
lakehost="$build/host/lakehost"
for b in "$loadgen" "$baseline" "$lakehost"; do
  [ -x "$b" ] || { echo "bench/run.sh: $b is missing (build first)" >&2; exit 1; }
done

# ---- helpers -------------------------------------------------------------------------------------
tmp="$(mktemp -d "${TMPDIR:-/tmp}/lakehost-bench.XXXXXX")"
server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
cleanup() {
  local rc=$?
  stop_server
  if [ $rc -eq 0 ]; then rm -rf "$tmp"; else log "logs kept in $tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_port FILE: the port the server wrote, once it is listening (30 s at most).
wait_port() {
  for _ in $(seq 300); do
    if [ -s "$1" ]; then cat "$1"; return 0; fi
    kill -0 "$server_pid" 2>/dev/null || { log "server exited before listening"; return 1; }
    sleep 0.1
  done
  log "server did not write $1 within 30 s"
  return 1
}

# json_num JSON KEY: a top-level number of the loadgen's one-line summary.
json_num() { sed -n "s/.*\"$2\":\([0-9.eE+-]*\).*/\1/p" <<<"$1"; }
# non_2xx JSON: responses whose status is not 2xx.
non_2xx() {
  sed -n 's/.*"status":{\([^}]*\)}.*/\1/p' <<<"$1" | tr ',' '\n' |
    awk -F: 'NF == 2 { gsub(/"/, "", $1); if ($1 < 200 || $1 >= 300) n += $2 } END { print n + 0 }'
}

# measure NAME PATH: warm-up, then the measured loadgen run against $port; JSON in $tmp/NAME.json.
measure() {
  local name="$1" path="$2"
  # shellcheck disable=SC2086
  if [ "$warmup" != 0 ] && [ "$warmup" != 0s ]; then
    log "$name: warm-up $warmup"
    "$loadgen" --url "http://127.0.0.1:$port" --path "$path" --concurrency "$concurrency" \
      --duration "$warmup" ${loadgen_args:-} "${loadgen_key[@]}" >/dev/null 2>&1 || true
  fi
  log "$name: measuring $duration at concurrency $concurrency on $path"
  # shellcheck disable=SC2086
  "$loadgen" --url "http://127.0.0.1:$port" --path "$path" --concurrency "$concurrency" \
    --duration "$duration" ${loadgen_args:-} "${loadgen_key[@]}" >"$tmp/$name.txt" 2>"$tmp/$name.err"
  tail -n 1 "$tmp/$name.err" >"$tmp/$name.json"
  cat "$tmp/$name.txt" >&2
}

# cpu_idle: percentage of CPU time idle over the next second (other work on the machine skews
# every figure; the load average lags too much to tell).
cpu_idle() {
  local first
  first="$(grep '^cpu ' /proc/stat)"
  sleep 1
  { echo "$first"; grep '^cpu ' /proc/stat; } | awk '
    { t = 0; for (i = 2; i <= 9; i++) t += $i; total[NR] = t; idle[NR] = $5 + $6 }
    END { dt = total[2] - total[1]; printf "%.0f%%", (dt > 0 ? 100 * (idle[2] - idle[1]) / dt : 0) }'
}
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
idle_before="$(cpu_idle)"

# ---- lakehost's manifests ---------------------------------------------------------------------
mkdir -p "$tmp/data" "$tmp/manifests"
cp manifests/*.json "$tmp/manifests/"
for name in "${defaults[@]}"; do
  src="manifests/$name.json"
  [ -f "$src" ] || src="manifests/examples/$name.json"
  [ -f "$src" ] || { echo "bench/run.sh: no manifest $name" >&2; exit 2; }
  cp "$src" "$tmp/manifests/$name.json"
  # The named manifest becomes its kind's only default.
  python3 - "$tmp/manifests" "$name" <<'PY'
import json, pathlib, sys
d, name = pathlib.Path(sys.argv[1]), sys.argv[2]
kind = json.loads((d / f"{name}.json").read_text())["kind"]
for f in d.glob("*.json"):
    m = json.loads(f.read_text())
    if m["kind"] == kind:
        m["default"] = f.stem == name
        m["enabled"] = m.get("enabled", True) or f.stem == name
        f.write_text(json.dumps(m, indent=2) + "\n")
PY
done

# ---- API keys (optional) ----------------------------------------------------------------------
lakehost_keys=()
curl_key=()
if [ "$api_keys" = 1 ]; then
  out="$("$lakehost" keys new --name bench --scopes read,admin)"
  key="$(printf '%s\n' "$out" | sed -n 's/^key .*: \(lh_[0-9a-f]*\)$/\1/p')"
  printf '{"keys": [%s]}\n' "$(printf '%s\n' "$out" | tail -n 1)" >"$tmp/keys.json"
  lakehost_keys=(--api-keys "$tmp/keys.json")
  curl_key=(-H "Authorization: Bearer $key")
  loadgen_extra+=" --header 'Authorization: Bearer lh_...'"
  loadgen_key=(--header "Authorization: Bearer $key")
fi

# ---- measurements: baseline and lakehost alternately, $rounds rounds ------------------------------
for round in $(seq "$rounds"); do
  log "round $round of $rounds: starting the baseline server ($threads threads)"
  rm -f "$tmp/baseline.port" "$tmp/lakehost.port"
  "$baseline" --listen 127.0.0.1:0 --threads "$threads" --port-file "$tmp/baseline.port" \
    >"$tmp/baseline.log" 2>&1 &
  server_pid=$!
  port="$(wait_port "$tmp/baseline.port")"
  measure "baseline-$round" "$baseline_path"
  stop_server
  log "round $round of $rounds: starting lakehost ($threads threads)"
  rm -rf "$tmp/data" && mkdir -p "$tmp/data"
  "$lakehost" serve --listen 127.0.0.1:0 --manifests "$tmp/manifests" --data "$tmp/data" \
    --demo data/demo/workers.jsonl --threads "$threads" --no-watch --port-file "$tmp/lakehost.port" \
    --log-level warn "${lakehost_keys[@]}" >"$tmp/lakehost.log" 2>&1 &
  server_pid=$!
  port="$(wait_port "$tmp/lakehost.port")"
  # The vector kernel lakehost chose for this CPU (reported with every figure).
  kernel="$(curl -s "${curl_key[@]}" "http://127.0.0.1:$port/v1/plugins" |
    sed -n 's/.*"vector_kernel":{"kernel":"\([a-z0-9]*\)".*/\1/p')"
  measure "lakehost-$round" "$lakehost_path"
  stop_server
done

# ---- report --------------------------------------------------------------------------------------
row() {  # row LABEL PATH JSON
  # shellcheck disable=SC2016  # the backquotes are markdown
  printf '| %s | `%s` | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$2" \
    "$(json_num "$3" requests)" "$(awk -v v="$(json_num "$3" rps)" 'BEGIN { printf "%.0f", v }')" \
    "$(json_num "$3" p50_ms)" "$(json_num "$3" p95_ms)" "$(json_num "$3" p99_ms)" \
    "$(json_num "$3" max_ms)" "$(non_2xx "$3")" "$(json_num "$3" transport_errors)"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }
rows=""
ratios=()
for round in $(seq "$rounds"); do
  b="$(cat "$tmp/baseline-$round.json")"
  l="$(cat "$tmp/lakehost-$round.json")"
  r="$(ratio "$(json_num "$l" rps)" "$(json_num "$b" rps)")"
  ratios+=("$r")
  rows+="$(row "baseline (bare Pistache), round $round" "$baseline_path" "$b")"$'\n'
  rows+="$(row "lakehost, round $round (ratio $r)" "$lakehost_path" "$l")"$'\n'
done
median_ratio="$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : sprintf("%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2)) }')"
cpu="$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n 1)"
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
dirty=""
if [ -n "$(git status --porcelain 2>/dev/null)" ]; then dirty=", uncommitted changes"; fi
docs="$(wc -l <data/demo/workers.jsonl | tr -d ' ')"
env_note=""
for v in LAKEHOST_SIMD OPENBLAS_CORETYPE; do
  if [ -n "${!v:-}" ]; then env_note+="; $v=${!v} was set"; fi
done
cmd="CONCURRENCY=$concurrency DURATION=$duration THREADS=$threads WARMUP=$warmup ROUNDS=$rounds"
cmd+=" LAKEHOST_PATH=$lakehost_path"
[ "$baseline_path" != "$lakehost_path" ] && cmd+=" BASELINE_PATH=$baseline_path"
[ -n "${LOADGEN_ARGS:-}" ] && cmd+=" LOADGEN_ARGS='$LOADGEN_ARGS'"
[ "$build" != build ] && cmd+=" LAKEHOST_BUILD_DIR=$build"
cmd+=" bench/run.sh"
[ "$api_keys" = 1 ] && cmd+=" --api-keys"

cat <<EOF

### lakehost vs a bare Pistache baseline ($(date -u +%Y-%m-%d), git $commit$dirty)

- Machine: $(nproc) CPUs ($cpu), $(uname -sr); CPU idle just before the run $idle_before
  (load average $load_before).
- lakehost's vector kernel: **${kernel:-unknown}**$env_note.
- The load generator, the server under test and everything else share the same $(nproc) cores
  (no pinning); the two servers ran one after the other, each with \`--threads $threads\`,
  alternately, $rounds rounds.
- Load: \`lakehost-loadgen --concurrency $concurrency --duration $duration${loadgen_extra:+ $loadgen_extra}\`
  (one thread and one keep-alive socket per connection, the six-query staffing mix), after a
  $warmup warm-up that is not counted.
- Baseline: \`lakehost-baseline-server\`, Pistache + RapidJSON parse + a fixed 1.5 KB
  matrix-search-shaped reply, same endpoint options and keep-alive workaround as lakehost.
- lakehost: \`lakehost serve --manifests manifests --demo data/demo/workers.jsonl${lakehost_keys[*]:+ --api-keys FILE}\` ($docs documents)${defaults[*]:+, defaults switched to: ${defaults[*]}}.
- Command: \`$cmd\`

| server | path | requests | RPS | p50 ms | p95 ms | p99 ms | max ms | non-2xx | transport errors |
|---|---|---|---|---|---|---|---|---|---|
${rows%$'\n'}

lakehost / baseline: **median RPS ratio $median_ratio** over $rounds rounds (${ratios[*]}).
EOF

if [ "${idle_before%\%}" -lt 90 ] 2>/dev/null; then
  echo
  echo "**Note:** the machine was only $idle_before idle just before the run; other work competed"
  echo "for the cores, so treat these figures as noisy."
fi

bad=0
for f in "$tmp"/baseline-*.json "$tmp"/lakehost-*.json; do
  j="$(cat "$f")"
  if [ "$(non_2xx "$j")" != 0 ] || [ "$(json_num "$j" transport_errors)" != 0 ]; then bad=1; fi
done
if [ $bad = 1 ]; then
  echo
  echo "**Warning:** some requests failed (see the non-2xx / transport errors columns);"
  echo "the figures above do not measure successful searches."
  exit 1
fi
