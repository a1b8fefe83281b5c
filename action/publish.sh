#!/usr/bin/env bash
# The publish step of action.yml: the only step that holds GITHUB_TOKEN. It
# runs flamegate alone (no code of the pull request), checks the report's
# acceptances on GitHub, posts the comment and check run, and gives the
# final verdict. Inputs arrive as FLAMEGATE_INPUT_* environment variables.
set -uo pipefail

input() { local name="FLAMEGATE_INPUT_$1"; printf '%s' "${!name:-}"; }

out_dir=$(input OUT_DIR)
out_dir=${out_dir:-flamegate-report}
report="$out_dir/report.json"
if [ ! -f "$report" ]; then
  echo "flamegate: no $report (the gate step stopped before writing one); nothing to publish"
  exit 0
fi
args=(publish --report "$report" --comment "$(input COMMENT)")
[ "$(input CHECK_RUN)" = true ] && args+=(--check-run)
gate=true
[ "$(input FAIL_ON_REGRESSION)" = false ] && gate=false
[ "$gate" = true ] && args+=(--gate)

flamegate "${args[@]}"
code=$?
if [ "$code" = 1 ]; then
  [ -n "${GITHUB_OUTPUT:-}" ] && echo "exit-code=1" >>"$GITHUB_OUTPUT"
  exit 1
fi
if [ "$code" != 0 ]; then
  # Publishing problems are warnings: the verdict is the gate's.
  echo "::warning title=flamegate::publishing the report did not fully succeed (exit $code); see the log above"
fi
exit 0
