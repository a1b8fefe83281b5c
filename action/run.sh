#!/usr/bin/env bash
# The gate step of action.yml, and exactly what the Actions end-to-end test
# runs. Inputs arrive as FLAMEGATE_INPUT_* environment variables (set by
# action.yml's `env:`), never spliced into shell code.
set -uo pipefail

input() { local name="FLAMEGATE_INPUT_$1"; printf '%s' "${!name:-}"; }
# Bench names from the workflow: split into words, never expanded as globs.
read -r -a benches <<<"$(input BENCHES)"

out_dir=$(input OUT_DIR)
out_dir=${out_dir:-flamegate-report}
# No token in this step: it builds and runs the pull request's code. The
# publish step (action/publish.sh) checks acceptances and posts.
args=(check --defer-acceptances --out-dir "$out_dir")
manifest=$(input MANIFEST_PATH)
[ -n "$manifest" ] && args+=(--manifest-path "$manifest")
config=$(input CONFIG)
[ -n "$config" ] && args+=(--config "$config")
base_ref=$(input BASE_REF)
[ -n "$base_ref" ] && args+=(--base-ref "$base_ref")
for bench in "${benches[@]}"; do
  args+=(--bench "$bench")
done
case "$(input MODE)" in
  paired | "")
    args+=(--paired)
    rounds=$(input ROUNDS)
    [ -n "$rounds" ] && args+=(--rounds "$rounds")
    budget=$(input BUDGET)
    [ -n "$budget" ] && args+=(--budget "$budget")
    ;;
  stored)
    # A repository's first pull requests have no stored baseline yet:
    # check paired instead of failing (the report says so).
    args+=(--paired-if-no-baseline)
    ;;
  *)
    echo "::error title=flamegate::input mode must be 'stored' or 'paired'"
    exit 2
    ;;
esac
measure=$(input MEASURE)
[ -n "$measure" ] && args+=(--measure "$measure")

shard=$(input SHARD)
merge_from=$(input MERGE_FROM)
if [ -n "$shard" ] && [ -n "$merge_from" ]; then
  echo "::error title=flamegate::inputs shard and merge-from exclude each other"
  exit 2
fi
if [ -n "$shard" ]; then
  # A shard job measures and uploads; the merge job gives the verdict.
  args=(check --shard "$shard" --out-dir "$out_dir")
  [ -n "$manifest" ] && args+=(--manifest-path "$manifest")
  [ -n "$config" ] && args+=(--config "$config")
  [ -n "$base_ref" ] && args+=(--base-ref "$base_ref")
  for bench in "${benches[@]}"; do
    args+=(--bench "$bench")
  done
  [ -n "$measure" ] && args+=(--measure "$measure")
  if [ "$(input MODE)" != stored ]; then
    # Each shard's rounds are its own (adaptive by default); merge joins them.
    args+=(--paired)
    rounds=$(input ROUNDS)
    [ -n "$rounds" ] && args+=(--rounds "$rounds")
    budget=$(input BUDGET)
    [ -n "$budget" ] && args+=(--budget "$budget")
  fi
  [ -n "${GITHUB_OUTPUT:-}" ] && echo "shard-index=${shard%%/*}" >>"$GITHUB_OUTPUT"
elif [ -n "$merge_from" ]; then
  shopt -s nullglob
  records=("$merge_from"/shard-*.json)
  if [ ${#records[@]} = 0 ]; then
    echo "::error title=flamegate::no shard records (shard-*.json) in $merge_from"
    exit 2
  fi
  # Same flags as the gate, with the records instead of a benchmark run.
  merge_args=(merge "${records[@]}" --defer-acceptances --out-dir "$out_dir")
  [ -n "$manifest" ] && merge_args+=(--manifest-path "$manifest")
  [ -n "$config" ] && merge_args+=(--config "$config")
  [ -n "$base_ref" ] && merge_args+=(--base-ref "$base_ref")
  args=("${merge_args[@]}")
fi

flamegate "${args[@]}"
code=$?

# The fork-safe publisher (workflow_run) reads the event from the artifact
# only to show it; it takes the pull request from its own event.
if [ -n "${GITHUB_EVENT_PATH:-}" ] && [ -d "$out_dir" ]; then
  cp "$GITHUB_EVENT_PATH" "$out_dir/event.json" 2>/dev/null || true
fi
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  {
    echo "exit-code=$code"
    echo "report=$out_dir/report.json"
  } >>"$GITHUB_OUTPUT"
fi
if [ "$code" = 1 ] && [ "$(input FAIL_ON_REGRESSION)" = false ]; then
  echo "flamegate: a benchmark regressed; not failing the job (fail-on-regression: false)"
  exit 0
fi
exit "$code"
