package hook

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/leakstop/leakstop/internal/gitcmd"
)

// Repo locates the work tree that dir is in.
type Repo struct {
	// Top is the absolute path of the work tree's top directory.
	Top string
	// HooksDir is the absolute path of the directory git runs hooks from:
	// core.hooksPath when set, else the common git directory's hooks (the
	// same for every worktree).
	HooksDir string
}

// FindRepo locates the repository that dir (default ".") is in. A bare
// repository, or a directory outside any repository, is an error.
func FindRepo(ctx context.Context, dir string) (*Repo, error) {
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("find repository: %w", err)
	}
	if st, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("find repository: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("find repository: %s is not a directory", dir)
	}
	out, err := gitcmd.Repo{Dir: abs}.Output(ctx, nil, "rev-parse", "--is-inside-work-tree", "--show-toplevel", "--git-path", "hooks")
	if err != nil {
		var ge *gitcmd.Error
		if errors.As(err, &ge) && strings.Contains(ge.Stderr, "not a git repository") {
			return nil, fmt.Errorf("%s is not in a git repository", dir)
		}
		return nil, fmt.Errorf("find repository: %w", err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) < 1 || lines[0] != "true" {
		return nil, fmt.Errorf("%s is not in a git work tree (a bare repository has no pre-commit)", dir)
	}
	if len(lines) != 3 {
		return nil, fmt.Errorf("find repository: unexpected output of git rev-parse")
	}
	hooks := lines[2]
	if !filepath.IsAbs(hooks) {
		hooks = filepath.Join(abs, hooks)
	}
	return &Repo{Top: filepath.Clean(lines[1]), HooksDir: filepath.Clean(hooks)}, nil
}
