#!/bin/sh
# Start a throwaway PostgreSQL for the store conformance tests and print the
# DSN to use:
#
#	eval "$(.ci/postgres.sh)"
#	go test -race ./state/ ./revoker/
#
# The cluster lives in a fresh temporary directory owned by the postgres
# user, listens on 127.0.0.1 on a free port and on a unix socket in the same
# directory, trusts local connections (it is reachable only from this host
# and dies with `.ci/postgres.sh stop DIR`), and holds one database,
# leakstop_test. Everything on stdout is shell (`export ...`); progress goes
# to stderr.
#
# Usage: .ci/postgres.sh            start, print exports
#        .ci/postgres.sh stop DIR   stop the cluster in DIR and remove DIR
set -eu

log() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

find_bindir() {
	if [ -n "${PG_BINDIR:-}" ] && [ -x "$PG_BINDIR/initdb" ]; then
		echo "$PG_BINDIR"; return 0
	fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
		if [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
	done
	if command -v pg_config >/dev/null 2>&1; then
		d=$(pg_config --bindir)
		if [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
	fi
	return 1
}

# as_pg runs a command as the cluster owner: postgres when we are root,
# ourselves otherwise (initdb refuses to run as root).
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		if command -v runuser >/dev/null 2>&1; then
			runuser -u postgres -- "$@"
		else
			su postgres -s /bin/sh -c '"$0" "$@"' -- "$@"
		fi
	else
		"$@"
	fi
}

free_port() {
	# Ask the kernel for a free port; fall back to a random high port.
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
	else
		echo $(( 20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000 ))
	fi
}

if [ "${1:-}" = stop ]; then
	dir=${2:?usage: postgres.sh stop DIR}
	[ -f "$dir/data/PG_VERSION" ] || die "$dir is not a cluster started by postgres.sh"
	bindir=$(find_bindir) || die "PostgreSQL binaries not found"
	as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >&2 || true
	rm -rf "$dir"
	exit 0
fi

bindir=$(find_bindir) || {
	log "PostgreSQL not found; installing Debian's postgresql package"
	[ "$(id -u)" = 0 ] || die "PostgreSQL is missing and we are not root: apt-get install -y postgresql"
	{ DEBIAN_FRONTEND=noninteractive apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql; } >&2 || die "apt-get update / install postgresql failed"
	bindir=$(find_bindir) || die "PostgreSQL binaries still not found after install"
}

if [ "$(id -u)" = 0 ]; then
	id postgres >/dev/null 2>&1 || die "running as root but there is no postgres user"
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/leakstop-pg.XXXXXX")
chmod 0755 "$dir"
if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi

port=$(free_port)
log "initdb in $dir/data ($bindir)"
as_pg "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
	{ cat "$dir/initdb.log" >&2; die "initdb failed"; }

log "starting on 127.0.0.1:$port, socket in $dir"
as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
	-o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
	start >&2 || { cat "$dir/server.log" >&2; die "pg_ctl start failed"; }

as_pg "$bindir/createdb" -h "$dir" -p "$port" -U postgres leakstop_test >&2 ||
	{ cat "$dir/server.log" >&2; die "createdb failed"; }

dsn="postgres://postgres@127.0.0.1:$port/leakstop_test?sslmode=disable"
log "ready; stop with: $0 stop $dir"
printf "export LEAKSTOP_TEST_POSTGRES_DSN='%s'\n" "$dsn"
printf "export LEAKSTOP_TEST_POSTGRES_DIR='%s'\n" "$dir"
