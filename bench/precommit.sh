#!/usr/bin/env bash
# Times the pre-commit hook on a 3-file commit in a repository with a long
# history: the hook that `leakstop hook install` writes, run as git runs it
# (from the top of the work tree, with GIT_INDEX_FILE set).
#
#   bench/precommit.sh                  # 5000 commits
#   COMMITS=20000 bench/precommit.sh
#   REPO=/path/to/clone bench/precommit.sh   # a copy of it is used
#
# The target is 50 ms wall. It uses hyperfine when installed
# (apt-get install -y hyperfine), else a loop timed with date +%s%N.
# Other load on the machine skews wall times: look at min and median.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/leakstop-bench}
COMMITS=${COMMITS:-5000}
RUNS=${RUNS:-50}
mkdir -p "$BENCH_DIR"
go build -o "$BENCH_DIR/leakstop" ./cmd/leakstop
LEAKSTOP="$BENCH_DIR/leakstop"

work="$BENCH_DIR/precommit-$COMMITS"
rm -rf "$work"
if [[ -n ${REPO:-} ]]; then
  git clone -q --no-local "$REPO" "$work"
else
  go build -o "$BENCH_DIR/genrepo" ./bench/cmd/genrepo
  src="$BENCH_DIR/genrepo-$COMMITS"
  [[ -d $src ]] || "$BENCH_DIR/genrepo" -commits "$COMMITS" -out "$src" >/dev/null
  git clone -q --no-local "$src" "$work"
fi
cd "$work"
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
echo "repository: $(git rev-list --count HEAD) commits, $(git ls-files | wc -l) files, $(du -sh .git | cut -f1) in .git"

"$LEAKSTOP" hook install --binary "$LEAKSTOP" >/dev/null

# Stage 3 files: two edited, one new, clean (a finding would exit 1).
mapfile -t files < <(git ls-files | grep -v '^\.' | head -n 2)
for f in "${files[@]}"; do printf '\n// edited for the benchmark %s\n' "$RANDOM" >>"$f"; done
mkdir -p bench_new
seq 1 200 | sed 's/^/line /' >bench_new/notes.txt
git add -- "${files[@]}" bench_new/notes.txt
echo "staged: $(git diff --cached --name-only | tr '\n' ' ')"

hookpath=$(git rev-parse --git-path hooks/pre-commit)
export GIT_INDEX_FILE
GIT_INDEX_FILE=$(git rev-parse --git-path index)
GIT_INDEX_FILE=$(cd "$(dirname "$GIT_INDEX_FILE")" && pwd)/$(basename "$GIT_INDEX_FILE")
"$hookpath" || { echo "the hook failed on a clean commit" >&2; exit 1; }

if command -v hyperfine >/dev/null; then
  hyperfine -N --warmup 5 --runs "$RUNS" "$hookpath"
  # For comparison: the whole commit (hook included).
  hyperfine --warmup 2 --runs 10 \
    --prepare 'git reset -q --soft HEAD@{1} 2>/dev/null || true' \
    'git commit -q -m bench' || true
else
  times=()
  for _ in $(seq "$RUNS"); do
    s=$(date +%s%N); "$hookpath"; e=$(date +%s%N)
    times+=($(( (e - s) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '
    { t[NR] = $1 }
    END { printf "hook: min %.1f ms, median %.1f ms, max %.1f ms over %d runs\n", t[1]/1000, t[int((NR+1)/2)]/1000, t[NR]/1000, NR }'
fi
