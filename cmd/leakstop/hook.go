package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/leakstop/leakstop/gitdb"
	"github.com/leakstop/leakstop/hook"
	"github.com/leakstop/leakstop/pipeline"
	"github.com/leakstop/leakstop/policy"
	"github.com/leakstop/leakstop/report"
	"github.com/leakstop/leakstop/scanner"
)

const hookUsage = `hook install|uninstall|run [flags]

  install    write the git pre-commit hook (core.hooksPath and worktrees
             are honoured); it runs this binary, or leakstop on PATH
  uninstall  remove it, restoring a hook it chained to
  run        what the hook runs: scan what is staged (or the FILEs, or the
             range, the pre-commit framework passes) and block the commit
             or push on a finding (exit 1) or an error (exit 2)

The hook scans offline, with the embedded rules plus
` + policy.RulesFile + ` at the top of the work tree when there is one, and
honours ` + report.IgnoreFileName + ` and leakstop:allow.`

func runHook(ctx context.Context, s *stdio, args []string) error {
	if len(args) == 0 {
		return &usageError{msg: "usage: leakstop " + firstLineOf(hookUsage)}
	}
	switch args[0] {
	case "install":
		return runHookInstall(ctx, s, args[1:])
	case "uninstall":
		return runHookUninstall(ctx, s, args[1:])
	case "run":
		return runHookRun(ctx, s, args[1:])
	case "-h", "--help", "help":
		fs := newFlagSet("hook", hookUsage, s.out)
		fs.Usage()
		return errHelp
	}
	return &usageError{msg: fmt.Sprintf("unknown hook command %q (want install, uninstall or run)", args[0])}
}

func firstLineOf(s string) string {
	for i := range len(s) {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}

func runHookInstall(ctx context.Context, s *stdio, args []string) error {
	fs := newFlagSet("hook install", "hook install [flags]\n\nWrites the pre-commit hook of the repository that --repo is in.", s.out)
	var o hook.Options
	fs.StringVar(&o.Dir, "repo", ".", "a `DIR`ectory inside the repository")
	fs.StringVar(&o.Binary, "binary", "", "leakstop binary the hook runs (default: this one)")
	fs.BoolVar(&o.Force, "force", false, "replace a pre-commit hook leakstop did not write (a copy is kept)")
	fs.BoolVar(&o.Chain, "chain", false, "keep an existing pre-commit hook and run it before leakstop")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &usageError{msg: "hook install takes no arguments"}
	}
	res, err := hook.Install(ctx, o)
	var fe *hook.ForeignHookError
	if errors.As(err, &fe) {
		return fmt.Errorf("%w: pass --chain to keep it and run it before leakstop, or --force to replace it (keeping a copy as %s)", err, hook.BackupName)
	}
	if err != nil {
		return err
	}
	verb := "installed"
	if res.Updated {
		verb = "updated"
	}
	fmt.Fprintf(s.out, "leakstop: %s the pre-commit hook at %s\n", verb, res.Path)
	fmt.Fprintf(s.out, "leakstop: it runs %s (or leakstop on PATH if that is gone)\n", res.Binary)
	if res.Chained != "" {
		fmt.Fprintf(s.out, "leakstop: it first runs the earlier hook, now at %s\n", res.Chained)
	}
	if res.Backup != "" {
		fmt.Fprintf(s.out, "leakstop: the hook it replaced is kept at %s\n", res.Backup)
	}
	if hook.Temporary(res.Binary) {
		s.warnf("%s looks like a temporary build (go run?): the hook will use leakstop on PATH; --binary records another", res.Binary)
	}
	return nil
}

func runHookUninstall(ctx context.Context, s *stdio, args []string) error {
	fs := newFlagSet("hook uninstall", "hook uninstall [flags]\n\nRemoves the pre-commit hook leakstop wrote, and puts back a hook it chained to.", s.out)
	dir := fs.String("repo", ".", "a `DIR`ectory inside the repository")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &usageError{msg: "hook uninstall takes no arguments"}
	}
	res, err := hook.Uninstall(ctx, *dir)
	var fe *hook.ForeignHookError
	if errors.As(err, &fe) {
		return fmt.Errorf("%w: leaving it alone", err)
	}
	if err != nil {
		return err
	}
	switch {
	case res.Removed && res.Restored:
		fmt.Fprintf(s.out, "leakstop: removed the pre-commit hook and restored the hook it chained to at %s\n", res.Path)
	case res.Removed:
		fmt.Fprintf(s.out, "leakstop: removed the pre-commit hook at %s\n", res.Path)
	case res.Restored:
		fmt.Fprintf(s.out, "leakstop: restored the chained hook at %s\n", res.Path)
	default:
		fmt.Fprintf(s.out, "leakstop: no pre-commit hook at %s\n", res.Path)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(res.Path), hook.BackupName)); err == nil && !res.Restored {
		s.hintf("a hook replaced by 'install --force' is kept at %s", filepath.Join(filepath.Dir(res.Path), hook.BackupName))
	}
	return nil
}

// runHookRun is what the pre-commit hook executes. Every failure blocks
// the commit or push: findings exit 1, anything else 2.
func runHookRun(ctx context.Context, s *stdio, args []string) error {
	fs := newFlagSet("hook run", hookRunUsage, s.out)
	rulesExtend := fs.String("rules-extend", "", "rules `FILE` added to the defaults (default: "+policy.RulesFile+" at the top of the work tree, if any)")
	ignoreFile := fs.String("ignore-file", "", "fingerprints to ignore (default: "+report.IgnoreFileName+" at the top of the work tree)")
	maxSize := fs.Int64("max-file-size", scanner.DefaultMaxFileSize, "skip files larger than this many `BYTES`")
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	env := hookEnvFrom(os.Getenv)
	sc, err := hookRun(ctx, s, env, files, *rulesExtend, *ignoreFile, *maxSize)
	if err != nil && !errors.Is(err, errFindings) {
		if skip := sc.Skip(); skip != "" {
			return fmt.Errorf("%s: %w (fix it and try again; to skip this check once, deliberately: %s)", sc.Blocked(), err, skip)
		}
		return fmt.Errorf("%s: %w", sc.Blocked(), err)
	}
	return err
}

const hookRunUsage = `hook run [flags] [FILE...]

What the git hook runs; exit 1 blocks the commit or push on findings, 2 on
errors. It scans, in this order of precedence:

  - PRE_COMMIT_FROM_REF..PRE_COMMIT_TO_REF when both are set (the pre-commit
    framework's pre-push stage, and pre-commit run --from-ref A --to-ref B):
    the commits of the range, as committed
  - at the pre-push stage without a range (the remote has none of the
    history): the history of PRE_COMMIT_LOCAL_BRANCH
  - the FILEs, when given (pre-commit run --files, --all-files, and the
    staged files of a commit): their content in the work tree, which on a
    commit is what is staged (the framework stashes unstaged changes)
  - else the staged index (GIT_INDEX_FILE when git sets it): what the
    next commit adds; this is what 'leakstop hook install' runs`

// hookEnv is what the pre-commit framework tells a hook in its environment.
type hookEnv struct {
	indexFile                 string // GIT_INDEX_FILE
	fromRef, toRef            string // PRE_COMMIT_FROM_REF, PRE_COMMIT_TO_REF
	localBranch, remoteBranch string // PRE_COMMIT_LOCAL_BRANCH, PRE_COMMIT_REMOTE_BRANCH (pre-push)
	remoteName                string // PRE_COMMIT_REMOTE_NAME
	checkoutType              string // PRE_COMMIT_CHECKOUT_TYPE (post-checkout)
}

func hookEnvFrom(getenv func(string) string) hookEnv {
	from, to := getenv("PRE_COMMIT_FROM_REF"), getenv("PRE_COMMIT_TO_REF")
	if from == "" && to == "" {
		// The names pre-commit used before 2.x, still set beside the new ones.
		from, to = getenv("PRE_COMMIT_ORIGIN"), getenv("PRE_COMMIT_SOURCE")
	}
	return hookEnv{
		indexFile: getenv("GIT_INDEX_FILE"),
		fromRef:   from, toRef: to,
		localBranch: getenv("PRE_COMMIT_LOCAL_BRANCH"), remoteBranch: getenv("PRE_COMMIT_REMOTE_BRANCH"),
		remoteName:   getenv("PRE_COMMIT_REMOTE_NAME"),
		checkoutType: getenv("PRE_COMMIT_CHECKOUT_TYPE"),
	}
}

// hookSource picks what a hook run scans (see hookRunUsage), or says why
// there is nothing to scan.
func hookSource(top string, env hookEnv, files []string) (pipeline.Source, hook.Scope, string, error) {
	push := env.localBranch != "" || env.remoteBranch != ""
	switch {
	case env.checkoutType != "":
		// post-checkout: the refs are the HEADs before and after; a
		// checkout adds no commit, and the hook cannot undo it.
		return pipeline.Source{}, hook.Scope{Kind: hook.ScopeFiles}, "post-checkout adds nothing to check (a checkout brings no new commits)", nil
	case (env.fromRef == "") != (env.toRef == ""):
		return pipeline.Source{}, hook.Scope{}, "", &usageError{msg: "PRE_COMMIT_FROM_REF and PRE_COMMIT_TO_REF must be set together"}
	case env.fromRef != "":
		r := gitdb.BaseHead(env.fromRef, env.toRef)
		sc := hook.Scope{Kind: hook.ScopeRange, Range: r.String()}
		if push {
			sc = hook.Scope{Kind: hook.ScopePush, Range: r.String(), Ref: env.localBranch, Remote: env.remoteBranch}
		}
		return pipeline.Source{Kind: pipeline.SourceGit, Path: top, Git: scanner.GitOptions{Revs: r}}, sc, "", nil
	case push && env.localBranch != "":
		// pre-commit pushes with --all-files and no range when the remote
		// has no commit of the history: scan that history as committed,
		// not the work tree.
		return pipeline.Source{Kind: pipeline.SourceGit, Path: top, Git: scanner.GitOptions{Branch: env.localBranch}},
			hook.Scope{Kind: hook.ScopePush, Ref: env.localBranch, Remote: env.remoteBranch}, "", nil
	case push:
		return pipeline.Source{}, hook.Scope{Kind: hook.ScopePush}, "", errors.New("pre-push without PRE_COMMIT_LOCAL_BRANCH or a range: cannot tell what is pushed")
	case len(files) > 0:
		// Git sets GIT_INDEX_FILE for its pre-commit hook: the files are
		// those staged, and the framework stashed what is not, so the
		// work tree holds what is being committed.
		sc := hook.Scope{Kind: hook.ScopeFiles}
		if env.indexFile != "" {
			sc.Kind = hook.ScopeStaged
		}
		return pipeline.Source{Kind: pipeline.SourcePaths, Path: top, Paths: files}, sc, "", nil
	}
	idx, err := hook.IndexFile(env.indexFile)
	if err != nil {
		return pipeline.Source{}, hook.Scope{}, "", err
	}
	return pipeline.Source{Kind: pipeline.SourceGit, Path: top, Git: scanner.GitOptions{Staged: true, IndexFile: idx}}, hook.Scope{Kind: hook.ScopeStaged}, "", nil
}

func hookRun(ctx context.Context, s *stdio, env hookEnv, files []string, rulesExtend, ignoreFile string, maxSize int64) (hook.Scope, error) {
	repo, err := hook.FindRepo(ctx, ".")
	if err != nil {
		return hook.Scope{}, err
	}
	files, err = filesFromTop(repo.Top, files)
	if err != nil {
		return hook.Scope{}, err
	}
	src, sc, nothing, err := hookSource(repo.Top, env, files)
	if err != nil {
		return sc, err
	}
	if nothing != "" {
		fmt.Fprintf(s.err, "leakstop: %s\n", nothing)
		return sc, nil
	}
	if len(files) > 0 && src.Kind != pipeline.SourcePaths {
		// The framework passes the names of the files the range changed;
		// the commits are what is scanned.
		fmt.Fprintf(s.err, "leakstop: scanning %s as committed; the %d file name(s) passed are not read\n", scopeName(sc), len(files))
	}
	res, err := pipeline.Run(ctx, pipeline.Options{
		Source:      src,
		Policy:      policy.Options{Dir: repo.Top, RulesExtend: rulesExtend, IgnoreFile: ignoreFile},
		MaxFileSize: maxSize,
		Warn:        func(msg string) { s.warnf("%s", msg) },
		Trace:       s.gitTrace(),
	})
	if err != nil {
		return sc, err
	}
	// Twilio test credentials are notes: they do not block.
	failing := res.Failing(false)
	if len(failing) == 0 {
		return sc, nil
	}
	if err := hook.WriteBlockedScope(s.err, sc, failing); err != nil {
		return sc, err
	}
	return sc, errFindings
}

// filesFromTop names files given relative to the working directory (the
// top of the work tree when pre-commit runs the hook, anywhere when run by
// hand) relative to top, as findings name them.
func filesFromTop(top string, files []string) ([]string, error) {
	out := make([]string, 0, len(files))
	for _, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, fmt.Errorf("hook run %s: %w", f, err)
		}
		rel, err := filepath.Rel(top, abs)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			rel = abs // outside the work tree (or top is spelled otherwise): read it where it is
		}
		out = append(out, rel)
	}
	return out, nil
}

func scopeName(sc hook.Scope) string {
	if sc.Range != "" {
		return "the commits " + sc.Range
	}
	return "the history of " + sc.Ref
}
