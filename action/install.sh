#!/usr/bin/env bash
# The install step of action.yml: the release binaries matching this
# action's version (the workspace version in its Cargo.toml) and built from
# its exact source, for this runner, with their SHA-256 checksum verified;
# built from source only when no release matches (the action used from a
# checkout, `uses: ./`, a commit between releases, a version not released
# yet). A download whose checksum does not match is
# refused, never installed and never replaced by a build.
#
# Environment: GITHUB_ACTION_PATH (the action's files), RUNNER_OS and
# RUNNER_ARCH (as GitHub sets them), FLAMEGATE_ACTION_REPOSITORY (owner/name
# the action was used from; empty for `uses: ./`), GITHUB_SERVER_URL.
# FLAMEGATE_RELEASE_URL replaces "$GITHUB_SERVER_URL/<repository>/releases/download"
# (a mirror, or the tests' local stand-in); FLAMEGATE_INSTALL_DIR the
# directory the binaries go to (default ~/.cargo/bin).
set -euo pipefail

action_dir=${GITHUB_ACTION_PATH:?must name the folder of the action}
install_dir=${FLAMEGATE_INSTALL_DIR:-$HOME/.cargo/bin}
. "$action_dir/action/release-lib.sh"
version=$(workspace_version "$action_dir")
if [ -z "$version" ]; then
  echo "::error title=flamegate::no [workspace.package] version in $action_dir/Cargo.toml"
  exit 2
fi

case "${RUNNER_OS:-}/${RUNNER_ARCH:-}" in
  Linux/X64) target=x86_64-unknown-linux-gnu ;;
  Linux/ARM64) target=aarch64-unknown-linux-gnu ;;
  macOS/X64) target=x86_64-apple-darwin ;;
  macOS/ARM64) target=aarch64-apple-darwin ;;
  *) target= ;;
esac

build_from_source() {
  echo "flamegate $version: $1; building it from source (several minutes)"
  cargo install --locked --root "$(dirname "$install_dir")" --path "$action_dir"
}

repository=${FLAMEGATE_ACTION_REPOSITORY:-}
if [ -z "${FLAMEGATE_RELEASE_URL:-}" ] && [ -z "$repository" ]; then
  build_from_source "the action runs from a checkout (uses: ./), whose code may be newer than any release"
  exit 0
fi
if [ -z "$target" ]; then
  build_from_source "no release binary is built for ${RUNNER_OS:-this OS} on ${RUNNER_ARCH:-this architecture}"
  exit 0
fi
base=${FLAMEGATE_RELEASE_URL:-${GITHUB_SERVER_URL:-https://github.com}/$repository/releases/download}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# HTTP status of downloading $1 to $2 (000 when there was no answer).
fetch() {
  curl --silent --show-error --location --retry 3 --output "$2" --write-out '%{http_code}' "$1" || true
}

# The release's binaries serve only the exact source they were built from:
# an action pinned to a commit between two releases has the version of the
# last one and may call options its binary lacks.
status=$(fetch "$base/v$version/flamegate-source.sha256" "$work/source.sha256")
if [ "$status" != 200 ]; then
  build_from_source "no release v$version at $base (HTTP $status)"
  exit 0
fi
ours=$(bash "$action_dir/action/source-digest.sh" "$action_dir")
if [ "$(cut -d' ' -f1 <"$work/source.sha256")" != "$ours" ]; then
  build_from_source "release v$version was built from other sources than this action's (a commit between releases)"
  exit 0
fi
archive=flamegate-$target.tar.xz
url=$base/v$version/$archive
status=$(fetch "$url" "$work/$archive")
if [ "$status" != 200 ]; then
  build_from_source "no release binary at $url (HTTP $status)"
  exit 0
fi
# The checksum file must come with the archive: an archive that cannot be
# checked is not installed.
if [ "$(fetch "$url.sha256" "$work/$archive.sha256")" != 200 ]; then
  echo "::error title=flamegate::$url.sha256 could not be downloaded, so $archive cannot be verified; refusing to install it"
  exit 1
fi
expected=$(cut -d' ' -f1 <"$work/$archive.sha256" | tr 'A-F' 'a-f')
actual=$(sha256 "$work/$archive" | cut -d' ' -f1)
if [ "$expected" != "$actual" ]; then
  echo "::error title=flamegate::checksum mismatch for $url: the release says $expected, the download is $actual; refusing to install it"
  exit 1
fi
tar -xJf "$work/$archive" -C "$work"
mkdir -p "$install_dir"
for bin in flamegate cargo-flamegate; do
  install -m 755 "$work/flamegate-$target/$bin" "$install_dir/$bin"
done
installed=$("$install_dir/flamegate" --version)
if [ "$installed" != "flamegate $version" ]; then
  echo "::error title=flamegate::$url holds $installed, not flamegate $version"
  rm -f "$install_dir/flamegate" "$install_dir/cargo-flamegate"
  exit 1
fi
echo "flamegate $version: installed the release binary for $target (sha256 $actual verified)"
