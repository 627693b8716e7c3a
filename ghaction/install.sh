#!/usr/bin/env bash
# Installs the leakstop binary for the GitHub Action (action.yml runs it).
#
# When the action was used at a release tag (uses: leakstop/leakstop@v1,
# @v1.2 or @v1.2.3), it downloads that release's prebuilt binary for this
# runner and checks it against the release's checksums file: seconds, not
# a Go build. Otherwise (a branch, a commit SHA, a runner with no prebuilt
# binary, a release without assets) it prints installed=false and the
# action builds leakstop from its own checkout instead.
#
# A checksum that does not match, or a download that breaks off, is an
# error, never a reason to fall back: a release asset that is not what its
# checksums file says is a tampered or broken release.
#
# Environment (all set by action.yml; the *_URL ones by tests):
#   ACTION_PATH        the action's checkout (github.action_path)
#   ACTION_REF         the ref the workflow pinned (github.action_ref)
#   ACTION_REPOSITORY  owner/name of the action (github.action_repository)
#   GITHUB_SERVER_URL  https://github.com or a GitHub Enterprise host
#   RUNNER_OS          Linux | macOS | Windows
#   RUNNER_ARCH        X64 | ARM64 (others build from source)
#   RUNNER_TEMP        where the binary goes
#   GITHUB_OUTPUT      file that receives installed=, bin=, version=
#   LEAKSTOP_RELEASE_BASE_URL  overrides the download base (tests)
set -euo pipefail

log() { printf 'leakstop: %s\n' "$*" >&2; }
out() { printf '%s\n' "$*" >>"${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set}"; }

: "${ACTION_PATH:?}" "${RUNNER_TEMP:?}"

bindir="$RUNNER_TEMP/leakstop-bin"
mkdir -p "$bindir"
exe=""
case "${RUNNER_OS:-}" in
Windows) exe=".exe" ;;
esac
bin="$bindir/leakstop$exe"
out "bin=$bin"

fallback() {
	log "notice: $*; building leakstop from the action's source"
	out "installed=false"
	exit 0
}

# The version this checkout of the action releases as. The release
# workflow refuses to publish a tag that differs from it, so a tag of the
# action and the binary of the same name hold the same code.
version=$(sed -n 's/^const releaseVersion = "\([0-9][0-9.]*\)"$/\1/p' "$ACTION_PATH/cmd/leakstop/version.go")
[ -n "$version" ] || fallback "no release version in the action's source"
out "version=$version"

ref=${ACTION_REF:-}
case "$ref" in
v[0-9]*) ;;
*) fallback "action ref '${ref:-(none)}' is not a release tag" ;;
esac
# @v1 and @v1.2 name the newest release of that line; the checkout they
# point at declares which one it is, and it must be of that line.
if ! [[ "$ref" =~ ^v([0-9]+)(\.([0-9]+))?(\.([0-9]+))?$ ]]; then
	fallback "action ref '$ref' is not a release tag"
fi
IFS=. read -r vmaj vmin vpatch <<<"$version"
if [ "${BASH_REMATCH[1]}" != "$vmaj" ] ||
	{ [ -n "${BASH_REMATCH[3]}" ] && [ "${BASH_REMATCH[3]}" != "$vmin" ]; } ||
	{ [ -n "${BASH_REMATCH[5]}" ] && [ "${BASH_REMATCH[5]}" != "$vpatch" ]; }; then
	fallback "action ref '$ref' does not match the source's release version $version"
fi

case "${RUNNER_OS:-}" in
Linux) os=linux ;;
macOS) os=darwin ;;
Windows) os=windows ;;
*) fallback "no prebuilt binary for runner OS '${RUNNER_OS:-}'" ;;
esac
case "${RUNNER_ARCH:-}" in
X64) arch=amd64 ;;
ARM64) arch=arm64 ;;
*) fallback "no prebuilt binary for runner architecture '${RUNNER_ARCH:-}'" ;;
esac

asset="leakstop_${version}_${os}_${arch}${exe}"
base=${LEAKSTOP_RELEASE_BASE_URL:-${GITHUB_SERVER_URL:-https://github.com}/${ACTION_REPOSITORY:?}/releases/download}
base="$base/v$version"

tmp=$(mktemp -d "$RUNNER_TEMP/leakstop-dl.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# fetch URL FILE: 0 on success, 4 when the server says there is no such
# file (a release without assets: fall back), anything else is an error.
fetch() {
	local code
	code=$(curl --silent --show-error --location --proto '=https,http' --retry 3 --retry-delay 2 \
		--connect-timeout 20 --max-time 300 --output "$2" --write-out '%{http_code}' "$1") || return 2
	case "$code" in
	200) return 0 ;;
	404) return 4 ;;
	*)
		log "error: downloading $1: HTTP $code"
		return 2
		;;
	esac
}

rc=0
fetch "$base/checksums.txt" "$tmp/checksums.txt" || rc=$?
[ "$rc" = 4 ] && fallback "release v$version has no checksums.txt"
[ "$rc" = 0 ] || exit 2
want=$(awk -v a="$asset" '$2 == a || $2 == "*" a { print $1 }' "$tmp/checksums.txt")
[ -n "$want" ] || fallback "release v$version has no $asset"
if ! [[ "$want" =~ ^[0-9a-f]{64}$ ]]; then
	log "error: checksums.txt of v$version has a malformed line for $asset"
	exit 2
fi

rc=0
fetch "$base/$asset" "$tmp/$asset" || rc=$?
[ "$rc" = 4 ] && fallback "release v$version lists $asset but does not serve it"
[ "$rc" = 0 ] || exit 2

if command -v sha256sum >/dev/null 2>&1; then
	got=$(sha256sum "$tmp/$asset" | awk '{print $1}')
else
	got=$(shasum -a 256 "$tmp/$asset" | awk '{print $1}')
fi
if [ "$got" != "$want" ]; then
	log "error: $asset of release v$version does not match its checksum (got $got, checksums.txt says $want); refusing to run it"
	exit 2
fi

chmod 0755 "$tmp/$asset"
mv -f "$tmp/$asset" "$bin"
log "installed prebuilt $asset (sha256 $got)"
out "installed=true"
