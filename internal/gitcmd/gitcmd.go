// Package gitcmd runs the git command line for the few things leakstop
// does not read from the object database itself: locating a work tree,
// fetching history into a shallow checkout, reading one file of a commit.
// Every failure is an *Error carrying git's own message.
package gitcmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Error is a git command that failed; Stderr is git's own message.
type Error struct {
	Args   []string
	Stderr string
	Err    error
}

// Error names the git subcommand and git's first line of complaint. The
// other arguments are left out: they are refspecs and options, and
// nothing secret is ever passed on a command line.
func (e *Error) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("git %s: %s", subcommand(e.Args), msg)
}

func (e *Error) Unwrap() error { return e.Err }

// ExitCode is git's exit status, or -1 when git did not run to an exit.
func (e *Error) ExitCode() int {
	var ee *exec.ExitError
	if errors.As(e.Err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// subcommand is the first argument that is neither an option nor the
// value of -c or -C.
func subcommand(args []string) string {
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-c" || a == "-C":
			i++
		case strings.HasPrefix(a, "-"):
		default:
			return a
		}
	}
	return strings.Join(args, " ")
}

// Repo runs git in a directory.
type Repo struct {
	// Dir is the directory git runs in.
	Dir string
}

// Output runs git with args and returns its standard output as it is.
// The process environment is inherited (so a hook's GIT_INDEX_FILE and
// GIT_DIR are honoured), git never prompts for credentials, and env is
// added to it.
func (r Repo) Output(ctx context.Context, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = r.Dir
	cmd.Env = append(append(os.Environ(), "GIT_TERMINAL_PROMPT=0"), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, &Error{Args: args, Stderr: errb.String(), Err: err}
	}
	return out.Bytes(), nil
}

// Text is Output without extra environment, trimmed of surrounding space.
func (r Repo) Text(ctx context.Context, args ...string) (string, error) {
	out, err := r.Output(ctx, nil, args...)
	return strings.TrimSpace(string(out)), err
}

// HasCommit reports whether the commit is in the local repository.
func (r Repo) HasCommit(ctx context.Context, sha string) bool {
	_, err := r.Text(ctx, "cat-file", "-e", sha+"^{commit}")
	return err == nil
}

// Blob returns the content of a blob.
func (r Repo) Blob(ctx context.Context, id string) ([]byte, error) {
	return r.Output(ctx, nil, "cat-file", "blob", id)
}

// FileAt reads the file at path (relative to the root, with slashes) in
// commit rev, which must be in the local repository; ok is false when the
// commit has no such file. Anything other than a regular file there (a
// symbolic link, a directory, a submodule) is an error: a link is not
// followed.
func (r Repo) FileAt(ctx context.Context, rev, path string) (data []byte, ok bool, err error) {
	out, err := r.Output(ctx, nil, "ls-tree", "--full-tree", "-z", rev, "--", path)
	if err != nil {
		return nil, false, err
	}
	// "<mode> <type> <object>\t<path>\x00", or nothing.
	entry := strings.TrimSuffix(string(out), "\x00")
	if entry == "" {
		return nil, false, nil
	}
	meta, name, _ := strings.Cut(entry, "\t")
	f := strings.Fields(meta)
	if len(f) != 3 || name != path {
		return nil, false, fmt.Errorf("git ls-tree %s: unexpected output for %s", Short(rev), path)
	}
	if f[0] != "100644" && f[0] != "100755" {
		return nil, false, fmt.Errorf("%s:%s is not a regular file (mode %s): it is not followed", Short(rev), path, f[0])
	}
	data, err = r.Blob(ctx, f[2])
	if err != nil {
		return nil, false, fmt.Errorf("read %s:%s: %w", Short(rev), path, err)
	}
	return data, true, nil
}

// Short abbreviates a commit id for people.
func Short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
