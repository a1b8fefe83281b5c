#!/usr/bin/env bash
# Instruction-count mode on the evaluation suite, through the real binary:
# the base counted twice (A/A), then +1/2/5/10% of real work injected into
# each benchmark in turn, each head compared with the first base by
# `flamegate compare`. Prints one line per comparison: injected benchmark
# and percent, then every benchmark's reported change and verdict.
# Usage: eval/instructions.sh [path/to/flamegate]   (needs valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
flamegate=${1:-target/release/flamegate}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
manifest=eval/suite/Cargo.toml
# Both sides set the variable with values of one length (see eval/suite).
inject() { printf '%-40s@%03d' "$1" "$2"; }
count() {
  FLAMEGATE_EVAL_INJECT="$(inject "$1" "$2")" "$flamegate" --quiet run \
    --manifest-path "$manifest" --measure instructions --out "$3" 2>/dev/null
}
summarise() {
  "$flamegate" compare --manifest-path "$manifest" --base-file "$out/base.json" \
    --head-file "$1" --format json --quiet 2>/dev/null |
    python3 -c '
import json, sys
report = json.load(sys.stdin)
cells = []
for c in sorted(report["comparisons"], key=lambda c: c["id"]):
    change = c["change"]["estimate"] if c.get("change") else float("nan")
    cells.append("%s %+.3f%% %s" % (c["id"], 100 * change, c["verdict"]))
print(sys.argv[1] + ": " + "; ".join(cells))
' "$2"
}
count none 0 "$out/base.json"
count none 0 "$out/again.json"
summarise "$out/again.json" "A/A" || true
benches=$(python3 -c 'import json,sys; print(" ".join(b["id"] for b in json.load(open(sys.argv[1]))["benches"]))' "$out/base.json")
for percent in 1 2 5 10; do
  for bench in $benches; do
    head="$out/head-$percent-${bench//\//_}.json"
    count "$bench" "$percent" "$head"
    summarise "$head" "+$percent% in $bench" || true
  done
done
