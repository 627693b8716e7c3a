package gitcmd

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gitEnv isolates git from the user's configuration.
func gitEnv(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", home)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("GIT_AUTHOR_NAME", "Dev")
	t.Setenv("GIT_AUTHOR_EMAIL", "dev@example.com")
	t.Setenv("GIT_COMMITTER_NAME", "Dev")
	t.Setenv("GIT_COMMITTER_EMAIL", "dev@example.com")
	for _, k := range []string{"GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return strings.TrimSpace(out.String())
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func commitAll(t *testing.T, dir, msg string) string {
	t.Helper()
	gitIn(t, dir, "add", "-A")
	gitIn(t, dir, "commit", "-q", "-m", msg)
	return gitIn(t, dir, "rev-parse", "HEAD")
}

// TestFileAt: a file of a commit, as git holds it; a missing one is not
// an error, a link or a directory is (it is not followed).
func TestFileAt(t *testing.T) {
	gitEnv(t)
	dir := t.TempDir()
	gitIn(t, dir, "init", "-q", "-b", "main")
	writeFile(t, dir, ".leakstopignore", "# none\n\n")
	writeFile(t, dir, "sub/.leakstopignore", "# not at the root\n")
	writeFile(t, dir, ".leakstop.toml/x", "a directory\n")
	if err := os.Symlink("sub/.leakstopignore", filepath.Join(dir, "link")); err != nil {
		t.Skip(err)
	}
	sha := commitAll(t, dir, "files")
	g := Repo{Dir: filepath.Join(dir, "sub")}
	ctx := context.Background()
	if data, ok, err := g.FileAt(ctx, sha, ".leakstopignore"); err != nil || !ok || string(data) != "# none\n\n" {
		t.Fatalf("file: %q %v %v", data, ok, err)
	}
	if _, ok, err := g.FileAt(ctx, sha, "missing"); err != nil || ok {
		t.Fatalf("missing: %v %v", ok, err)
	}
	for _, p := range []string{"link", ".leakstop.toml"} {
		if _, _, err := g.FileAt(ctx, sha, p); err == nil || !strings.Contains(err.Error(), "is not a regular file") {
			t.Errorf("%s: %v", p, err)
		}
	}
	if _, _, err := g.FileAt(ctx, strings.Repeat("1", 40), ".leakstopignore"); err == nil {
		t.Error("a commit that is not there")
	}
}

// TestError: a failed command is an *Error naming the subcommand (not
// its other arguments) and git's first line, with git's exit status.
func TestError(t *testing.T) {
	gitEnv(t)
	dir := t.TempDir()
	_, err := Repo{Dir: dir}.Output(context.Background(), nil, "-c", "core.quotePath=false", "rev-parse", "--verify", "HEAD")
	var ge *Error
	if !errors.As(err, &ge) {
		t.Fatalf("err = %v, want *Error", err)
	}
	if ge.ExitCode() <= 0 || !strings.HasPrefix(err.Error(), "git rev-parse: ") || strings.Contains(err.Error(), "\n") ||
		strings.Contains(err.Error(), "core.quotePath") {
		t.Errorf("err = %q, exit %d", err, ge.ExitCode())
	}
	if Short(strings.Repeat("a", 40)) != strings.Repeat("a", 12) || Short("abc") != "abc" {
		t.Error("Short")
	}
}
