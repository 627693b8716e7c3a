package hook

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/leakstop/leakstop/scanner"
)

// ScanStaged scans what the next commit would add: every blob of the index
// that differs from HEAD (on an unborn branch, every staged blob). Files
// with no changes, unstaged changes, untracked files and history are not
// read. Identifiers and secrets pair across the staged files.
//
// It honours GIT_INDEX_FILE: "git commit -a" and "git commit PATH" run the
// hook with a temporary index that holds what is really being committed.
// Symbolic links and submodules are skipped. Anything that cannot be read
// is an error, never a clean result.
func ScanStaged(ctx context.Context, d *scanner.Detector, dir string, opts scanner.Options) (*scanner.Result, error) {
	idx, err := IndexFileFromEnv()
	if err != nil {
		return nil, err
	}
	return scanner.ScanGit(ctx, d, dir, scanner.GitOptions{Options: opts, Staged: true, IndexFile: idx})
}

// IndexFileFromEnv returns the index git named in GIT_INDEX_FILE, made
// absolute (git gives hooks a path relative to their working directory),
// or "" for the repository's own index.
func IndexFileFromEnv() (string, error) {
	idx := os.Getenv("GIT_INDEX_FILE")
	if idx == "" || filepath.IsAbs(idx) {
		return idx, nil
	}
	abs, err := filepath.Abs(idx)
	if err != nil {
		return "", fmt.Errorf("GIT_INDEX_FILE: %w", err)
	}
	return abs, nil
}
