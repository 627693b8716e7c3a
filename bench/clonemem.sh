#!/usr/bin/env bash
# Peak memory and wall time of cloning a git/git-sized history over smart
# HTTP with go-git and with the git binary, and of `leakstop scan` on it.
#
#   bench/clonemem.sh                      # git/git-like (75k commits) and redis-like (12.5k)
#   PROFILES="redis" bench/clonemem.sh     # one profile only
#   PROFILES="big" bench/clonemem.sh       # 120k commits: a git/git-sized pack
#   METHODS="mirror,gogit" bench/clonemem.sh    # mirror = orgscan.Mirror.Sync
#
# The histories are generated once under $BENCH_DIR (default
# $TMPDIR/leakstop-clonemem) from the Go module zip of git v2.43.0 (the
# Go module proxy serves that tag's tree; redis' tags are not served):
# the snapshot as a first commit, then small edits of one to three files
# per commit with long messages. They have the size and shape of the
# real histories (commits, objects, pack), NOT their content or commits.
# Memory is the peak of the summed resident sets of the whole process
# tree (sampled every 10 ms, 50 ms after 2 s) and the largest single process's max RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/leakstop-clonemem}
PROFILES=${PROFILES:-"gitlike redis"}
METHODS=${METHODS:-"git,git-lowmem,mirror,gogit"}
mkdir -p "$BENCH_DIR"
go build -o "$BENCH_DIR/clonemem" ./bench/clonemem
go build -o "$BENCH_DIR/leakstop" ./cmd/leakstop
zip=$(go mod download -json github.com/git/git@v2.43.0+incompatible | sed -n 's/.*"Zip": "\(.*\)".*/\1/p')
[[ -n $zip ]] || { echo "clonemem.sh: cannot download the git v2.43.0 snapshot" >&2; exit 2; }

for p in $PROFILES; do
  case $p in
    gitlike) commits=75000 seed=1 ;;
    redis) commits=12500 seed=2 ;;
    big) commits=120000 seed=3 ;; # a pack the size of git/git's real one
    *) echo "clonemem.sh: unknown profile $p" >&2; exit 2 ;;
  esac
  repo="$BENCH_DIR/$p.git"
  if [[ ! -f $repo/HEAD ]]; then
    echo "== generating $p ($commits commits)…"
    "$BENCH_DIR/clonemem" gen -zip "$zip" -out "$repo" -commits "$commits" -seed "$seed"
  fi
  echo "== $p: clone over smart HTTP (git http-backend behind net/http/cgi)"
  "$BENCH_DIR/clonemem" bench -repo "$repo" -methods "$METHODS"
  echo "== $p: leakstop scan (full history)"
  # leakstop exits 1 when it finds credentials; clonemem reports the exit.
  "$BENCH_DIR/clonemem" measure -- "$BENCH_DIR/leakstop" scan "$repo"
done
