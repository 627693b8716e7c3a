// Package hook installs and removes leakstop's git pre-commit hook, scans
// what a commit is about to add (the index, as git's hooks see it), and
// words the refusal for what a hook run scanned (Scope: the staged index,
// the files or the range the pre-commit framework passes, a push).
//
// The hook is a small POSIX shell script written to the repository's hooks
// directory (core.hooksPath when set; shared by every worktree). It runs
// "leakstop hook run" with the absolute path of the binary recorded at
// install time, falls back to leakstop on PATH, and blocks the commit when
// neither exists. A hook that is already there and was not written by
// leakstop is never overwritten silently: Install refuses, replaces it
// (Force, keeping a copy) or chains to it (Chain: it is moved aside and run
// first).
package hook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// File names in the hooks directory.
const (
	// HookName is the hook leakstop installs.
	HookName = "pre-commit"
	// ChainedName is where Install(Chain) moves a foreign hook; the
	// leakstop hook runs it first.
	ChainedName = "pre-commit.leakstop-chained"
	// BackupName is where Install(Force) keeps the hook it replaced.
	BackupName = "pre-commit.leakstop-backup"
)

// marker starts the second line of every hook leakstop writes; it is how
// leakstop knows a hook is its own.
const marker = "# leakstop-hook"

// scriptVersion changes when the script's shape does.
const scriptVersion = "v1"

// Options control Install.
type Options struct {
	// Dir is a directory inside the repository (default ".").
	Dir string
	// Binary is the leakstop binary the hook runs, recorded as an
	// absolute path (default: this executable, see Executable).
	Binary string
	// Force replaces a hook leakstop did not write; a copy is kept at
	// BackupName.
	Force bool
	// Chain moves a hook leakstop did not write to ChainedName and runs it
	// before leakstop.
	Chain bool
}

// Installed says what Install did.
type Installed struct {
	Path   string // the hook written
	Binary string // the binary it runs first
	// Updated is true when a leakstop hook was already there.
	Updated bool
	// Chained is the foreign hook that now runs first ("" when none).
	Chained string
	// Backup is where a replaced foreign hook was kept ("" when none).
	Backup string
}

// ForeignHookError is a hook in the way that leakstop did not write.
type ForeignHookError struct {
	Path string
}

func (e *ForeignHookError) Error() string {
	return fmt.Sprintf("%s exists and was not written by leakstop", e.Path)
}

// ChainConflictError is a hook to chain to while an earlier chained hook
// is still in place.
type ChainConflictError struct {
	Path, Chained string
}

func (e *ChainConflictError) Error() string {
	return fmt.Sprintf("cannot chain to %s: %s already exists (left by an earlier install); move one of them away first", e.Path, e.Chained)
}

// IsLeakstopHook reports whether a hook's content was written by leakstop.
func IsLeakstopHook(content []byte) bool {
	for i, line := range bytes.SplitN(content, []byte("\n"), 4) {
		if i > 0 && bytes.HasPrefix(line, []byte(marker)) {
			return true
		}
	}
	return false
}

// Install writes the pre-commit hook.
func Install(ctx context.Context, o Options) (*Installed, error) {
	repo, err := FindRepo(ctx, o.Dir)
	if err != nil {
		return nil, err
	}
	bin := o.Binary
	if bin == "" {
		if bin, err = Executable(); err != nil {
			return nil, err
		}
	}
	if bin, err = filepath.Abs(bin); err != nil {
		return nil, fmt.Errorf("install hook: %w", err)
	}
	if err := os.MkdirAll(repo.HooksDir, 0o755); err != nil {
		return nil, fmt.Errorf("install hook: %w", err)
	}
	path := filepath.Join(repo.HooksDir, HookName)
	chained := filepath.Join(repo.HooksDir, ChainedName)
	res := &Installed{Path: path, Binary: bin}

	cur, err := readHook(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	case IsLeakstopHook(cur):
		res.Updated = true
	case o.Chain:
		if _, err := os.Lstat(chained); err == nil {
			return nil, &ChainConflictError{Path: path, Chained: chained}
		}
		if err := os.Rename(path, chained); err != nil {
			return nil, fmt.Errorf("install hook: move %s aside: %w", path, err)
		}
	case o.Force:
		backup := filepath.Join(repo.HooksDir, BackupName)
		if err := os.Rename(path, backup); err != nil {
			return nil, fmt.Errorf("install hook: keep a copy of %s: %w", path, err)
		}
		res.Backup = backup
	default:
		return nil, &ForeignHookError{Path: path}
	}
	// Chain to a hook moved aside now or by an earlier install.
	if _, err := os.Lstat(chained); err == nil {
		res.Chained = chained
	}
	if err := writeExecutable(path, []byte(Script(bin, res.Chained != ""))); err != nil {
		return nil, err
	}
	return res, nil
}

// readHook reads a hook file (following a symbolic link). A dangling link
// reads as empty foreign content, so it is not mistaken for "no hook".
func readHook(path string) ([]byte, error) {
	if _, err := os.Lstat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("read hook: %w", err)
	}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return []byte{}, nil // a dangling symbolic link: someone's hook
	case err != nil:
		return nil, fmt.Errorf("read hook: %w", err)
	}
	return b, nil
}

// Uninstalled says what Uninstall did.
type Uninstalled struct {
	Path string
	// Removed is true when a leakstop hook was removed.
	Removed bool
	// Restored is true when a chained hook was put back in its place.
	Restored bool
}

// Uninstall removes the leakstop pre-commit hook and puts back a hook it
// chained to. It refuses to remove a hook leakstop did not write. No hook
// at all is not an error.
func Uninstall(ctx context.Context, dir string) (*Uninstalled, error) {
	repo, err := FindRepo(ctx, dir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(repo.HooksDir, HookName)
	chained := filepath.Join(repo.HooksDir, ChainedName)
	res := &Uninstalled{Path: path}
	cur, err := readHook(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	case !IsLeakstopHook(cur):
		return nil, &ForeignHookError{Path: path}
	default:
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("uninstall hook: %w", err)
		}
		res.Removed = true
	}
	if _, err := os.Lstat(chained); err == nil {
		if err := os.Rename(chained, path); err != nil {
			return nil, fmt.Errorf("uninstall hook: restore %s: %w", chained, err)
		}
		res.Restored = true
	}
	return res, nil
}

// writeExecutable writes data to path atomically with mode 0755.
func writeExecutable(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".leakstop-hook-*")
	if err != nil {
		return fmt.Errorf("write hook: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o755)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write hook %s: %w", path, err)
	}
	return nil
}

// Script is the hook's text. binary is recorded as is (it should be
// absolute); chained adds the call to ChainedName before the scan.
func Script(binary string, chained bool) string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	b.WriteString(marker + " " + scriptVersion + ": written by 'leakstop hook install'; remove it with 'leakstop hook uninstall'.\n")
	b.WriteString("# Blocks a commit that stages a Twilio credential. It scans only what is\n")
	b.WriteString("# staged, offline. To skip it once, deliberately: git commit --no-verify\n")
	if chained {
		b.WriteString("\n# The hook that was here before leakstop's runs first.\n")
		b.WriteString("chained=\"$(dirname -- \"$0\")/" + ChainedName + "\"\n")
		b.WriteString("if [ -x \"$chained\" ]; then\n\t\"$chained\" \"$@\" || exit $?\nfi\n")
	}
	b.WriteString("\nleakstop=" + shellQuote(binary) + "\n")
	b.WriteString("if [ ! -x \"$leakstop\" ]; then\n")
	b.WriteString("\tleakstop=$(command -v leakstop 2>/dev/null) || leakstop=\n")
	b.WriteString("fi\n")
	b.WriteString("if [ -z \"$leakstop\" ]; then\n")
	b.WriteString("\techo \"leakstop: error: commit blocked: the leakstop binary is missing (not at \"" + shellQuote(binary) + "\", not on PATH).\" >&2\n")
	b.WriteString("\techo \"leakstop: hint: install it and run 'leakstop hook install' again, or 'leakstop hook uninstall' to remove this hook.\" >&2\n")
	b.WriteString("\texit 2\n")
	b.WriteString("fi\n")
	b.WriteString("exec \"$leakstop\" hook run\n")
	return b.String()
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Executable returns the path of the running leakstop binary to record in
// the hook: the name it was started by (found on PATH) when that is the
// same file, so that an upgrade in place keeps working, else the
// executable's own path.
func Executable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the leakstop binary: %w", err)
	}
	arg0 := os.Args[0]
	var cand string
	if strings.ContainsRune(arg0, filepath.Separator) {
		cand, _ = filepath.Abs(arg0)
	} else if p, err := exec.LookPath(arg0); err == nil {
		cand, _ = filepath.Abs(p)
	}
	if cand != "" {
		a, err1 := os.Stat(cand)
		b, err2 := os.Stat(exe)
		if err1 == nil && err2 == nil && os.SameFile(a, b) {
			return cand, nil
		}
	}
	return exe, nil
}

// Temporary reports whether a binary path looks like one that will not
// last (built by "go run" or "go test").
func Temporary(path string) bool {
	return strings.Contains(filepath.ToSlash(path), "/go-build")
}
