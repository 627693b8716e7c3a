package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

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
  run        what the hook runs: scan what is staged and block the commit
             on a finding (exit 1) or an error (exit 2)

The hook scans only what is staged, offline, with the embedded rules plus
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
// the commit: findings exit 1, anything else 2.
func runHookRun(ctx context.Context, s *stdio, args []string) error {
	fs := newFlagSet("hook run", "hook run [flags]\n\nScans what is staged for the next commit; exit 1 blocks the commit on findings, 2 on errors.", s.out)
	rulesExtend := fs.String("rules-extend", "", "rules `FILE` added to the defaults (default: "+policy.RulesFile+" at the top of the work tree, if any)")
	ignoreFile := fs.String("ignore-file", "", "fingerprints to ignore (default: "+report.IgnoreFileName+" at the top of the work tree)")
	maxSize := fs.Int64("max-file-size", scanner.DefaultMaxFileSize, "skip staged files larger than this many `BYTES`")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &usageError{msg: "hook run takes no arguments"}
	}
	err = hookRun(ctx, s, *rulesExtend, *ignoreFile, *maxSize)
	if err != nil && !errors.Is(err, errFindings) {
		return fmt.Errorf("commit blocked: %w (fix it and commit again; to skip this check once, deliberately: git commit --no-verify)", err)
	}
	return err
}

func hookRun(ctx context.Context, s *stdio, rulesExtend, ignoreFile string, maxSize int64) error {
	repo, err := hook.FindRepo(ctx, ".")
	if err != nil {
		return err
	}
	idx, err := hook.IndexFile(os.Getenv("GIT_INDEX_FILE"))
	if err != nil {
		return err
	}
	res, err := pipeline.Run(ctx, pipeline.Options{
		Source:      pipeline.Source{Kind: pipeline.SourceGit, Path: repo.Top, Git: scanner.GitOptions{Staged: true, IndexFile: idx}},
		Policy:      policy.Options{Dir: repo.Top, RulesExtend: rulesExtend, IgnoreFile: ignoreFile},
		MaxFileSize: maxSize,
		Warn:        func(msg string) { s.warnf("%s", msg) },
		Trace:       s.gitTrace(),
	})
	if err != nil {
		return err
	}
	// Twilio test credentials are notes: they do not block a commit.
	failing := res.Failing(false)
	if len(failing) == 0 {
		return nil
	}
	if err := hook.WriteBlocked(s.err, failing); err != nil {
		return err
	}
	return errFindings
}
