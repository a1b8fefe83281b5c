#!/usr/bin/env bash
# The SHA-256 of everything compiled into the flamegate binary, in the folder
# given (default: this action's): its manifests and lock file, its sources,
# the hook crates and the demo's embedded project. The release workflow
# attaches it to each release (flamegate-source.sha256) and the install step
# compares it with the action's own, so a binary is used only for the exact
# source it was built from.
set -euo pipefail
. "$(dirname "$0")/release-lib.sh"
cd "${1:-$(dirname "$0")/..}"
find Cargo.lock Cargo.toml src crates demo/shop -type f -not -path '*/target/*' |
  LC_ALL=C sort | while IFS= read -r file; do sha256 "$file"; done | sha256 | cut -d' ' -f1
