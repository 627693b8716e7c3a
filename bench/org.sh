#!/usr/bin/env bash
# Org-scan benchmark: generates an organisation of $N repositories (about a
# fifth forks) with bench/orggen, serves it as a fake GitHub (API listing
# + the real git http-backend, token required), then runs
# `leakstop org scan` cold and again incrementally, with 1 and 2 worker
# processes sharing one state, and reports repositories/s, bytes/s and
# the peak RSS of each worker process (/usr/bin/time -v).
#
#   bench/org.sh                    # 1000 repositories
#   N=200 PROCS="1" bench/org.sh
#   STATE_DSN=postgres://… bench/org.sh   # workers share PostgreSQL
#                                         # (default: one SQLite file)
#
# Everything lives under $BENCH_DIR (default $TMPDIR/leakstop-bench-org);
# the organisation is generated once and reused while N and SEED are the
# same. Other load on the machine skews wall times.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/leakstop-bench-org}
N=${N:-1000}
SEED=${SEED:-1}
PROCS=${PROCS:-"1 2"}            # worker processes per run
THREADS=${THREADS:-2}            # --workers of each process
STATE_DSN=${STATE_DSN:-}
ORG_DIR="$BENCH_DIR/org-$N-$SEED"
mkdir -p "$BENCH_DIR"
go build -o "$BENCH_DIR/orggen" ./bench/orggen
# LEAKSTOP_BIN: an already built leakstop (default: build this tree's).
if [[ -n ${LEAKSTOP_BIN:-} ]]; then
  LEAKSTOP=$LEAKSTOP_BIN
else
  go build -o "$BENCH_DIR/leakstop" ./cmd/leakstop
  LEAKSTOP="$BENCH_DIR/leakstop"
fi

# --- generation ------------------------------------------------------------
if [[ ! -f $ORG_DIR/manifest.json ]]; then
  rm -rf "$ORG_DIR"
  start=$(date +%s.%N)
  "$BENCH_DIR/orggen" -n "$N" -seed "$SEED" -out "$ORG_DIR"
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" -v n="$N" 'BEGIN{printf "generation: %d repositories in %.1f s (%.0f repositories/s)\n", n, e-s, n/(e-s)}'
else
  echo "generation: reusing $ORG_DIR"
fi
du -sh "$ORG_DIR" | awk '{print "organisation on disk: " $1}'

# --- the scan ----------------------------------------------------------------
if ! "$LEAKSTOP" org scan --help >/dev/null 2>&1; then
  echo "leakstop org scan does not exist in this build: generation only (the scan part is ready below)" >&2
  exit 0
fi
if [[ ! -x /usr/bin/time ]]; then
  echo "bench/org.sh: /usr/bin/time is missing (apt-get install -y time): peak RSS needs it" >&2
  exit 2
fi

# A throwaway token for the fake GitHub: leakstop reads it from the
# environment, as it reads GITHUB_TOKEN in production.
export GITHUB_TOKEN="bench-$RANDOM$RANDOM"
"$BENCH_DIR/orggen" -serve -out "$ORG_DIR" -url-file "$BENCH_DIR/url" 2>"$BENCH_DIR/serve.log" &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 100); do [[ -s $BENCH_DIR/url ]] && break; sleep 0.1; done
BASE=$(cat "$BENCH_DIR/url")
rm -f "$BENCH_DIR/url"

stat() { curl -fsS "$BASE/_stats" | sed -E 's/.*"'"$1"'":([0-9]+).*/\1/'; }

# run LABEL PROCS: starts PROCS `leakstop org scan` processes on the same
# state and round, waits for them, prints one line per process and a total.
run() {
  local label=$1 procs=$2 pids=() i rc round
  round="bench-$label-$procs-$RANDOM"
  local posts0 bytes0 start end
  posts0=$(stat upload_pack_posts)
  bytes0=$(stat upload_pack_bytes)
  start=$(date +%s.%N)
  for i in $(seq "$procs"); do
    # The progress log (JSON lines, not a terminal) carries the summary:
    # repositories done and bytes scanned by this process.
    /usr/bin/time -v -o "$BENCH_DIR/time.$i" \
      "$LEAKSTOP" org scan --org acme --github-api-url "$BASE/api/v3" \
      --state "$STATE" --cache "$BENCH_DIR/cache.$procs.$i" --workers "$THREADS" \
      --round "$round" --format json --output "$BENCH_DIR/report.$procs.$i.json" \
      2>"$BENCH_DIR/log.$i" &
    pids+=($!)
  done
  for i in $(seq "$procs"); do
    rc=0
    wait "${pids[$((i - 1))]}" || rc=$?
    # 1 = findings (there are planted ones); 2 = a repository failed.
    if [[ $rc -gt 1 ]]; then
      echo "worker $i exited $rc:" >&2
      tail -5 "$BENCH_DIR/log.$i" >&2
    fi
  done
  end=$(date +%s.%N)
  local wall total=0
  wall=$(awk -v s="$start" -v e="$end" 'BEGIN{printf "%.2f", e-s}')
  for i in $(seq "$procs"); do
    local rss ndone bytes
    rss=$(awk -F': ' '/Maximum resident set size/{printf "%.0f", $2/1024}' "$BENCH_DIR/time.$i")
    ndone=$(grep '"org scan finished"' "$BENCH_DIR/log.$i" | sed -E 's/.*"done":([0-9]+).*/\1/' || echo "?")
    bytes=$(grep '"org scan finished"' "$BENCH_DIR/log.$i" | sed -E 's/.*"bytes":([0-9]+).*/\1/' || echo 0)
    total=$((total + ${bytes:-0}))
    printf '%-12s procs=%d worker=%d  repos=%-5s fetched=%6.1f MiB  peak RSS=%4s MiB\n' \
      "$label" "$procs" "$i" "$ndone" "$(awk -v b="${bytes:-0}" 'BEGIN{print b/1048576}')" "$rss"
  done
  # Blob bytes read by the scans of this round (all processes), from the
  # organisation report's summary.
  total=$(grep -o '"bytes_read": *[0-9]*' "$BENCH_DIR/report.$procs.1.json" | head -1 | grep -o '[0-9]*$' || echo 0)
  awk -v n="$N" -v w="$wall" -v p="$(($(stat upload_pack_posts) - posts0))" -v b="$(($(stat upload_pack_bytes) - bytes0))" \
    -v l="$label" -v pr="$procs" -v t="${total:-0}" 'BEGIN{
      printf "%-12s procs=%d  %6.2f s  %7.1f repositories/s  %6.1f MiB/s scanned (%.1f MiB of blobs)  git served: %d upload-pack requests, %.1f MiB\n", l, pr, w, n/w, t/1048576/w, t/1048576, p, b/1048576 }'
}

for procs in $PROCS; do
  if [[ -n $STATE_DSN ]]; then
    STATE=$STATE_DSN # the same database for every run: a cold run needs fresh tables
  else
    STATE="sqlite:$BENCH_DIR/state.$procs.db"
    rm -f "$BENCH_DIR/state.$procs.db"*
  fi
  rm -rf "$BENCH_DIR"/cache."$procs".*
  run cold "$procs"
  run incremental "$procs"
done

# --- plain git on the same data, in the same run ---------------------------
# The floor for a cold run: `git clone --mirror` of every repository from
# the same server, $THREADS at a time, token in git's environment as
# leakstop passes it. No scan, no state.
gitdir="$BENCH_DIR/gitclones"
rm -rf "$gitdir" && mkdir -p "$gitdir"
auth=$(printf 'x-access-token:%s' "$GITHUB_TOKEN" | base64 -w0)
start=$(date +%s.%N)
sed -n 's/.*"path": *"\([^"]*\.git\)".*/\1/p' "$ORG_DIR/manifest.json" |
  GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=http.extraHeader GIT_CONFIG_VALUE_0="Authorization: Basic $auth" \
  xargs -P "$THREADS" -I{} sh -c 'git clone --quiet --mirror "$0/{}" "$1/$(echo {} | tr / _)" 2>/dev/null || true' "$BASE" "$gitdir"
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" -v n="$N" -v t="$THREADS" 'BEGIN{printf "git clone --mirror of every repository, %d at a time: %.2f s (%.1f repositories/s)\n", t, e-s, n/(e-s)}'
