#!/usr/bin/env bash
# The host's layers (host/CMakeLists.txt, docs/architecture.md "Source map"): a file includes only
# from its own layer and the layers below it, only the http layer sees HTTP (Pistache), and only
# the plugin layer touches a plugin's function table, self pointer or call guard.
#   common  <-  plugin  <-  core  <-  http        (main.cpp wires them together)
#                       <-  conformance           (the plugin contract cases: plugins only)
# Prints every include that breaks the rule and fails if there is one.
set -euo pipefail
src="${1:-$(dirname "$0")/../host/src}"
declare -A allowed=(
  [common]="common"
  [plugin]="common plugin"
  [core]="common plugin core"
  [http]="common plugin core http"
  [conformance]="common plugin conformance"
)
bad=0
for layer in common plugin core http conformance; do
  for file in "$src/$layer"/*; do
    while IFS= read -r line; do
      inc="${line#*\"}"
      inc="${inc%%\"*}"
      dep="${inc%%/*}"
      [ "$dep" = "$inc" ] && continue  # not a host header
      case " ${allowed[$layer]} " in
        *" $dep "*) ;;
        *) echo "${file#"$src"/}: includes \"$inc\" ($layer may not depend on $dep)"; bad=1 ;;
      esac
    done < <(grep -E '^#include "' "$file" || true)
    if [ "$layer" != http ] && grep -qE '^#include <pistache/' "$file"; then
      echo "${file#"$src"/}: includes Pistache (only the http layer sees HTTP)"; bad=1
    fi
    # Plugins are called through the typed layer (plugin/calls.h) only: no function table, self
    # pointer or call guard elsewhere.
    if [ "$layer" != plugin ] && [ "$layer" != common ]; then
      while IFS= read -r hit; do
        echo "${file#"$src"/}:$hit (call plugins through plugin/calls.h)"; bad=1
      done < <(grep -nE 'table<lh_|call_guard\(|(->|\.)self\(\)' "$file" || true)
    fi
  done
done
exit $bad
