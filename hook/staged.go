package hook

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/leakstop/leakstop/scanner"
)

// ScanStaged scans what the next commit would add: every blob of the index
// that differs from HEAD (on an unborn branch, every staged blob). Files
// with no changes, unstaged changes, untracked files and history are not
// read. Identifiers and secrets pair across the staged files.
//
// indexFile is the index to read ("" for the repository's own): "git
// commit -a" and "git commit PATH" run the hook with a temporary index
// (GIT_INDEX_FILE, see IndexFile) that holds what is really being
// committed. Symbolic links and submodules are skipped. Anything that
// cannot be read is an error, never a clean result.
func ScanStaged(ctx context.Context, d *scanner.Detector, dir, indexFile string, opts scanner.Options) (*scanner.Result, error) {
	return scanner.ScanGit(ctx, d, dir, scanner.GitOptions{Options: opts, Staged: true, IndexFile: indexFile})
}

// IndexFile returns the index git named in GIT_INDEX_FILE (env, as main
// read it) made absolute — git gives hooks a path relative to their
// working directory — or "" for the repository's own index.
func IndexFile(env string) (string, error) {
	if env == "" || filepath.IsAbs(env) {
		return env, nil
	}
	abs, err := filepath.Abs(env)
	if err != nil {
		return "", fmt.Errorf("GIT_INDEX_FILE: %w", err)
	}
	return abs, nil
}
