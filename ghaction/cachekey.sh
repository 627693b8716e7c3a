#!/usr/bin/env bash
# Prints (to GITHUB_OUTPUT) the Go cache folders and a cache key for
# building leakstop from the action's source. actions/setup-go's cache and
# hashFiles() only hash files inside GITHUB_WORKSPACE, and the action's
# checkout lies outside it, so the key is computed here from the action's
# go.sum and go.mod, the Go version, and the runner's OS and architecture.
#
# Environment: ACTION_PATH, RUNNER_OS, RUNNER_ARCH, GITHUB_OUTPUT.
set -euo pipefail
: "${ACTION_PATH:?}" "${GITHUB_OUTPUT:?}"

if command -v sha256sum >/dev/null 2>&1; then
	sum() { sha256sum | awk '{print $1}'; }
else
	sum() { shasum -a 256 | awk '{print $1}'; }
fi

goversion=$(go env GOVERSION)
deps=$(cat "$ACTION_PATH/go.sum" "$ACTION_PATH/go.mod" | sum)
prefix="leakstop-go-${RUNNER_OS:-unknown}-${RUNNER_ARCH:-unknown}-$goversion-"
{
	printf 'gocache=%s\n' "$(go env GOCACHE)"
	printf 'gomodcache=%s\n' "$(go env GOMODCACHE)"
	printf 'key=%s%s\n' "$prefix" "$deps"
	printf 'restore-key=%s\n' "$prefix"
} >>"$GITHUB_OUTPUT"
