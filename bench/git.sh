#!/usr/bin/env bash
# Times `leakstop scan REPO` (full history) against
# `git cat-file --batch-all-objects --batch` and `git log -p --all` on
# synthetic repositories, and `leakstop scan --staged` on a 3-file change.
#
#   bench/git.sh                 # 2k and 20k commits
#   SIZES="2000" RUNS=5 bench/git.sh
#   REPO=/path/to/repo bench/git.sh   # also time an existing repository
#
# Repositories are built once under $BENCH_DIR (default
# $TMPDIR/leakstop-bench) by bench/cmd/genrepo. Wall times are the best of
# $RUNS runs; CPU is user+sys of that run. Other load on the machine
# skews wall times: compare the ratios, and the CPU columns.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/leakstop-bench}
SIZES=${SIZES:-"2000 20000"}
RUNS=${RUNS:-3}
mkdir -p "$BENCH_DIR"
go build -o "$BENCH_DIR/leakstop" ./cmd/leakstop
go build -o "$BENCH_DIR/genrepo" ./bench/cmd/genrepo
LEAKSTOP="$BENCH_DIR/leakstop"

# best CMD... : prints "wall cpu" (seconds) of the fastest of $RUNS runs.
best() {
  local bw="" bc="" out w c
  for _ in $(seq "$RUNS"); do
    out=$( { TIMEFORMAT='%R %U %S'; time "$@" >/dev/null 2>&1; } 2>&1 | tail -1 ) || true
    w=$(awk '{print $1}' <<<"$out")
    c=$(awk '{printf "%.3f", $2+$3}' <<<"$out")
    if [[ -z $bw ]] || awk "BEGIN{exit !($w < $bw)}"; then bw=$w bc=$c; fi
  done
  echo "$bw $bc"
}

# leakstop exits 1 when it finds credentials; only 2 is a failure.
scan() {
  local rc=0
  "$LEAKSTOP" scan "$@" || rc=$?
  [[ $rc -le 1 ]]
}

bench_repo() {
  local repo=$1 name=$2
  (
    cd "$repo"
    read -r blobs bytes < <(git cat-file --batch-all-objects --batch-check='%(objecttype) %(objectsize)' |
      awk '$1=="blob"{n++; s+=$2} END{print n, s}')
    commits=$(git rev-list --all | wc -l)
    packsize=$(du -sk .git/objects 2>/dev/null | awk '{print $1}' || du -sk objects | awk '{print $1}')
    echo "== $name: $commits commits, $blobs unique blobs, $((bytes / 1048576)) MiB of blob content, $((packsize / 1024)) MiB on disk"
    scan . >/dev/null || { echo "leakstop scan failed"; exit 1; }
    read -r cw cc < <(best git cat-file --batch-all-objects --batch)
    read -r uw uc < <(best git cat-file --batch-all-objects --batch --unordered)
    read -r lw lc < <(best git log -p --all)
    read -r sw sc < <(best scan .)
    nfind=$(scan --format json . 2>/dev/null | grep -c '"fingerprint"' || true)
    printf '%-44s %8s %8s\n' "" "wall s" "cpu s"
    printf '%-44s %8s %8s\n' "git cat-file --batch-all-objects --batch" "$cw" "$cc"
    printf '%-44s %8s %8s\n' "  … --unordered (pack order)" "$uw" "$uc"
    printf '%-44s %8s %8s\n' "git log -p --all" "$lw" "$lc"
    printf '%-44s %8s %8s\n' "leakstop scan ($nfind findings)" "$sw" "$sc"
    awk -v s="$sw" -v c="$cw" -v u="$uw" -v l="$lw" -v b="$bytes" 'BEGIN{
      printf "ratio leakstop / cat-file: %.2fx   / cat-file --unordered: %.2fx   / log -p: %.2fx   %.0f MB/s of unique blob bytes\n", s/c, s/u, s/l, b/1e6/s }'
  )
}

bench_staged() {
  local repo=$1
  (
    cd "$repo"
    mapfile -t files < <(git ls-files '*.go' | head -3)
    for f in "${files[@]}"; do printf '// staged change\n' >>"$f"; done
    git add -- "${files[@]}"
    read -r tw tc < <(RUNS=$((RUNS + 2)) best scan --staged .)
    git reset -q --hard
    echo "leakstop scan --staged (3 files changed, $(git rev-list --count HEAD) commits of history): ${tw}s wall, ${tc}s cpu"
  )
}

for n in $SIZES; do
  repo="$BENCH_DIR/repo-$n"
  if [[ ! -d $repo ]]; then
    echo "building $repo ..."
    start=$(date +%s)
    "$BENCH_DIR/genrepo" -commits "$n" -out "$repo"
    echo "built in $(($(date +%s) - start))s"
  fi
  bench_repo "$repo" "repo-$n"
  bench_staged "$repo"
done
if [[ -n ${REPO:-} ]]; then
  bench_repo "$REPO" "$REPO"
fi
