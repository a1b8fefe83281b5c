#!/usr/bin/env bash
# The SHA-256 of everything compiled into the flamegate binary, in the folder
# given (default: this action's): its manifests and lock file, its sources,
# the hook crates and the demo's embedded project. The release workflow
# attaches it to each release (flamegate-source.sha256) and the install step
# compares it with the action's own, so a binary is used only for the exact
# source it was built from. sha256sum and shasum -a 256 print alike.
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
sum() { if command -v sha256sum >/dev/null; then sha256sum "$@"; else shasum -a 256 "$@"; fi; }
find Cargo.lock Cargo.toml src crates demo/shop -type f -not -path '*/target/*' |
  LC_ALL=C sort | while IFS= read -r file; do sum "$file"; done | sum | cut -d' ' -f1
