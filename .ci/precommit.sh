#!/bin/sh
# Make sure the pre-commit framework is installed for the hook tests
# (cmd/leakstop TestPreCommitFramework): Debian's package, the version the
# tests are written against (3.0.4 on Debian 12). .ci/test runs it.
#
# Exit 0 when pre-commit is on PATH afterwards. Without it (no apt, not
# root, the install failed) it exits 1 with a message: the tests then skip,
# except under CI=true, where they fail.
set -eu

log() { printf 'precommit.sh: %s\n' "$*" >&2; }

if command -v pre-commit >/dev/null 2>&1; then
	exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
	log "pre-commit is missing and there is no apt-get: install pre-commit another way"
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	log "pre-commit is missing and we are not root: apt-get install -y pre-commit"
	exit 1
fi
log "installing Debian's pre-commit package"
if ! { DEBIAN_FRONTEND=noninteractive apt-get install -y pre-commit ||
	{ DEBIAN_FRONTEND=noninteractive apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y pre-commit; }; } >&2; then
	log "apt-get install pre-commit failed"
	exit 1
fi
command -v pre-commit >/dev/null 2>&1 || { log "pre-commit still not on PATH after the install"; exit 1; }
