# What the release workflow and the Action's install step must read alike,
# sourced by both (`. action/release-lib.sh`): the release's version and
# SHA-256 sums.

# The version in `[workspace.package]` of the Cargo.toml in folder $1: the
# version every crate and the release share.
workspace_version() {
  awk '/^\[workspace\.package\]/ { in_table = 1; next }
    /^\[/ { in_table = 0 }
    in_table && /^version *=/ { gsub(/^version *= *"|".*$/, ""); print; exit }' "$1/Cargo.toml"
}

# SHA-256 sums as sha256sum prints them ("<hash>  <file>"), with macOS's
# shasum where sha256sum is missing (they print alike).
sha256() {
  if command -v sha256sum >/dev/null; then sha256sum "$@"; else shasum -a 256 "$@"; fi
}
